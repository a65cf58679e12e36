using BenchmarkDotNet.Attributes;

namespace RaftDlm.LockStateMachine.Bench;

/// <summary>
/// Applies per second on one core. Each benchmark invocation applies <see cref="Batch"/> entries, so the
/// reported time per operation divided by <see cref="Batch"/> is the time per applied entry.
/// Runs in process: the assembly name (RaftDlm.*) differs from the project file's, which BenchmarkDotNet's
/// out-of-process build cannot follow.
/// </summary>
[MemoryDiagnoser]
[InProcess]
public class ApplyBenchmarks
{
    public const int Batch = 1_000;
    private const string Space = "bench";
    private LockMachine _machine = null!;
    private long _index;
    private long[] _sessions = null!;
    private RequestLock[] _requests = null!;

    [GlobalSetup]
    public void Setup()
    {
        _machine = new LockMachine();
        _index = 0;
        Apply(new CreateLockspace(Space, 32, 0));
        _sessions = new long[64];
        for (var i = 0; i < _sessions.Length; i++) _sessions[i] = ((SessionResult)Apply(new OpenSession("s" + i, 60_000))).SessionId;
        _requests = new RequestLock[Batch];
        for (var i = 0; i < Batch; i++) _requests[i] = new RequestLock(_sessions[i % _sessions.Length], 0, Space, "resource-" + i, LockMode.EX, 0, LockFlags.None);
    }

    private Result Apply(Command command) => _machine.Apply(new LogEntry(++_index, 1_000, command));

    /// <summary>Uncontended: grant then release, each on its own resource (2 entries per pair).</summary>
    [Benchmark(OperationsPerInvoke = 2 * Batch)]
    public void GrantRelease()
    {
        for (var i = 0; i < Batch; i++)
        {
            var granted = (LockResult)Apply(_requests[i]);
            Apply(new Unlock(0, 0, Space, granted.Lock.LockId, null, LockFlags.None, false));
        }
    }

    /// <summary>Queued hand-off: one holder, one waiter; each release grants the waiter (2 entries per hand-off).</summary>
    [Benchmark(OperationsPerInvoke = 2 * Batch)]
    public void QueuedHandOff()
    {
        var holder = ((LockResult)Apply(new RequestLock(_sessions[0], 0, Space, "hot", LockMode.EX, 0, LockFlags.None))).Lock.LockId;
        for (var i = 0; i < Batch; i++)
        {
            var waiter = ((LockResult)Apply(new RequestLock(_sessions[1 + (i % 63)], 0, Space, "hot", LockMode.EX, 0, LockFlags.None))).Lock.LockId;
            Apply(new Unlock(0, 0, Space, holder, null, LockFlags.None, false));
            holder = waiter;
        }
        Apply(new Unlock(0, 0, Space, holder, null, LockFlags.None, false));
    }

    /// <summary>Conversion up and down on a held lock, writing the LVB on the way down (2 entries per cycle).</summary>
    [Benchmark(OperationsPerInvoke = 2 * Batch)]
    public void Conversion()
    {
        var lockId = ((LockResult)Apply(new RequestLock(_sessions[0], 0, Space, "converted", LockMode.NL, 0, LockFlags.None))).Lock.LockId;
        var lvb = new byte[32];
        for (var i = 0; i < Batch; i++)
        {
            Apply(new ConvertLock(0, 0, Space, lockId, LockMode.EX, null, LockFlags.None));
            lvb[0] = (byte)i;
            Apply(new ConvertLock(0, 0, Space, lockId, LockMode.NL, lvb, LockFlags.None));
        }
        Apply(new Unlock(0, 0, Space, lockId, null, LockFlags.None, false));
    }
}
