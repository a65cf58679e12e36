using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// A follower's acknowledgement counts towards a commit, so what it acknowledged must survive its crash
/// (bug B1: after every node was killed at once, committed entries were lost and a replica diverged).
/// </summary>
public sealed class DurableWriteAheadLogTests : IDisposable
{
    private readonly string root = Path.Combine(Path.GetTempPath(), "raftdlm-wal-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    [Fact]
    public async Task Entries_appended_for_a_leader_survive_a_crash_before_the_follower_learns_they_are_committed()
    {
        var live = Path.Combine(root, "live");
        var crashed = Path.Combine(root, "crashed");
        await using var follower = new DurableWriteAheadLog(new WriteAheadLog.Options { Location = live }, IStateMachine.CreateNoOp());
        await follower.InitializeAsync();
        var entries = Enumerable.Range(1, 5)
            .Select(i => new BinaryLogEntry { Term = 1, Content = new byte[] { (byte)i, 0xAB } })
            .ToList();

        // What DotNext's follower path does with an AppendEntries request: append, then commit to the leader's index (0 here).
        await ((IAuditTrail<IRaftLogEntry>)follower).AppendAsync(new LogEntryProducer<BinaryLogEntry>(entries), 1, skipCommitted: true);
        await follower.CommitAsync(0);

        // The crash: the files exactly as they are now, without the flush a clean shutdown makes.
        CopyDirectory(live, crashed);
        await using var recovered = new WriteAheadLog(new WriteAheadLog.Options { Location = crashed }, IStateMachine.CreateNoOp());
        await recovered.InitializeAsync();

        Assert.Equal(5, recovered.LastEntryIndex);
        Assert.Equal(0, recovered.LastCommittedEntryIndex);
        var terms = await recovered.ReadAsync(new TermsReader(), 1, 5);
        Assert.Equal([1L, 1L, 1L, 1L, 1L], terms);
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var directory in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, directory)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            using var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var target = File.Create(Path.Combine(to, Path.GetRelativePath(from, file)));
            source.CopyTo(target);
        }
    }

    private sealed class TermsReader : ILogEntryConsumer<IRaftLogEntry, long[]>
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
