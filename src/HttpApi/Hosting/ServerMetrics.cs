using System.Diagnostics.Metrics;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// The "RaftDlm.Server" meter: what the API layer counts (forwarded, refused, unknown outcomes) and gauges of
/// the lock table read at scrape time. Consensus figures (commit latency, applies, leader changes, term and
/// indexes) come from the "RaftDlm.Consensus" meter; <c>GET /metrics</c> exports both.
/// </summary>
internal sealed class ServerMetrics : IDisposable
{
    public const string MeterName = "RaftDlm.Server";

    private readonly Meter _meter;
    private readonly KeyValuePair<string, object?> _nodeTag;
    private readonly Counter<long> _forwarded;
    private readonly Counter<long> _unavailable;
    private readonly Counter<long> _outcomeUnknown;

    public ServerMetrics(LockApplier applier, ServerOptions options)
    {
        _meter = new Meter(MeterName);
        var nodeTag = _nodeTag = new("raftdlm.node", options.NodeId);
        _forwarded = _meter.CreateCounter<long>("raftdlm.forwarded_requests", "{request}", "Requests forwarded to the leader.");
        _unavailable = _meter.CreateCounter<long>("raftdlm.unavailable", "{request}", "Requests answered 503 Unavailable.");
        _outcomeUnknown = _meter.CreateCounter<long>("raftdlm.outcome_unknown", "{request}", "Requests answered 504 OutcomeUnknown.");
        Gauge("raftdlm.sessions", "Live sessions.", machine => machine.LiveSessionCount);
        Gauge("raftdlm.locks", "Locks (granted, converting, waiting, orphaned).", machine => machine.LockCount);
        Gauge("raftdlm.resources", "Resources.", machine => machine.ResourceCount);
        Gauge("raftdlm.queued_requests", "Requests waiting or converting.", machine => machine.QueuedCount);
        Gauge("raftdlm.lockspaces", "Lockspaces.", machine => machine.LockspaceCount);
        _meter.CreateObservableGauge("raftdlm.applied_index", () => new Measurement<long>(applier.LastAppliedIndex, nodeTag),
            description: "The index of the last command applied to the lock table.");

        void Gauge(string name, string description, Func<LockStateMachine.LockMachine, long> read) =>
            _meter.CreateObservableGauge(name, () => new Measurement<long>(applier.Read(read), nodeTag), description: description);
    }

    public void Forwarded() => _forwarded.Add(1, _nodeTag);

    public void Unavailable() => _unavailable.Add(1, _nodeTag);

    public void OutcomeUnknown() => _outcomeUnknown.Add(1, _nodeTag);

    public void Dispose() => _meter.Dispose();
}
