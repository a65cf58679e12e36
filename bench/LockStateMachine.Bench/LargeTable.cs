using System.Diagnostics;
using System.Globalization;

namespace RaftDlm.LockStateMachine.Bench;

/// <summary>
/// Builds a table of N granted locks across N/10 sessions (10 locks each) and measures the retained heap
/// per lock, then snapshot write, restore and state-hash times. Two layouts: ten CR locks on each
/// resource (shared resources, as a cluster filesystem's readers make), and one EX lock per resource.
/// </summary>
internal static class LargeTable
{
    public static void Run(int lockCount)
    {
        Console.WriteLine($"locks: {lockCount:N0}, sessions: {lockCount / 10:N0}, .NET {Environment.Version}, {Environment.ProcessorCount} cores");
        Measure("10 CR locks per resource", lockCount, locksPerResource: 10, LockMode.CR);
        Measure("1 EX lock per resource", lockCount, locksPerResource: 1, LockMode.EX);
    }

    private static void Measure(string layout, int lockCount, int locksPerResource, LockMode mode)
    {
        var before = RetainedBytes();
        var machine = new LockMachine(new LockLimits { MaxSessions = 1_000_000, MaxResourcesPerLockspace = 2_000_000 });
        long index = 0;
        machine.Apply(new LogEntry(++index, 1, new CreateLockspace("bench", 32, 0)));
        var sessionCount = lockCount / 10;
        var sessions = new long[sessionCount];
        for (var i = 0; i < sessionCount; i++)
        {
            sessions[i] = ((SessionResult)machine.Apply(new LogEntry(++index, 1, new OpenSession("s" + i, 60_000)))).SessionId;
        }
        var build = Stopwatch.StartNew();
        for (var i = 0; i < lockCount; i++)
        {
            // Lock i goes to session i % sessions, resource i / locksPerResource: the locks of one
            // resource belong to different sessions.
            var command = new RequestLock(sessions[i % sessionCount], 0, "bench", "resource-" + (i / locksPerResource), mode, 0, LockFlags.None);
            if (machine.Apply(new LogEntry(++index, 1, command)) is not LockResult { Lock.State: LockViewState.Granted })
            {
                throw new InvalidOperationException($"lock {i} was not granted");
            }
        }
        build.Stop();
        var after = RetainedBytes();
        GC.KeepAlive(machine);

        var write = Stopwatch.StartNew();
        var snapshot = machine.WriteSnapshot();
        write.Stop();
        var restore = Stopwatch.StartNew();
        var restored = LockMachine.Restore(snapshot);
        restore.Stop();
        var hash = Stopwatch.StartNew();
        var same = restored.StateHash() == machine.StateHash();
        hash.Stop();

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{layout}: {(after - before) / (double)lockCount:F0} bytes per granted lock (sessions and resources included); " +
            $"build {lockCount / build.Elapsed.TotalSeconds:N0} grants/s; snapshot {snapshot.Length / 1048576.0:F1} MiB " +
            $"written in {write.Elapsed.TotalSeconds:F2} s, restored in {restore.Elapsed.TotalSeconds:F2} s; " +
            $"two state hashes in {hash.Elapsed.TotalSeconds:F2} s, equal: {same}"));
    }

    private static long RetainedBytes()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
