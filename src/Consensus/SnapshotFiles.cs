using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace RaftDlm.Consensus;

/// <summary>One snapshot file on disk: its path, the log index and term it covers, and its size.</summary>
public sealed record SnapshotFile(string Path, long Index, long Term, long SizeBytes);

/// <summary>
/// The snapshot files of a node's data directory, as DotNext's state machine keeps them: one file per snapshot
/// in <c>snapshots/</c>, named <c>{index}-{term}</c>, holding this project's header
/// ([magic "RDS1":4][index:8][leader time:8], little-endian) and then the replicated machine's own bytes.
/// A node that starts with an empty data directory may be given the newest snapshot of a peer here
/// (<see cref="InstallAsync"/>) before it starts, so that it does not need Raft's single-request snapshot
/// install, which a large table cannot finish within the Raft request timeout.
/// </summary>
public static class SnapshotFiles
{
    public const int HeaderSizeBytes = 4 + 8 + 8;
    private const uint Magic = 0x31534452; // "RDS1"
    private const string SnapshotFolder = "snapshots", LogFolder = "wal", PartialName = "incoming.partial";

    /// <summary>
    /// The last log index this data directory covers: the end of the log its checkpoint names (DotNext's
    /// version-1 layout, [version:4][commit index:8][last index:8]; entries past it are not recovered at
    /// start) or the newest snapshot's index, whichever is higher; 0 when there is neither.
    /// </summary>
    public static long LastLogIndex(string dataDirectory)
    {
        var last = Newest(dataDirectory)?.Index ?? 0;
        if (SegmentedLog.ExistsIn(dataDirectory))
        {
            // Opened only to read its end: no segment is prepared ahead (nothing is appended here).
            using var records = Storage.RecordLog.Open(Storage.OsStorageFiles.Instance, System.IO.Path.Combine(dataDirectory, SegmentedLog.LogFolder),
                segmentBytes: 64 * 1024, preallocateInBackground: false);
            return long.Max(last, records.LastIndex);
        }
        var checkpoint = System.IO.Path.Combine(dataDirectory, LogFolder, "checkpoint");
        if (!File.Exists(checkpoint)) return last;
        Span<byte> bytes = stackalloc byte[20];
        using (var file = File.OpenHandle(checkpoint))
        {
            if (RandomAccess.Read(file, bytes, 0) != bytes.Length)
            {
                throw new InvalidDataException($"{checkpoint} is shorter than a checkpoint ({bytes.Length} bytes)");
            }
            if (BinaryPrimitives.ReadInt32LittleEndian(bytes) is var version and not 1)
            {
                throw new InvalidDataException(UnsupportedFormatException.NewerMessage(checkpoint, version, "DotNext's checkpoint version 1"));
            }
        }
        return long.Max(last, BinaryPrimitives.ReadInt64LittleEndian(bytes[12..]));
    }

    /// <summary>The snapshot with the highest index, or null when there is none.</summary>
    public static SnapshotFile? Newest(string dataDirectory)
    {
        var folder = new DirectoryInfo(System.IO.Path.Combine(dataDirectory, SnapshotFolder));
        if (!folder.Exists) return null;
        SnapshotFile? newest = null;
        foreach (var file in folder.EnumerateFiles("*-*", SearchOption.TopDirectoryOnly))
        {
            if (!TryParseName(file.Name, out var index, out var term))
            {
                continue;
            }
            if (newest is null || index > newest.Index) newest = new SnapshotFile(file.FullName, index, term, file.Length);
        }
        return newest;
    }

    /// <summary>Reads a snapshot file's name, "{index}-{term}".</summary>
    internal static bool TryParseName(string name, out long index, out long term)
    {
        var parts = name.Split('-');
        term = 0;
        index = 0;
        return parts.Length == 2
            && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out term);
    }

    /// <summary>The SHA-256 of a file, as lower-case hex.</summary>
    public static async Task<string> Sha256Async(Stream content, CancellationToken ct) =>
        Convert.ToHexStringLower(await SHA256.HashDataAsync(content, ct).ConfigureAwait(false));

    /// <summary>
    /// Writes a snapshot received from a peer into the data directory, crash-safely: the bytes go to a partial
    /// file that is checked (size, SHA-256, header naming the same index), flushed to disk, and only then
    /// renamed to its final name, and the folder is flushed. A crash at any point leaves either no snapshot
    /// (the partial file is not a snapshot name and is replaced by the next try) or the whole one.
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not the snapshot described; nothing was installed.</exception>
    public static async Task<SnapshotFile> InstallAsync(string dataDirectory, long index, long term, long sizeBytes, string sha256,
        Stream content, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(index);
        ArgumentOutOfRangeException.ThrowIfNegative(term);
        var folder = Directory.CreateDirectory(System.IO.Path.Combine(dataDirectory, SnapshotFolder));
        var partial = System.IO.Path.Combine(folder.FullName, PartialName);
        var final = System.IO.Path.Combine(folder.FullName, string.Create(CultureInfo.InvariantCulture, $"{index}-{term}"));
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[1 << 16];
                long written = 0;
                int read;
                while ((read = await content.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
                {
                    written += read;
                    if (written > sizeBytes) throw new InvalidDataException($"the snapshot is longer than the {sizeBytes} bytes announced");
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                }
                if (written != sizeBytes) throw new InvalidDataException($"the snapshot ended after {written} of {sizeBytes} bytes");
                var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (!string.Equals(actual, sha256, StringComparison.OrdinalIgnoreCase))
                {
                    throw new InvalidDataException($"the snapshot's SHA-256 is {actual}, not {sha256}");
                }
                CheckHeader(file, index);
                file.Flush(flushToDisk: true);
            }
            File.Move(partial, final, overwrite: true);
            FlushFolder(folder.FullName);
            return new SnapshotFile(final, index, term, sizeBytes);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    /// <summary>Writes the header of a snapshot file: the magic, the index it covers, the leader time of that entry.</summary>
    public static void WriteHeader(Span<byte> destination, long index, long leaderTimeMs)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteInt64LittleEndian(destination[4..], index);
        BinaryPrimitives.WriteInt64LittleEndian(destination[12..], leaderTimeMs);
    }

    /// <summary>Reads the header of a snapshot file; false when the bytes are not one.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> source, out long index, out long leaderTimeMs)
    {
        var valid = source.Length >= HeaderSizeBytes && BinaryPrimitives.ReadUInt32LittleEndian(source) == Magic;
        index = valid ? BinaryPrimitives.ReadInt64LittleEndian(source[4..]) : 0;
        leaderTimeMs = valid ? BinaryPrimitives.ReadInt64LittleEndian(source[12..]) : 0;
        return valid;
    }

    /// <summary>
    /// Why a header is not one this build reads: "RDS" and another version digit is a snapshot file of another
    /// version (refused with its number); anything else is not a snapshot file at all.
    /// </summary>
    internal static InvalidDataException Unreadable(string what, ReadOnlySpan<byte> header)
    {
        if (header.Length >= 4 && header[..3].SequenceEqual("RDS"u8) && header[3] is >= (byte)'2' and <= (byte)'9')
        {
            return new InvalidDataException(UnsupportedFormatException.NewerMessage(what, header[3] - '0', "version 1, magic \"RDS1\""));
        }
        return new InvalidDataException($"{what} is not a snapshot file: it does not start with the magic \"RDS1\" (first bytes {Convert.ToHexString(header[..int.Min(header.Length, 4)])})");
    }

    private static void CheckHeader(FileStream file, long index)
    {
        Span<byte> header = stackalloc byte[HeaderSizeBytes];
        file.Position = 0;
        file.ReadExactly(header);
        if (!TryReadHeader(header, out var inside, out _)) throw Unreadable("the snapshot", header);
        if (inside != index) throw new InvalidDataException($"the snapshot's header names index {inside}, not {index}");
    }

    /// <summary>Makes a rename durable: on Linux a file's new name is on disk only once its folder is flushed.</summary>
    internal static void FlushFolder(string folder)
    {
        if (!OperatingSystem.IsLinux()) return;
        var descriptor = Open(System.Text.Encoding.UTF8.GetBytes(folder + "\0"), 0);
        if (descriptor < 0) throw new IOException($"cannot open {folder} to flush it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(descriptor) != 0) throw new IOException($"cannot flush {folder} (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(descriptor);
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int Open(byte[] path, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int descriptor);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int descriptor);
}
