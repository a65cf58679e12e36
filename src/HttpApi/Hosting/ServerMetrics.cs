using System.Globalization;
using System.Text;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// The numbers behind <c>GET /metrics</c>, kept with interlocked counters and written in the Prometheus
/// text format. Gauges of the lock table are read from the machine at scrape time.
/// </summary>
internal sealed class ServerMetrics
{
    private static readonly double[] LatencyBucketsSeconds = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
    private readonly long[] _latencyBuckets = new long[LatencyBucketsSeconds.Length + 1];
    private long _latencyCount;
    private long _latencySumMicros;
    private long _applies;
    private long _leaderChanges;
    private long _forwarded;
    private long _unavailable;
    private long _outcomeUnknown;

    public void Applied() => Interlocked.Increment(ref _applies);
    public void LeaderChanged() => Interlocked.Increment(ref _leaderChanges);
    public void Forwarded() => Interlocked.Increment(ref _forwarded);
    public void Unavailable() => Interlocked.Increment(ref _unavailable);
    public void OutcomeUnknown() => Interlocked.Increment(ref _outcomeUnknown);

    public void Committed(TimeSpan latency)
    {
        var seconds = latency.TotalSeconds;
        var bucket = 0;
        while (bucket < LatencyBucketsSeconds.Length && seconds > LatencyBucketsSeconds[bucket]) bucket++;
        Interlocked.Increment(ref _latencyBuckets[bucket]);
        Interlocked.Increment(ref _latencyCount);
        Interlocked.Add(ref _latencySumMicros, (long)(latency.TotalMilliseconds * 1000));
    }

    public string Render(LockService service)
    {
        var (sessions, locks, resources, queued, lockspaces) = service.Read(machine =>
            (machine.LiveSessionCount, machine.LockCount, machine.ResourceCount, machine.QueuedCount, machine.LockspaceCount));
        var node = service.Node;
        var text = new StringBuilder();
        Counter(text, "raftdlm_applies_total", "Log entries applied to the lock table on this node.", Interlocked.Read(ref _applies));
        Counter(text, "raftdlm_leader_changes_total", "Leader changes seen by this node.", Interlocked.Read(ref _leaderChanges));
        Counter(text, "raftdlm_forwarded_requests_total", "Requests forwarded to the leader.", Interlocked.Read(ref _forwarded));
        Counter(text, "raftdlm_unavailable_total", "Requests answered 503 Unavailable.", Interlocked.Read(ref _unavailable));
        Counter(text, "raftdlm_outcome_unknown_total", "Requests answered 504 OutcomeUnknown.", Interlocked.Read(ref _outcomeUnknown));
        Gauge(text, "raftdlm_sessions", "Live sessions.", sessions);
        Gauge(text, "raftdlm_locks", "Locks (granted, converting, waiting, orphaned).", locks);
        Gauge(text, "raftdlm_resources", "Resources.", resources);
        Gauge(text, "raftdlm_queued_requests", "Requests waiting or converting.", queued);
        Gauge(text, "raftdlm_lockspaces", "Lockspaces.", lockspaces);
        Gauge(text, "raftdlm_is_leader", "1 when this node is the leader.", node.IsLeader ? 1 : 0);
        Gauge(text, "raftdlm_term", "Current Raft term.", node.Term);
        Gauge(text, "raftdlm_commit_index", "Raft commit index.", node.CommitIndex);
        Gauge(text, "raftdlm_applied_index", "Last applied index.", service.LastAppliedIndex);

        text.Append("# HELP raftdlm_commit_latency_seconds Time from proposal to local apply on the leader.\n");
        text.Append("# TYPE raftdlm_commit_latency_seconds histogram\n");
        long cumulative = 0;
        for (var i = 0; i < LatencyBucketsSeconds.Length; i++)
        {
            cumulative += Interlocked.Read(ref _latencyBuckets[i]);
            text.Append(CultureInfo.InvariantCulture, $"raftdlm_commit_latency_seconds_bucket{{le=\"{LatencyBucketsSeconds[i]}\"}} {cumulative}\n");
        }
        var count = Interlocked.Read(ref _latencyCount);
        text.Append(CultureInfo.InvariantCulture, $"raftdlm_commit_latency_seconds_bucket{{le=\"+Inf\"}} {count}\n");
        text.Append(CultureInfo.InvariantCulture, $"raftdlm_commit_latency_seconds_sum {Interlocked.Read(ref _latencySumMicros) / 1e6}\n");
        text.Append(CultureInfo.InvariantCulture, $"raftdlm_commit_latency_seconds_count {count}\n");
        return text.ToString();
    }

    private static void Counter(StringBuilder text, string name, string help, long value) => Metric(text, name, help, "counter", value);

    private static void Gauge(StringBuilder text, string name, string help, long value) => Metric(text, name, help, "gauge", value);

    private static void Metric(StringBuilder text, string name, string help, string type, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}
