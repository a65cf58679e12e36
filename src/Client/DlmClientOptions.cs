using System.Security.Cryptography.X509Certificates;

namespace RaftDlm.Client;

/// <summary>How a <see cref="DlmClient"/> reaches the cluster and how hard it retries.</summary>
public sealed class DlmClientOptions
{
    /// <summary>The HTTP endpoints of the nodes, e.g. <c>http://127.0.0.1:7710</c>. Any node accepts any call.</summary>
    public IList<string> Endpoints { get; set; } = new List<string> { "http://127.0.0.1:7700" };

    /// <summary>Sent as <c>Authorization: Bearer</c> when set.</summary>
    public string? BearerToken { get; set; }

    /// <summary>The longest one HTTP attempt may take (a long-poll adds its own wait to this).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// At most this many attempts per call, over all nodes. Nodes are tried in turn without waiting and the
    /// backoff comes only after a full round, so with the dead leader refusing at once a small number can run out
    /// within an election; <see cref="RetryBudget"/> is the bound that matters.
    /// </summary>
    public int MaxAttempts { get; set; } = 100;

    /// <summary>A call gives up retrying once this much time has passed since its first attempt.</summary>
    public TimeSpan RetryBudget { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The first backoff between retries; it doubles up to <see cref="MaxBackoff"/>, with full jitter.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>The longest backoff between two retries.</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long the server holds a lock request or conversion open for its grant before answering 202.</summary>
    public TimeSpan LockWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one event long-poll waits at the server.</summary>
    public TimeSpan EventPollWait { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A PEM file with the CA to trust for <c>https://</c> endpoints (every certificate in it, when it holds more than
    /// one): a node's certificate must chain to it and name the node's host; the system's trust store is then not
    /// consulted. Unset, and <see cref="TrustedCa"/> unset, the system's trust store decides.
    /// </summary>
    public string? TrustedCaPath { get; set; }

    /// <summary>The CA to trust for <c>https://</c> endpoints, as <see cref="TrustedCaPath"/> but already loaded.</summary>
    public X509Certificate2? TrustedCa { get; set; }

    /// <summary>A client name for logs and metric tags.</summary>
    public string Name { get; set; } = "dlm-client";
}

/// <summary>What a session asks of the server and how it caches its locks by default.</summary>
public sealed class DlmSessionOptions
{
    /// <summary>The session's name as the server shows it.</summary>
    public string Name { get; set; } = "session";

    /// <summary>The session's time to live without keep-alives (500 ms to 1 h).</summary>
    public TimeSpan Ttl { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The lock options used by <see cref="DlmSession.LockAsync(string, string, LockMode, CancellationToken)"/>.</summary>
    public LockOptions DefaultLockOptions { get; set; } = new();

    /// <summary>
    /// Whether the session ends itself (<see cref="SessionState.Lost"/>) when its lease's local deadline passes:
    /// the send time of the newest answered keep-alive plus the TTL minus <see cref="LeaseMargin"/>. On by
    /// default; off, the session waits for a server to say it expired, and a client cut off from every node keeps
    /// believing it holds locks the cluster may have handed to someone else.
    /// </summary>
    public bool LocalLeaseDeadline { get; set; } = true;

    /// <summary>
    /// How much earlier than the TTL the session is taken as lost: room for the two clocks' rates to differ and
    /// for the work the loss must stop (<c>dlmctl lock</c> adds its kill grace). Unset: a tenth of the TTL, at
    /// least 100 ms and at most 2 s. It must be shorter than half the TTL.
    /// </summary>
    public TimeSpan? LeaseMargin { get; set; }

    internal TimeSpan LeaseMarginFor(TimeSpan ttl)
    {
        var margin = LeaseMargin ?? TimeSpan.FromMilliseconds(Math.Clamp(ttl.TotalMilliseconds / 10, 100, 2000));
        if (margin < TimeSpan.Zero || margin >= ttl / 2)
        {
            throw new ArgumentOutOfRangeException(nameof(LeaseMargin), margin, $"the lease margin must be at least 0 and shorter than half the TTL ({ttl.TotalMilliseconds} ms)");
        }
        return margin;
    }
}

/// <summary>What <see cref="DlmLock.UnlockAsync"/> does with a lock when caching is on.</summary>
public enum CacheMode
{
    /// <summary>No caching: unlock releases the lock at the server.</summary>
    None,
    /// <summary>Unlock converts the lock down to NL at the server; a later lock is one conversion.</summary>
    KeepNL,
    /// <summary>Unlock keeps the lock in its mode; a later lock of a covered mode needs no round trip.</summary>
    KeepMode,
}

/// <summary>Per-handle options.</summary>
public sealed record LockOptions
{
    /// <summary>How unlocks keep the lock; <see cref="CacheMode.KeepMode"/> serves repeat locks locally.</summary>
    public CacheMode Caching { get; init; } = CacheMode.None;

    /// <summary>Stop caching a handle whose recent history says caching loses, and resume when it wins again.</summary>
    public bool AutoTune { get; init; } = true;

    /// <summary>The half-life of the decaying win and loss counts of auto-tuning.</summary>
    public TimeSpan AutoTuneHalfLife { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>When a blocking event revokes a cached lock: true demotes it to NL (keeping the LVB alive), false releases it.</summary>
    public bool DemoteOnRevoke { get; init; }

    /// <summary>Extra request flags (wire names such as <c>noQueue</c>, <c>persistent</c>).</summary>
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>A parent lock id for sublocks.</summary>
    public string? ParentLockId { get; init; }

    /// <summary>
    /// A wait timeout (1 ms to 1 hour; null for none): the server cancels a lock request or a conversion that
    /// is still queued this long after it was applied, and the call fails with <see cref="LockTimeoutException"/>.
    /// </summary>
    public TimeSpan? Timeout { get; init; }
}
