using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RaftDlm.Consensus;

/// <summary>Instruments of the "RaftDlm.Consensus" meter; every measurement is tagged with the node id.</summary>
internal sealed class ConsensusMetrics : IDisposable
{
    public const string MeterName = "RaftDlm.Consensus";

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?> _nodeTag;
    private readonly Histogram<double> _commitLatencyMs;
    private readonly Counter<long> _proposals;
    private readonly Counter<long> _leaderChanges;
    private readonly Counter<long> _entriesApplied;
    private readonly Counter<long> _snapshotsTaken;
    private readonly Counter<long> _snapshotsRestored;

    public ConsensusMetrics(string nodeId)
    {
        _meter = new Meter(MeterName);
        _nodeTag = new("raftdlm.node", nodeId);
        _commitLatencyMs = _meter.CreateHistogram<double>("raftdlm.consensus.commit_latency", "ms",
            "Time from proposal to commit and local apply, for successful proposals.");
        _proposals = _meter.CreateCounter<long>("raftdlm.consensus.proposals", "{proposal}",
            "Proposals by outcome: ok, not_leader, unknown, canceled.");
        _leaderChanges = _meter.CreateCounter<long>("raftdlm.consensus.leader_changes", "{change}",
            "Changes of the leader as seen by this node (including losing the leader).");
        _entriesApplied = _meter.CreateCounter<long>("raftdlm.consensus.entries_applied", "{entry}",
            "Commands handed to the replicated state machine.");
        _snapshotsTaken = _meter.CreateCounter<long>("raftdlm.consensus.snapshots_taken", "{snapshot}");
        _snapshotsRestored = _meter.CreateCounter<long>("raftdlm.consensus.snapshots_restored", "{snapshot}",
            "Snapshots restored at startup or installed from the leader.");
    }

    public void ProposalCommitted(TimeSpan elapsed)
    {
        _commitLatencyMs.Record(elapsed.TotalMilliseconds, _nodeTag);
        Proposal("ok");
    }

    public void Proposal(string outcome)
    {
        var tags = new TagList { _nodeTag, { "outcome", outcome } };
        _proposals.Add(1, tags);
    }

    public void LeaderChanged() => _leaderChanges.Add(1, _nodeTag);

    public void EntryApplied() => _entriesApplied.Add(1, _nodeTag);

    public void SnapshotTaken() => _snapshotsTaken.Add(1, _nodeTag);

    public void SnapshotRestored() => _snapshotsRestored.Add(1, _nodeTag);

    public void Dispose() => _meter.Dispose();
}
