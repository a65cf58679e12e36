using System.Text;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// The project's own log: the follower-side durability tests every log passes (<see cref="LogDurabilityTests"/>),
/// and what it does that DotNext's did for it before: term and vote, the leader's commit waiting for its own sync,
/// applying, snapshots and compaction, and a restart that replays what was committed.
/// </summary>
public sealed class SegmentedLogTests : LogDurabilityTests
{
    private readonly Dictionary<string, TextMachine> _machines = [];

    private protected override async Task<IRaftLog> OpenAsync(string name) => await OpenAsync(name, snapshotEvery: 1_000_000);

    private async Task<SegmentedLog> OpenAsync(string name, long snapshotEvery)
    {
        var dataDirectory = Path.Combine(Root, name);
        var machine = _machines[name] = new TextMachine();
        var metrics = new ConsensusMetrics(null!, name);
        var adapter = new StateMachineAdapter(new DirectoryInfo(Path.Combine(dataDirectory, "snapshots")), machine, snapshotEvery,
            metrics, NullLogger.Instance);
        await adapter.RestoreAsync();
        var log = new SegmentedLog(dataDirectory, segmentBytes: 64 * 1024, adapter, metrics, NullLogger.Instance, RaftDlm.Consensus.Storage.OsStorageFiles.Instance);
        await log.InitializeAsync();
        return log;
    }

    protected override IRaftLogEntry Snapshot(long term, long index)
    {
        var machine = new TextMachine();
        machine.Apply(index, 0, 0, Encoding.UTF8.GetBytes($"snapshot-{index}"));
        using var content = new MemoryStream();
        var header = new byte[SnapshotFiles.HeaderSizeBytes];
        SnapshotFiles.WriteHeader(header, index, leaderTimeMs: 0);
        content.Write(header);
        machine.WriteSnapshot(content);
        return new SnapshotEntry(term, content.ToArray());
    }

    [Fact]
    public async Task An_install_is_answered_before_the_machine_restores_it_and_nothing_after_it_is_applied_before()
    {
        var follower = await OpenAsync("live");
        var machine = _machines["live"];
        machine.RestoreGate.Reset();

        // The request returns while the restore is held: a large table's restore does not hold the leader's request.
        var install = follower.AppendAsync(Snapshot(term: 2, index: 10), 10).AsTask();
        Assert.Same(install, await Task.WhenAny(install, Task.Delay(TimeSpan.FromSeconds(20))));
        await install;
        Assert.Equal(10, follower.LastCommittedEntryIndex);
        Assert.True(follower.LastAppliedIndex < 10, $"applied {follower.LastAppliedIndex} before the restore");
        await follower.AppendAsync(new LogEntryProducer<BinaryLogEntry>([Command(2, "after")]), 11);
        await follower.CommitAsync(11);
        Assert.DoesNotContain("after", machine.Applied);

        machine.RestoreGate.Set();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await follower.WaitForApplyAsync(11, timeout.Token);
        Assert.Equal(["snapshot-10", "after"], machine.Applied);
        await follower.DisposeAsync();
    }

    [Fact]
    public async Task Term_and_vote_survive_a_crash()
    {
        var log = await OpenAsync("live");
        var candidate = ClusterMemberId.FromEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 7001));
        var other = ClusterMemberId.FromEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 7002));
        await log.UpdateTermAsync(5, resetLastVote: true);
        await log.UpdateVotedForAsync(candidate);

        var recovered = await CrashAsync();
        Assert.Equal(5, recovered.Term);
        Assert.True(recovered.IsVotedFor(candidate));
        Assert.False(recovered.IsVotedFor(other));

        Assert.Equal(6, await recovered.IncrementTermAsync(other));
        Assert.True(recovered.IsVotedFor(other));
        await DisposeAsync(log, recovered);
    }

    [Fact]
    public async Task A_leaders_entries_are_applied_once_committed_and_a_restart_replays_them()
    {
        var log = await OpenAsync("live");
        for (var i = 1; i <= 5; i++)
        {
            Assert.Equal(i, await log.AppendAsync(Command(term: 1, $"c{i}")));
        }

        // The leader's commit waits for its own sync of the entries it covers.
        Assert.Equal(3, await log.CommitAsync(3));
        await log.WaitForApplyAsync(3);
        Assert.Equal(["c1", "c2", "c3"], _machines["live"].Applied);

        var recovered = (SegmentedLog)await CrashAsync();
        Assert.Equal(5, recovered.LastEntryIndex);
        Assert.Equal(3, recovered.LastCommittedEntryIndex);
        Assert.Equal(["c1", "c2", "c3"], _machines["crashed"].Applied);
        await DisposeAsync(log, recovered);
    }

    [Fact]
    public async Task A_snapshot_compacts_the_log_and_a_read_below_it_gets_the_snapshot()
    {
        var log = await OpenAsync("live", snapshotEvery: 10);
        for (var i = 1; i <= 25; i++)
        {
            await log.AppendAsync(Command(term: 2, $"c{i}"));
        }
        await log.CommitAsync(25);
        await log.WaitForApplyAsync(25);

        // The file is written off the applier.
        for (var waited = 0; log.SnapshotIndex < 20 && waited < 100; waited++)
        {
            await Task.Delay(50);
        }
        Assert.Equal(20, log.SnapshotIndex);
        var (snapshotIndex, terms) = await log.ReadAsync(new SnapshotAwareReader(), 3, 25);
        Assert.Equal(20, snapshotIndex);
        Assert.Equal([2L], terms);
        (snapshotIndex, terms) = await log.ReadAsync(new SnapshotAwareReader(), 21, 25);
        Assert.Null(snapshotIndex);
        Assert.Equal(5, terms.Length);

        await log.DisposeAsync();
        var reopened = await OpenAsync("live", snapshotEvery: 10);
        Assert.Equal(25, reopened.LastEntryIndex);
        Assert.Equal(25, reopened.LastAppliedIndex);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => $"c{i}"), _machines["live"].Applied);
        await reopened.DisposeAsync();
    }

    [Fact]
    public async Task A_conflicting_tail_is_replaced_and_what_was_committed_is_kept()
    {
        var follower = await OpenFollowerAsync(entries: 10, commitIndex: 4);

        // A new leader's 6..7 (term 3) replace 6..10; 1..5 are the same entries (term 1) and are kept.
        var entries = new[] { Command(1, "x"), Command(3, "y"), Command(3, "z") };
        await follower.AppendAsync(new LogEntryProducer<BinaryLogEntry>(entries), 5, skipCommitted: true);

        Assert.Equal(7, follower.LastEntryIndex);
        var recovered = await CrashAsync();
        var terms = await recovered.ReadAsync(new TermsReader(), 1, 7);
        Assert.Equal([1L, 1L, 1L, 1L, 1L, 3L, 3L], terms);
        await DisposeAsync(follower, recovered);
    }

    [Fact]
    public async Task A_long_read_answered_again_from_memory_never_outlives_a_cut_or_a_snapshot()
    {
        var follower = await OpenFollowerAsync(entries: 300, commitIndex: 4);

        // A member that lags asks for the same long range round after round; the second read is answered from memory.
        Assert.Equal(Enumerable.Repeat(1L, 201), await follower.ReadAsync(new TermsReader(), 100, 300));
        Assert.Equal(Enumerable.Repeat(1L, 201), await follower.ReadAsync(new TermsReader(), 100, 300));

        // A new leader's 150..151 (term 3) replace 150..300: a read of the range must see them, not the entries cut.
        await follower.AppendAsync(new LogEntryProducer<BinaryLogEntry>([Command(3, "a"), Command(3, "b")]), 150);
        Assert.Equal(Enumerable.Repeat(1L, 50).Concat([3L, 3L]), await follower.ReadAsync(new TermsReader(), 100, 151));

        // The leader's snapshot at 120 (term 4) replaces the whole log; what follows it is read from the new log.
        await follower.AppendAsync(new LogEntryProducer<BinaryLogEntry>([.. Enumerable.Range(0, 99).Select(i => Command(3, $"t{i}"))]), 152);
        Assert.Equal(Enumerable.Repeat(1L, 50).Concat(Enumerable.Repeat(3L, 101)), await follower.ReadAsync(new TermsReader(), 100, 250));
        await ((IAuditTrail<IRaftLogEntry>)follower).AppendAsync(Snapshot(term: 4, index: 120), 120);
        await follower.AppendAsync(new LogEntryProducer<BinaryLogEntry>([.. Enumerable.Range(0, 80).Select(i => Command(4, $"s{i}"))]), 121);
        Assert.Equal(Enumerable.Repeat(4L, 80), await follower.ReadAsync(new TermsReader(), 121, 200));
        await DisposeAsync(follower);
    }

    private static BinaryLogEntry Command(long term, string text) => new()
    {
        Term = term,
        Content = EntryEnvelope.Encode(new EnvelopeHeader(new ProposalId(1, 1), LeaderTimeMs: 0), Encoding.UTF8.GetBytes(text)),
    };

    private sealed class SnapshotAwareReader : ILogEntryConsumer<IRaftLogEntry, (long?, long[])>
    {
        public ValueTask<(long?, long[])> ReadAsync<TEntry, TList>(TList entries, long? snapshotIndex, CancellationToken token)
            where TEntry : IRaftLogEntry
            where TList : IReadOnlyList<TEntry>
            => ValueTask.FromResult((snapshotIndex, entries.Select(e => e.Term).ToArray()));
    }

    /// <summary>A machine that keeps the text of every command it applied, in order.</summary>
    private sealed class TextMachine : IReplicatedStateMachine
    {
        public List<string> Applied { get; } = [];

        public long LastAppliedIndex { get; private set; }

        /// <summary>While not set, a restore waits for it (at most 30 s).</summary>
        public ManualResetEventSlim RestoreGate { get; } = new(initialState: true);

        public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
        {
            Applied.Add(Encoding.UTF8.GetString(command));
            LastAppliedIndex = index;
            return null;
        }

        public void WriteSnapshot(Stream destination)
        {
            using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
            writer.Write(LastAppliedIndex);
            writer.Write(Applied.Count);
            Applied.ForEach(writer.Write);
        }

        public void RestoreSnapshot(Stream source)
        {
            RestoreGate.Wait(TimeSpan.FromSeconds(30));
            using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
            LastAppliedIndex = reader.ReadInt64();
            Applied.Clear();
            for (var count = reader.ReadInt32(); count > 0; count--)
            {
                Applied.Add(reader.ReadString());
            }
        }
    }
}
