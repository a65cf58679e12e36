using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RaftDlm.Consensus;

/// <summary>Instruments of the "RaftDlm.Consensus" meter; every measurement is tagged with the node id.</summary>
internal sealed class ConsensusMetrics : IDisposable
{
    public const string MeterName = "RaftDlm.Consensus";

    private readonly Meter meter;
    private readonly KeyValuePair<string, object?> nodeTag;
    private readonly Histogram<double> commitLatencyMs;
    private readonly Counter<long> proposals;
    private readonly Counter<long> leaderChanges;
    private readonly Counter<long> entriesApplied;
    private readonly Counter<long> snapshotsTaken;
    private readonly Counter<long> snapshotsRestored;

    public ConsensusMetrics(string nodeId)
    {
        meter = new Meter(MeterName);
        nodeTag = new("raftdlm.node", nodeId);
        commitLatencyMs = meter.CreateHistogram<double>("raftdlm.consensus.commit_latency", "ms",
            "Time from proposal to commit and local apply, for successful proposals.");
        proposals = meter.CreateCounter<long>("raftdlm.consensus.proposals", "{proposal}",
            "Proposals by outcome: ok, not_leader, unknown, canceled.");
        leaderChanges = meter.CreateCounter<long>("raftdlm.consensus.leader_changes", "{change}",
            "Changes of the leader as seen by this node (including losing the leader).");
        entriesApplied = meter.CreateCounter<long>("raftdlm.consensus.entries_applied", "{entry}",
            "Commands handed to the replicated state machine.");
        snapshotsTaken = meter.CreateCounter<long>("raftdlm.consensus.snapshots_taken", "{snapshot}");
        snapshotsRestored = meter.CreateCounter<long>("raftdlm.consensus.snapshots_restored", "{snapshot}",
            "Snapshots restored at startup or installed from the leader.");
    }

    public void ProposalCommitted(TimeSpan elapsed)
    {
        commitLatencyMs.Record(elapsed.TotalMilliseconds, nodeTag);
        Proposal("ok");
    }

    public void Proposal(string outcome)
    {
        var tags = new TagList { nodeTag, { "outcome", outcome } };
        proposals.Add(1, tags);
    }

    public void LeaderChanged() => leaderChanges.Add(1, nodeTag);

    public void EntryApplied() => entriesApplied.Add(1, nodeTag);

    public void SnapshotTaken() => snapshotsTaken.Add(1, nodeTag);

    public void SnapshotRestored() => snapshotsRestored.Add(1, nodeTag);

    public void Dispose() => meter.Dispose();
}
