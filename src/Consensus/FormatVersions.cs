using DotNext.Net.Cluster.Consensus.Raft.StateMachine;

namespace RaftDlm.Consensus;

/// <summary>
/// The versions of the formats consensus writes and reads (docs/formats.md), for the start-up log line that
/// tells an operator which formats a node speaks before and after an upgrade.
/// </summary>
public static class FormatVersions
{
    /// <summary>The newest log entry envelope this build writes and reads (its marker byte is 0xD0 plus this; it reads 1 too).</summary>
    public const int EntryEnvelope = EntryEnvelopeVersion;

    /// <summary>The snapshot file header (its magic is "RDS" and this digit).</summary>
    public const int SnapshotFile = 1;

    /// <summary>DotNext's WAL checkpoint layout that the data directory tools read.</summary>
    public const int WalCheckpoint = 1;

    private const int EntryEnvelopeVersion = RaftDlm.Consensus.EntryEnvelope.FormatV2 - 0xD0;

    /// <summary>The DotNext.Net.Cluster assembly whose write-ahead log format the WAL is.</summary>
    public static string DotNextVersion { get; } = typeof(WriteAheadLog).Assembly.GetName().Version?.ToString(3) ?? "unknown";
}
