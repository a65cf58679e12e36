using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>What a backup file says about the table it holds; written by the server, read by anyone.</summary>
internal sealed record BackupMetadata(
    [property: JsonPropertyName("nodeId")] string NodeId,
    [property: JsonPropertyName("createdAt")] string CreatedAt,
    [property: JsonPropertyName("leaderTimeMs")] long LeaderTimeMs,
    [property: JsonPropertyName("lockspaces")] int Lockspaces,
    [property: JsonPropertyName("sessions")] int Sessions,
    [property: JsonPropertyName("resources")] int Resources,
    [property: JsonPropertyName("locks")] int Locks,
    [property: JsonPropertyName("maxFencingToken")] long MaxFencingToken);

/// <summary>
/// The backup file of <c>GET /v1/snapshot</c> and <c>--restore-from</c>: self-describing, so that
/// <c>dlmctl snapshot status</c> reads it without the server. Little-endian:
/// <c>[magic "RDLMBKUP":8][version:4][index:8][term:8][metadata length:4][metadata: UTF-8 JSON]
/// [snapshot length:8][snapshot: a consensus snapshot file, "RDS1" header and the lock table][SHA-256 of all before:32]</c>.
/// The client library reads the same layout (RaftDlm.Client.SnapshotBackup); a change here is a new version.
/// </summary>
internal static class BackupFile
{
    public const int Version = 1;
    public const int Sha256Bytes = 32;
    private const int MetadataMaxBytes = 64 * 1024;
    private static readonly byte[] Magic = "RDLMBKUP"u8.ToArray();

    /// <summary>Everything before the snapshot bytes.</summary>
    public static byte[] Head(long index, long term, BackupMetadata metadata, long snapshotBytes)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(metadata);
        var head = new byte[Magic.Length + 4 + 8 + 8 + 4 + json.Length + 8];
        var span = head.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], Version);
        BinaryPrimitives.WriteInt64LittleEndian(span[12..], index);
        BinaryPrimitives.WriteInt64LittleEndian(span[20..], term);
        BinaryPrimitives.WriteInt32LittleEndian(span[28..], json.Length);
        json.CopyTo(span[32..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[(32 + json.Length)..], snapshotBytes);
        return head;
    }

    /// <summary>
    /// Reads and checks a whole backup file: magic, version, lengths, checksum. The snapshot bytes are returned
    /// as they are; their own header and contents are checked by the caller.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is not a whole backup of this version; the message says why.</exception>
    public static (long Index, long Term, BackupMetadata Metadata, byte[] Snapshot, string Sha256) Read(byte[] file)
    {
        var span = file.AsSpan();
        if (span.Length < Magic.Length || !span[..Magic.Length].SequenceEqual(Magic))
        {
            throw new InvalidDataException("it is not a Raft DLM backup (no RDLMBKUP magic)");
        }
        if (span.Length < 32 + 8 + Sha256Bytes) throw new InvalidDataException($"it is truncated ({span.Length} bytes)");
        var version = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if (version != Version) throw new InvalidDataException($"it is a version-{version} backup; this server reads version {Version}");
        var index = BinaryPrimitives.ReadInt64LittleEndian(span[12..]);
        var term = BinaryPrimitives.ReadInt64LittleEndian(span[20..]);
        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(span[28..]);
        if (metadataLength is < 0 or > MetadataMaxBytes || 32L + metadataLength + 8 + Sha256Bytes > span.Length)
        {
            throw new InvalidDataException($"it is truncated or corrupt (metadata of {metadataLength} bytes in a file of {span.Length})");
        }
        var snapshotLength = BinaryPrimitives.ReadInt64LittleEndian(span[(32 + metadataLength)..]);
        var snapshotStart = 32 + metadataLength + 8;
        if (snapshotLength < 0 || snapshotStart + snapshotLength + Sha256Bytes != span.Length)
        {
            throw new InvalidDataException($"it is truncated or corrupt ({span.Length} bytes, the header announces {snapshotStart + snapshotLength + Sha256Bytes})");
        }
        var body = span[..^Sha256Bytes];
        var expected = Convert.ToHexStringLower(span[^Sha256Bytes..]);
        var actual = Convert.ToHexStringLower(SHA256.HashData(body));
        if (expected != actual) throw new InvalidDataException($"its checksum does not match (SHA-256 {actual}, recorded {expected})");
        if (index <= 0) throw new InvalidDataException($"it names index {index}");
        BackupMetadata metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<BackupMetadata>(span.Slice(32, metadataLength))
                ?? throw new InvalidDataException("its metadata is empty");
        }
        catch (JsonException error)
        {
            throw new InvalidDataException("its metadata is not valid JSON: " + error.Message);
        }
        var snapshot = span.Slice(snapshotStart, (int)snapshotLength).ToArray();
        return (index, term, metadata, snapshot, Convert.ToHexStringLower(SHA256.HashData(snapshot)));
    }

    /// <summary>The text form of the checksum of the whole file (its trailer).</summary>
    public static string Checksum(ReadOnlySpan<byte> file) => Convert.ToHexStringLower(file[^Sha256Bytes..]);
}
