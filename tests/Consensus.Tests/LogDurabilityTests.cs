using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// The follower side of the log as Raft's safety argument needs it: what a follower acknowledged survives its
/// crash (bug B1), an installed snapshot discards the log behind it, and a rewritten tail cannot come back from
/// a crash mixed with the old one (bug B2). A crash is a copy of the files taken while the log is still open.
/// Every log a node can run on passes them: DotNext's (<see cref="DurableWriteAheadLogTests"/>) and the
/// project's own (<see cref="SegmentedLogTests"/>).
/// </summary>
public abstract class LogDurabilityTests : IDisposable
{
    private protected string Root { get; } = Path.Combine(Path.GetTempPath(), "raftdlm-wal-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }

    [Fact]
    public async Task Entries_appended_for_a_leader_survive_a_crash_before_the_follower_learns_they_are_committed()
    {
        // The leader's commit index is 0 here: none of the five entries is known to be committed.
        var follower = await OpenFollowerAsync(entries: 5, commitIndex: 0);

        var recovered = await CrashAsync();

        Assert.Equal(5, recovered.LastEntryIndex);
        Assert.Equal(0, recovered.LastCommittedEntryIndex);
        var terms = await recovered.ReadAsync(new TermsReader(), 1, 5);
        Assert.Equal([1L, 1L, 1L, 1L, 1L], terms);
        await DisposeAsync(follower, recovered);
    }

    [Fact]
    public async Task A_snapshot_installed_over_a_longer_log_discards_the_entries_beyond_it_also_after_a_crash()
    {
        var follower = await OpenFollowerAsync(entries: 20, commitIndex: 5);

        // The leader's snapshot at index 10 (term 2): entries 11..20 followed this node's own 6..10, not the leader's.
        await ((IAuditTrail<IRaftLogEntry>)follower).AppendAsync(Snapshot(term: 2, index: 10), 10);

        Assert.Equal(10, follower.LastCommittedEntryIndex);
        Assert.Equal(10, follower.LastEntryIndex);
        // A heartbeat's commit index can no longer reach entries the leader never sent (refused, or cut to the log's end).
        try
        {
            await follower.CommitAsync(15);
        }
        catch (ArgumentOutOfRangeException)
        {
        }
        Assert.Equal(10, follower.LastCommittedEntryIndex);

        var recovered = await CrashAsync();
        Assert.Equal(10, recovered.LastEntryIndex);
        Assert.Equal(10, recovered.LastCommittedEntryIndex);
        await DisposeAsync(follower, recovered);
    }

    [Fact]
    public async Task A_lagging_follower_installs_a_snapshot_and_appends_after_it_durably()
    {
        var follower = await OpenFollowerAsync(entries: 5, commitIndex: 5);

        await ((IAuditTrail<IRaftLogEntry>)follower).AppendAsync(Snapshot(term: 2, index: 30), 30);
        await AppendAsync(follower, 31, term: 2, count: 3);

        var recovered = await CrashAsync();
        Assert.Equal(33, recovered.LastEntryIndex);
        var terms = await recovered.ReadAsync(new TermsReader(), 31, 33);
        Assert.Equal([2L, 2L, 2L], terms);
        await DisposeAsync(follower, recovered);
    }

    [Fact]
    public async Task A_crash_while_a_conflicting_tail_is_rewritten_recovers_the_cut_log_not_a_mixture()
    {
        var follower = await OpenFollowerAsync(entries: 20, commitIndex: 5);

        // A new leader's entries 11..13 (term 2) replace 11..20, and the node dies after writing the first one.
        var entries = new BinaryLogEntry[] { new() { Term = 2, Content = new byte[] { 1 } }, new() { Term = 2, Content = new byte[] { 2 } }, new() { Term = 2, Content = new byte[] { 3 } } };
        await Assert.ThrowsAsync<IOException>(() => ((IAuditTrail<IRaftLogEntry>)follower)
            .AppendAsync(new CrashingProducer(entries, crashAfter: 1), 11, skipCommitted: true).AsTask());

        // Either the old log untouched (nothing written before the failure), or the old entries up to the cut
        // and then at most the one new entry written (a flusher may have flushed it before the copy); never an
        // old entry after a new one.
        var recovered = await CrashAsync();
        var terms = await recovered.ReadAsync(new TermsReader(), 1, recovered.LastEntryIndex);
        var old = terms.TakeWhile(term => term == 1).Count();
        var fresh = terms.Length - old;
        Assert.All(terms.Skip(old), term => Assert.Equal(2L, term));
        Assert.True(fresh == 0 ? old is 10 or 20 : old == 10 && fresh == 1, $"{old} old entries, then {fresh} new");
        await DisposeAsync(follower, recovered);
    }

    /// <summary>Yields <paramref name="crashAfter"/> entries, then fails as a connection dropped mid-request would.</summary>
    private sealed class CrashingProducer(IReadOnlyList<BinaryLogEntry> entries, int crashAfter) : ILogEntryProducer<BinaryLogEntry>
    {
        private int _position = -1;

        public long RemainingCount => entries.Count - _position - 1;

        public BinaryLogEntry Current => entries[_position];

        public ValueTask<bool> MoveNextAsync() =>
            ++_position < crashAfter ? ValueTask.FromResult(true) : ValueTask.FromException<bool>(new IOException("connection lost"));

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>A follower ("live") holding entries 1..<paramref name="entries"/> of term 1, committed up to <paramref name="commitIndex"/>.</summary>
    private protected async Task<IRaftLog> OpenFollowerAsync(int entries, long commitIndex)
    {
        var follower = await OpenAsync("live");
        await AppendAsync(follower, 1, term: 1, count: entries);
        await follower.CommitAsync(commitIndex);
        return follower;
    }

    /// <summary>The crash: the live follower's files exactly as they are now (no flush a clean shutdown makes), opened as a restarted node.</summary>
    private protected async Task<IRaftLog> CrashAsync()
    {
        CopyDirectory(Path.Combine(Root, "live"), Path.Combine(Root, "crashed"));
        return await OpenAsync("crashed");
    }

    /// <summary>Opens (or reopens) the log of the data directory <paramref name="name"/> under <see cref="Root"/>, initialized.</summary>
    private protected abstract Task<IRaftLog> OpenAsync(string name);

    /// <summary>A snapshot as a leader sends it, covering entries up to <paramref name="index"/>.</summary>
    protected abstract IRaftLogEntry Snapshot(long term, long index);

    // What DotNext's follower path does with an AppendEntries request (commit index left where it is).
    private protected static async Task AppendAsync(IRaftLog log, long startIndex, long term, int count)
    {
        var entries = Enumerable.Range(0, count)
            .Select(i => new BinaryLogEntry { Term = term, Content = new byte[] { (byte)i } })
            .ToList();
        await ((IAuditTrail<IRaftLogEntry>)log).AppendAsync(new LogEntryProducer<BinaryLogEntry>(entries), startIndex, skipCommitted: true);
    }

    private protected static async Task DisposeAsync(params IRaftLog[] logs)
    {
        foreach (var log in logs)
        {
            await log.DisposeAsync();
        }
    }

    protected sealed record SnapshotEntry(long Term, byte[] Content) : IRaftLogEntry
    {
        bool ILogEntry.IsSnapshot => true;
        bool IDataTransferObject.IsReusable => true;
        long? IDataTransferObject.Length => Content.Length;
        ValueTask IDataTransferObject.WriteToAsync<TWriter>(TWriter writer, CancellationToken token) => writer.Invoke(Content, token);
    }

    protected static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        }
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var target = File.Create(Path.Combine(to, Path.GetRelativePath(from, file)));
            source.CopyTo(target);
        }
    }

    protected sealed class TermsReader : ILogEntryConsumer<IRaftLogEntry, long[]>
    {
        public async ValueTask<long[]> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry>
        {
            var terms = new long[entries.Count];
            for (var i = 0; i < entries.Count; i++)
            {
                terms[i] = entries[i].Term;
                await Task.CompletedTask;
            }
            return terms;
        }
    }
}

/// <summary>DotNext's write-ahead log with the project's follower-side fixes (traps 7–10).</summary>
public sealed class DurableWriteAheadLogTests : LogDurabilityTests
{
    private protected override async Task<IRaftLog> OpenAsync(string name)
    {
        var machine = new EmptyMachine(new DirectoryInfo(Path.Combine(Root, name, "snapshots")));
        await machine.RestoreAsync();
        var log = new DurableWriteAheadLog(new WriteAheadLog.Options { Location = Path.Combine(Root, name, "wal") }, machine);
        await log.InitializeAsync();
        return log;
    }

    protected override IRaftLogEntry Snapshot(long term, long index) => new SnapshotEntry(term, [1, 2, 3, 4]);

    /// <summary>A state machine that only keeps the snapshot files DotNext hands it.</summary>
    private sealed class EmptyMachine(DirectoryInfo location) : SimpleStateMachine(location)
    {
        protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token) => ValueTask.FromResult(false);
        protected override ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token) => ValueTask.CompletedTask;
        protected override ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token) => ValueTask.CompletedTask;
    }
}
