using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftDlm.Consensus;

/// <summary>
/// DotNext's <see cref="WriteAheadLog"/>, except that entries a follower appends for its leader are on disk,
/// and named in the WAL's checkpoint, before the follower answers.
/// </summary>
/// <remarks>
/// DotNext's follower path appends the leader's entries and then commits up to the leader's commit index;
/// only a commit waits for the flush. Entries above the follower's commit index were acknowledged while still
/// unflushed, and a restarted WAL recovers only what its checkpoint names. When every node crashed at once,
/// a node holding a committed entry could then lose an election to two nodes that had both "forgotten" it,
/// and the new leader overwrote an entry some replica had already applied (bug B1 in tests/Jepsen-style/README.md).
/// Raft counts a follower's acknowledgement towards a commit only if the entry survives the follower's crash,
/// so the follower's append now waits for the flush. The leader's own entries need nothing more: DotNext
/// flushes them before its commit index moves.
/// This class re-implements <see cref="IAuditTrail{TEntryImpl}"/> to replace that one method; every other
/// member maps to the base class.
/// </remarks>
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options options, IStateMachine stateMachine)
    : WriteAheadLog(options, stateMachine), IAuditTrail<IRaftLogEntry>
{
    /// <summary>Appends the leader's entries, then waits until they and the checkpoint that names them are on disk.</summary>
    public new async ValueTask AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted = false,
        CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        await base.AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        await FlushAsync(token).ConfigureAwait(false);
    }
}
