using System.Globalization;
using System.Net;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi;

/// <summary>
/// Server configuration, bound from appsettings.json, RAFTDLM_* environment variables and the command
/// line (e.g. <c>--NodeId node2</c> or <c>--node-id node2</c>). The defaults are the single-node
/// quick-start: HTTP on 127.0.0.1:7700, Raft on 127.0.0.1:7701, data in ./data/node1, no auth.
/// </summary>
public sealed class ServerOptions
{
    public string NodeId { get; set; } = "node1";
    public string HttpUrl { get; set; } = "http://127.0.0.1:7700";
    public string RaftEndpoint { get; set; } = "127.0.0.1:7701";
    public string DataDirectory { get; set; } = "./data/node1";

    /// <summary>
    /// The static membership as <c>id=raftHost:port=httpUrl</c> entries separated by commas, e.g.
    /// <c>node1=127.0.0.1:7711=http://127.0.0.1:7710,node2=...</c>. Empty means this node alone.
    /// </summary>
    public string Members { get; set; } = "";

    /// <summary>
    /// The HTTP URL of any member of a running cluster (<c>--join</c>): a node started with an empty data directory
    /// and this setting asks that cluster to add it, is caught up as a learner and becomes a voter. Ignored once the
    /// data directory holds a membership.
    /// </summary>
    public string? Join { get; set; }

    /// <summary>How long a joining node (and <c>POST /v1/cluster/members</c> by default) waits for the new member to catch up.</summary>
    public int JoinTimeoutMs { get; set; } = 300_000;

    /// <summary>
    /// A node that starts with an empty data directory first fetches the newest snapshot a peer has
    /// (<c>GET /v1/cluster/snapshot</c>) instead of waiting for Raft to install one in a single request.
    /// </summary>
    public bool SeedFromPeers { get; set; } = true;

    /// <summary>The bound on that fetch: finding the peer with the newest snapshot and downloading it.</summary>
    public int SeedTimeoutMs { get; set; } = 300_000;

    /// <summary>
    /// A backup file (<c>GET /v1/snapshot</c>, <c>dlmctl snapshot save</c>) to start a new cluster from: on an empty
    /// data directory the node installs it before Raft starts (every node of the new cluster is given the same
    /// file). A file that is not a whole, valid backup stops the start (exit code 2) with the directory untouched.
    /// A directory already restored from the same file starts as it is; any other non-empty one is refused.
    /// </summary>
    public string? RestoreFrom { get; set; }

    public int ElectionTimeoutMinMs { get; set; } = 800;
    public int ElectionTimeoutMaxMs { get; set; } = 1600;
    public long SnapshotEveryEntries { get; set; } = 100_000;

    /// <summary>
    /// The Raft log a new data directory gets: <c>Segmented</c> (the default), the project's own log with one data
    /// sync per batch, or <c>DotNext</c>, DotNext's write-ahead log (docs/operations.md). A data directory keeps the
    /// kind it was created with.
    /// </summary>
    public LogEngine LogEngine { get; set; } = RaftNodeOptions.DefaultLogEngine;

    /// <summary>The size of one WAL chunk file (at least 64 KiB); small only for test fixtures that are checked in.</summary>
    public int ChunkSizeBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Diagnostics: a file that receives one line per applied log entry (see RaftNodeOptions.ApplyTraceFile).</summary>
    public string? ApplyTraceFile { get; set; }
    public int? RaftRequestTimeoutMs { get; set; }
    public int ProposalTimeoutMs { get; set; } = 5000;

    /// <summary>
    /// Whether the leader packs the proposals that wait for the log into one entry (docs/operations.md). Off by
    /// default in this release: a release that reads only one command per entry may still run in the cluster.
    /// </summary>
    public bool ProposalBatching { get; set; }

    /// <summary>Whether the leader syncs its own log lazily while the followers keep up (docs/operations.md).</summary>
    public bool LazyLeaderSync { get; set; } = true;

    /// <summary>How many entries of proposals the leader replicates at once; more proposals wait and share the next entry.</summary>
    public int MaxEntriesInFlight { get; set; } = 16;

    /// <summary>The most proposals one entry holds.</summary>
    public int MaxBatchCommands { get; set; } = 256;

    /// <summary>The most command bytes one entry holds.</summary>
    public int MaxBatchBytes { get; set; } = 256 * 1024;

    /// <summary>How long a call waits for a leader to be known before answering 503.</summary>
    public int LeaderWaitMs { get; set; } = 3000;

    /// <summary>How often the leader looks for overdue sessions and ended lock-delays.</summary>
    public int ExpiryScanMs { get; set; } = 200;

    public int MaxRequestBodyBytes { get; set; } = 64 * 1024;
    /// <summary>A flood guard per client address (every request, with or without a token), on each node.</summary>
    public int RequestsPerSecondPerClient { get; set; } = 100_000;

    /// <summary>
    /// Quotas per lockspace token (admins have none): requests per second on each node (a request through a
    /// follower counts there and at the leader), live sessions it opened, and locks those sessions own
    /// (granted, converting or waiting). 0 is no bound. Over a quota: 429 QuotaExceeded with Retry-After.
    /// </summary>
    public int TokenRequestsPerSecond { get; set; } = 5_000;

    /// <inheritdoc cref="TokenRequestsPerSecond"/>
    public int TokenMaxSessions { get; set; } = 1_000;

    /// <inheritdoc cref="TokenRequestsPerSecond"/>
    public int TokenMaxLocks { get; set; } = 50_000;

    /// <summary>Bearer tokens allowed to do everything. With no tokens at all, auth is off.</summary>
    public string[] AdminTokens { get; set; } = [];

    /// <summary>Bearer token → comma-separated lockspaces it may use.</summary>
    public Dictionary<string, string> LockspaceTokens { get; set; } = new(StringComparer.Ordinal);

    public LockLimits Limits { get; set; } = new();

    /// <summary>
    /// A PEM file with the CA whose certificates this node trusts when it calls a peer over HTTPS (forwarding to
    /// the leader, fetching a snapshot): a peer's certificate must chain to it and name the peer's host. Unset,
    /// the system's trust store decides. The node's own HTTPS certificate is Kestrel's
    /// (<c>Kestrel:Certificates:Default:Path</c> / <c>KeyPath</c>) with an <c>https://</c> <see cref="HttpUrl"/>.
    /// </summary>
    public string? TlsCaPath { get; set; }

    /// <summary>Mutual TLS on the Raft transport; all three files or none.</summary>
    public RaftTlsSettings RaftTls { get; set; } = new();

    public bool AuthEnabled => AdminTokens.Length > 0 || LockspaceTokens.Count > 0;

    public IReadOnlyList<RaftMember> ParseMembers()
    {
        if (string.IsNullOrWhiteSpace(Members)) return [new RaftMember(NodeId, ParseEndpoint(RaftEndpoint), HttpUrl.TrimEnd('/'))];
        var members = new List<RaftMember>();
        foreach (var entry in Members.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split('=', 3);
            if (parts.Length != 3) throw new FormatException($"member '{entry}' is not id=raftHost:port=httpUrl");
            members.Add(new RaftMember(parts[0], ParseEndpoint(parts[1]), parts[2].TrimEnd('/')));
        }
        return members;
    }

    public RaftNodeOptions ToRaftOptions() => new()
    {
        NodeId = NodeId,
        Members = ParseMembers(),
        SelfMember = new RaftMember(NodeId, ParseEndpoint(RaftEndpoint), HttpUrl.TrimEnd('/')),
        DataDirectory = Path.GetFullPath(DataDirectory),
        ElectionTimeoutMinMs = ElectionTimeoutMinMs,
        ElectionTimeoutMaxMs = ElectionTimeoutMaxMs,
        SnapshotEveryEntries = SnapshotEveryEntries,
        ChunkSizeBytes = ChunkSizeBytes,
        LogEngine = LogEngine,
        ProposalTimeoutMs = ProposalTimeoutMs,
        ProposalBatching = ProposalBatching,
        LazyLeaderSync = LazyLeaderSync,
        MaxEntriesInFlight = MaxEntriesInFlight,
        MaxBatchCommands = MaxBatchCommands,
        MaxBatchBytes = MaxBatchBytes,
        RequestTimeoutMs = RaftRequestTimeoutMs,
        ApplyTraceFile = string.IsNullOrEmpty(ApplyTraceFile) ? null : Path.GetFullPath(ApplyTraceFile),
        Tls = RaftTls.Load(),
    };

    /// <summary>"host:port" with an IP literal or a DNS name, which is kept as written and resolved when connecting.</summary>
    private static string ParseEndpoint(string text)
    {
        var (host, port) = RaftMember.SplitAddress(text.Trim());
        return host + ":" + port.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>Short command-line switches for the common settings.</summary>
    public static readonly Dictionary<string, string> SwitchMappings = new()
    {
        ["--node-id"] = nameof(NodeId),
        ["--http"] = nameof(HttpUrl),
        ["--raft"] = nameof(RaftEndpoint),
        ["--data"] = nameof(DataDirectory),
        ["--members"] = nameof(Members),
        ["--join"] = nameof(Join),
        ["--restore-from"] = nameof(RestoreFrom),
    };
}

/// <summary>
/// <c>RaftTls:CertificatePath</c>, <c>RaftTls:KeyPath</c>, <c>RaftTls:CaPath</c>: this node's certificate and key
/// (PEM) and the cluster's CA. Set, every Raft connection is mutual TLS and a peer must present a certificate
/// issued by that CA; unset, Raft is plain TCP.
/// </summary>
public sealed class RaftTlsSettings
{
    public string? CertificatePath { get; set; }
    public string? KeyPath { get; set; }
    public string? CaPath { get; set; }

    public RaftTransportTls? Load()
    {
        string?[] paths = [CertificatePath, KeyPath, CaPath];
        if (paths.All(string.IsNullOrEmpty)) return null;
        if (paths.Any(string.IsNullOrEmpty))
        {
            throw new InvalidOperationException("RaftTls needs all of CertificatePath, KeyPath and CaPath (or none of them).");
        }
        return new RaftTransportTls
        {
            Certificate = TlsFiles.LoadCertificateWithKey(CertificatePath!, KeyPath!),
            ClusterCas = TlsFiles.LoadCertificates(CaPath!),
        };
    }
}
