using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.Client;

/// <summary>What a backup file (<c>GET /v1/snapshot</c>) says about itself, and whether its checksum holds.</summary>
public sealed record SnapshotBackupInfo(
    int Version, long Index, long Term, string NodeId, string CreatedAt, int Lockspaces, int Sessions, int Resources, int Locks,
    long MaxFencingToken, long SizeBytes, string Sha256, bool ChecksumOk);

/// <summary>
/// Reads the backup files the server writes (<c>GET /v1/snapshot</c>, docs/api.md), without the server. Layout,
/// little-endian: <c>[magic "RDLMBKUP":8][version:4][index:8][term:8][metadata length:4][metadata: UTF-8 JSON]
/// [snapshot length:8][snapshot][SHA-256 of all before:32]</c>.
/// </summary>
public static class SnapshotBackup
{
    /// <summary>The backup format this library reads.</summary>
    public const int Version = 1;
    private const int FixedHeadBytes = 32;
    private const int Sha256Bytes = 32;
    private const int MetadataMaxBytes = 64 * 1024;

    /// <summary>
    /// Reads a backup's header and metadata and checks its SHA-256 trailer over the whole file (streamed).
    /// </summary>
    /// <exception cref="InvalidDataException">Not a backup, another version, or truncated; the message says which.</exception>
    public static async Task<SnapshotBackupInfo> ReadInfoAsync(string path, CancellationToken ct = default)
    {
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        var head = new byte[FixedHeadBytes];
        var got = await file.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
        if (got < 8 || !head.AsSpan(0, 8).SequenceEqual("RDLMBKUP"u8)) throw new InvalidDataException($"{path} is not a Raft DLM backup (no RDLMBKUP magic)");
        if (got < head.Length) throw new InvalidDataException($"{path} is truncated ({file.Length} bytes)");
        var version = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(8));
        if (version != Version) throw new InvalidDataException($"{path} is a version-{version} backup; this dlmctl reads version {Version}");
        var index = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(12));
        var term = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(20));
        var metadataLength = BinaryPrimitives.ReadInt32LittleEndian(head.AsSpan(28));
        if (metadataLength is < 0 or > MetadataMaxBytes || FixedHeadBytes + metadataLength + 8L + Sha256Bytes > file.Length)
        {
            throw new InvalidDataException($"{path} is truncated or corrupt (metadata of {metadataLength} bytes in a file of {file.Length})");
        }
        var rest = new byte[metadataLength + 8];
        await file.ReadExactlyAsync(rest, ct).ConfigureAwait(false);
        var snapshotLength = BinaryPrimitives.ReadInt64LittleEndian(rest.AsSpan(metadataLength));
        var announced = FixedHeadBytes + metadataLength + 8 + snapshotLength + Sha256Bytes;
        if (snapshotLength < 0 || announced != file.Length)
        {
            throw new InvalidDataException($"{path} is truncated or corrupt ({file.Length} bytes, its header announces {announced})");
        }
        Metadata metadata;
        try
        {
            metadata = JsonSerializer.Deserialize<Metadata>(rest.AsSpan(0, metadataLength)) ?? throw new InvalidDataException($"{path} has empty metadata");
        }
        catch (JsonException error)
        {
            throw new InvalidDataException($"{path} has metadata that is not valid JSON: {error.Message}");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(head);
        hash.AppendData(rest);
        var buffer = new byte[1 << 16];
        for (var left = snapshotLength; left > 0;)
        {
            var read = await file.ReadAsync(buffer.AsMemory(0, (int)long.Min(buffer.Length, left)), ct).ConfigureAwait(false);
            if (read == 0) throw new InvalidDataException($"{path} ended early");
            hash.AppendData(buffer, 0, read);
            left -= read;
        }
        var trailer = new byte[Sha256Bytes];
        await file.ReadExactlyAsync(trailer, ct).ConfigureAwait(false);
        var actual = hash.GetHashAndReset();
        return new SnapshotBackupInfo(version, index, term, metadata.NodeId ?? "", metadata.CreatedAt ?? "", metadata.Lockspaces, metadata.Sessions,
            metadata.Resources, metadata.Locks, metadata.MaxFencingToken, file.Length, Convert.ToHexStringLower(trailer), actual.AsSpan().SequenceEqual(trailer));
    }

    private sealed record Metadata(
        [property: JsonPropertyName("nodeId")] string? NodeId,
        [property: JsonPropertyName("createdAt")] string? CreatedAt,
        [property: JsonPropertyName("lockspaces")] int Lockspaces,
        [property: JsonPropertyName("sessions")] int Sessions,
        [property: JsonPropertyName("resources")] int Resources,
        [property: JsonPropertyName("locks")] int Locks,
        [property: JsonPropertyName("maxFencingToken")] long MaxFencingToken);
}
