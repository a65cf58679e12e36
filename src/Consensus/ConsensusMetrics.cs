using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RaftDlm.Consensus;

/// <summary>
/// Instruments of the "RaftDlm.Consensus" meter; every measurement is tagged with the node id. The host
/// exports this meter as it is: nothing here is counted a second time elsewhere.
/// </summary>
internal sealed class ConsensusMetrics : IDisposable
{
    public const string MeterName = "RaftDlm.Consensus";

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?> _nodeTag;
    private readonly Histogram<double> _commitLatencySeconds;
    private readonly Counter<long> _proposals;
    private readonly Counter<long> _leaderChanges;
    private readonly Counter<long> _entriesApplied;
    private readonly Counter<long> _snapshotsTaken;
    private readonly Counter<long> _snapshotsRestored;
    private readonly Histogram<double> _logSyncSeconds;
    private readonly Histogram<long> _logSyncEntries;
    private readonly Histogram<long> _proposalsPerEntry;
    private readonly Counter<long> _leaderSyncFallbacks;

    public ConsensusMetrics(RaftNode node, string nodeId)
    {
        _meter = new Meter(MeterName);
        _nodeTag = new("raftdlm.node", nodeId);
        _commitLatencySeconds = _meter.CreateHistogram<double>("raftdlm.consensus.commit_latency", "s",
            "Time from proposal to commit and local apply on the leader, for successful proposals.");
        _proposals = _meter.CreateCounter<long>("raftdlm.consensus.proposals", "{proposal}",
            "Proposals by outcome: ok, not_leader, unknown, canceled.");
        _leaderChanges = _meter.CreateCounter<long>("raftdlm.consensus.leader_changes", "{change}",
            "Changes of the leader as seen by this node (including losing the leader).");
        _entriesApplied = _meter.CreateCounter<long>("raftdlm.consensus.entries_applied", "{entry}",
            "Commands handed to the replicated state machine.");
        _snapshotsTaken = _meter.CreateCounter<long>("raftdlm.consensus.snapshots_taken", "{snapshot}");
        _snapshotsRestored = _meter.CreateCounter<long>("raftdlm.consensus.snapshots_restored", "{snapshot}",
            "Snapshots restored at startup or installed from the leader.");
        _logSyncSeconds = _meter.CreateHistogram<double>("raftdlm.log.sync_duration", "s",
            "Duration of one data sync of the segmented log (LogEngine=Segmented); its count is the number of syncs.");
        _logSyncEntries = _meter.CreateHistogram<long>("raftdlm.log.entries_per_sync", "{entry}",
            "Entries one data sync of the segmented log made durable: the size of a group commit.");
        _proposalsPerEntry = _meter.CreateHistogram<long>("raftdlm.consensus.proposals_per_entry", "{proposal}",
            "Proposals the leader packed into one log entry (ProposalBatching).");
        _leaderSyncFallbacks = _meter.CreateCounter<long>("raftdlm.log.leader_sync_fallbacks", "{fallback}",
            "Times a commit waited longer than the lazy-sync wait for the followers' copies, so that the leader synced its own log and every append for a while (LazyLeaderSync).");
        var nodeTag = _nodeTag;
        _meter.CreateObservableGauge("raftdlm.consensus.is_leader", () => new Measurement<int>(node.IsLeader ? 1 : 0, nodeTag),
            description: "1 while this node is the leader.");
        _meter.CreateObservableGauge("raftdlm.consensus.term", () => new Measurement<long>(node.Term, nodeTag),
            description: "The current Raft term.");
        _meter.CreateObservableGauge("raftdlm.consensus.commit_index", () => new Measurement<long>(node.CommitIndex, nodeTag),
            description: "The Raft commit index as known here.");
        _meter.CreateObservableGauge("raftdlm.consensus.applied_log_index", () => new Measurement<long>(node.LastAppliedLogIndex, nodeTag),
            description: "The last log index applied here, consensus' own entries included.");
        _meter.CreateObservableGauge("raftdlm.consensus.snapshot_index", () => new Measurement<long>(node.LastSnapshotIndex, nodeTag),
            description: "The index of the newest snapshot taken or installed here.");
    }

    public void ProposalCommitted(TimeSpan elapsed)
    {
        _commitLatencySeconds.Record(elapsed.TotalSeconds, _nodeTag);
        Proposal("ok");
    }

    public void Proposal(string outcome)
    {
        var tags = new TagList { _nodeTag, { "outcome", outcome } };
        _proposals.Add(1, tags);
    }

    public void EntryProposed(int proposals) => _proposalsPerEntry.Record(proposals, _nodeTag);

    public void LeaderChanged() => _leaderChanges.Add(1, _nodeTag);

    public void EntryApplied() => _entriesApplied.Add(1, _nodeTag);

    public void SnapshotTaken() => _snapshotsTaken.Add(1, _nodeTag);

    public void SnapshotRestored() => _snapshotsRestored.Add(1, _nodeTag);

    public void LeaderSyncedForLaggingFollowers() => _leaderSyncFallbacks.Add(1, _nodeTag);

    public void LogSynced(long entries, TimeSpan elapsed)
    {
        _logSyncSeconds.Record(elapsed.TotalSeconds, _nodeTag);
        _logSyncEntries.Record(entries, _nodeTag);
    }

    public void Dispose() => _meter.Dispose();
}
