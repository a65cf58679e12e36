using System.Diagnostics.Metrics;

namespace RaftDlm.Client;

/// <summary>
/// The client's counters, published on the <c>RaftDlm.Client</c> meter and kept per client for callers
/// and tests that want the numbers without a listener.
/// </summary>
public sealed class DlmClientMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "RaftDlm.Client";

    private static readonly Meter Meter = new(MeterName);
    private static readonly Counter<long> RequestCounter = Meter.CreateCounter<long>("raftdlm.client.requests", description: "HTTP attempts sent");
    private static readonly Counter<long> RetryCounter = Meter.CreateCounter<long>("raftdlm.client.retries", description: "Attempts that were retries");
    private static readonly Counter<long> HitCounter = Meter.CreateCounter<long>("raftdlm.client.cache.hits", description: "Locks served from the cache");
    private static readonly Counter<long> MissCounter = Meter.CreateCounter<long>("raftdlm.client.cache.misses", description: "Locks that needed the server");
    private readonly KeyValuePair<string, object?> _tag;
    private long _requests, _retries, _hits, _misses;

    internal DlmClientMetrics(string clientName) => _tag = new("client", clientName);

    /// <summary>HTTP attempts sent by this client (keep-alives and event polls included).</summary>
    public long Requests => Interlocked.Read(ref _requests);

    /// <summary>Attempts that repeated an earlier one.</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Locks served locally from a cached lock.</summary>
    public long CacheHits => Interlocked.Read(ref _hits);

    /// <summary>Locks that needed a round trip.</summary>
    public long CacheMisses => Interlocked.Read(ref _misses);

    internal void Request(string operation)
    {
        Interlocked.Increment(ref _requests);
        RequestCounter.Add(1, _tag, new("operation", operation));
    }

    internal void Retry(string operation)
    {
        Interlocked.Increment(ref _retries);
        RetryCounter.Add(1, _tag, new("operation", operation));
    }

    internal void Hit()
    {
        Interlocked.Increment(ref _hits);
        HitCounter.Add(1, _tag);
    }

    internal void Miss()
    {
        Interlocked.Increment(ref _misses);
        MissCounter.Add(1, _tag);
    }
}
