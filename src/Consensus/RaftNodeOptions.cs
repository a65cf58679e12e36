namespace RaftDlm.Consensus;

/// <summary>Configuration of one <see cref="RaftNode"/>.</summary>
public sealed class RaftNodeOptions
{
    /// <summary>The <see cref="RaftMember.Id"/> of this node; it must appear in <see cref="Members"/>.</summary>
    public required string NodeId { get; init; }

    /// <summary>
    /// The members a new cluster starts with, this node included: stored as the membership at the first start of
    /// a data directory that is not joining a cluster. Once a membership is stored it is the cluster's (changed
    /// at run time), and this list is not read again.
    /// </summary>
    public required IReadOnlyList<RaftMember> Members { get; init; }

    /// <summary>This node's own addresses when <see cref="Members"/> does not list it (a node that joined a cluster).</summary>
    public RaftMember? SelfMember { get; init; }

    /// <summary>Holds the log ("wal" or "log", see <see cref="LogEngine"/>) and the snapshots ("snapshots").</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Lower bound of the randomized election timeout. 0.8–1.6 s suits a 2-core machine (the 150–300 ms defaults flap).</summary>
    public int ElectionTimeoutMinMs { get; init; } = 800;

    /// <summary>Upper bound of the randomized election timeout.</summary>
    public int ElectionTimeoutMaxMs { get; init; } = 1600;

    /// <summary>A snapshot is taken once this many log entries were applied since the previous one.
    /// Snapshots compact the log and lagging followers then receive the whole snapshot, so keep this large.</summary>
    public long SnapshotEveryEntries { get; init; } = 100_000;

    /// <summary>
    /// The log a new data directory gets; a data directory that already holds a log keeps its kind.
    /// </summary>
    public LogEngine LogEngine { get; init; } = DefaultLogEngine;

    /// <summary>The log a new data directory gets unless told otherwise.</summary>
    public const LogEngine DefaultLogEngine = LogEngine.Segmented;

    /// <summary>Size of one WAL chunk file, or of one segment of the segmented log (preallocated: a new node holds two). DotNext's default (one memory page) creates thousands of files.</summary>
    public int ChunkSizeBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// How long one Raft request (append, vote, snapshot install) may take; null takes nine tenths of the lower
    /// election timeout. It must stay below the lower election timeout: DotNext's candidate counts its votes only
    /// once every member answered or timed out, and gives up at its election timeout, so a member that is stalled
    /// rather than dead (paused, frozen VM, blackholed link) would otherwise make every election fail until it
    /// comes back. It is also the longest stall of a majority's disks a leader rides through: DotNext's leader
    /// steps down after one round of appends in which no majority answered in time, and a follower answers only
    /// once its sync is done. A snapshot install must fit in it too (a timed-out install is retried from scratch).
    /// </summary>
    public int? RequestTimeoutMs { get; init; }

    /// <summary><see cref="RequestTimeoutMs"/>, or its default.</summary>
    public int EffectiveRequestTimeoutMs => RequestTimeoutMs ?? ElectionTimeoutMinMs * 9 / 10;

    /// <summary>
    /// Diagnostics: when set, every entry handed to the state machine is appended to this file as one line,
    /// "index term applied|skipped leaderTimeMs digest" (digest = first 8 bytes of the command's SHA-256), so the logs of two
    /// replicas can be compared entry by entry. Off by default; it costs a hash and a write per entry.
    /// </summary>
    public string? ApplyTraceFile { get; init; }

    /// <summary>Mutual TLS on the Raft transport; null leaves it plain TCP.</summary>
    public RaftTransportTls? Tls { get; init; }

    /// <summary>Upper bound on the wait of <see cref="RaftNode.ProposeAsync"/> and <see cref="RaftNode.ReadBarrierAsync"/>.</summary>
    public int ProposalTimeoutMs { get; init; } = 5000;

    /// <summary>
    /// Whether the leader packs proposals that wait for the log into one entry (a version-2 envelope,
    /// docs/formats.md). Off (the default in this release: rule 3 of docs/formats.md), every proposal is an entry of
    /// its own, which is all that releases before version 2 of the envelope read: keep it off while such a release
    /// still runs in the cluster.
    /// </summary>
    public bool ProposalBatching { get; init; }

    /// <summary>
    /// Whether the leader of a cluster of three or more leaves its own appends unsynced while the followers keep up:
    /// an entry then commits once a majority of the followers holds it on disk, and the leader syncs its log only
    /// when a commit waits for them longer than a few milliseconds (segmented log only; docs/consensus-notes.md,
    /// "The leader's lazy sync"). Off, the leader syncs every append and counts its own copy, as a Raft leader does
    /// by the book.
    /// </summary>
    public bool LazyLeaderSync { get; init; } = true;

    /// <summary>The files of the segmented log (tests substitute a layer that simulates power loss); none: the OS's.</summary>
    internal Storage.IStorageFiles? StorageFiles { get; init; }

    /// <summary>With <see cref="ProposalBatching"/>: how many entries of this leader's proposals may be replicating at once; proposals beyond wait for the next entry.</summary>
    public int MaxEntriesInFlight { get; init; } = 16;

    /// <summary>The most proposals one entry holds.</summary>
    public int MaxBatchCommands { get; init; } = 256;

    /// <summary>The most command bytes one entry holds (a single larger command still goes alone).</summary>
    public int MaxBatchBytes { get; init; } = 256 * 1024;

    internal RaftMember Self => Members.FirstOrDefault(m => m.Id == NodeId)
        ?? (SelfMember is { } self && self.Id == NodeId ? self : null)
        ?? throw new ArgumentException($"NodeId '{NodeId}' is not in Members.", nameof(NodeId));

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(NodeId);
        ArgumentException.ThrowIfNullOrWhiteSpace(DataDirectory);
        if (Members.Count == 0)
        {
            throw new ArgumentException("Members must contain at least this node.", nameof(Members));
        }
        if (Members.Select(m => m.Id).Distinct(StringComparer.Ordinal).Count() != Members.Count)
            throw new ArgumentException("Member ids must be unique.", nameof(Members));
        if (Members.Select(m => m.RaftEndpoint).Distinct().Count() != Members.Count)
            throw new ArgumentException("Member Raft endpoints must be unique.", nameof(Members));
        _ = Self;
        ArgumentOutOfRangeException.ThrowIfLessThan(ElectionTimeoutMinMs, 10);
        ArgumentOutOfRangeException.ThrowIfLessThan(ElectionTimeoutMaxMs, ElectionTimeoutMinMs + 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(SnapshotEveryEntries, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ChunkSizeBytes, 64 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(ProposalTimeoutMs, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxEntriesInFlight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchCommands, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchBytes, 1);
        if (RequestTimeoutMs is { } requestTimeoutMs && (requestTimeoutMs < 1 || requestTimeoutMs >= ElectionTimeoutMinMs))
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeoutMs), requestTimeoutMs,
                $"The Raft request timeout must be at least 1 ms and below the lower election timeout ({ElectionTimeoutMinMs} ms), or no election can succeed while a member is stalled.");
        }
    }
}

/// <summary>The Raft log's implementation (docs/consensus-notes.md).</summary>
public enum LogEngine
{
    /// <summary>DotNext's write-ahead log with the project's follower-side fixes ("wal" in the data directory).</summary>
    DotNext,

    /// <summary>The project's own segmented log: one data sync per batch ("log" in the data directory).</summary>
    Segmented,
}
