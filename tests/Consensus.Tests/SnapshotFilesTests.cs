using System.Buffers.Binary;
using System.Security.Cryptography;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// A snapshot received from a peer is installed whole or not at all: the checks refuse every damaged or
/// cut-off copy, and a copy cut off at any byte (a crash or a dropped connection mid-download) leaves the
/// data directory as empty as it was.
/// </summary>
public sealed class SnapshotFilesTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("raftdlm-snapshots-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task A_whole_snapshot_is_installed_under_its_index_and_term()
    {
        var bytes = Snapshot(index: 300, size: 5_000);
        Assert.Equal(0, SnapshotFiles.LastLogIndex(_directory));

        var installed = await InstallAsync(bytes, index: 300, term: 7);

        Assert.Equal(new SnapshotFile(Path.Combine(_directory, "snapshots", "300-7"), 300, 7, bytes.Length), installed);
        Assert.Equal(bytes, await File.ReadAllBytesAsync(installed.Path));
        Assert.Equal(installed, SnapshotFiles.Newest(_directory));
        Assert.Equal(300, SnapshotFiles.LastLogIndex(_directory));
        Assert.Equal(["300-7"], Directory.GetFiles(Path.Combine(_directory, "snapshots")).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_newest_snapshot_is_the_one_with_the_highest_index()
    {
        await InstallAsync(Snapshot(index: 90, size: 100), index: 90, term: 2);
        await InstallAsync(Snapshot(index: 1_000, size: 100), index: 1_000, term: 3);
        await InstallAsync(Snapshot(index: 200, size: 100), index: 200, term: 3);

        Assert.Equal(1_000, SnapshotFiles.Newest(_directory)!.Index);
    }

    [Fact]
    public async Task Every_cut_off_copy_is_refused_and_leaves_the_directory_empty()
    {
        var bytes = Snapshot(index: 42, size: 600);
        var cuts = Enumerable.Range(0, bytes.Length).Where(cut => cut % 7 == 0 || cut > bytes.Length - 30);
        foreach (var cut in cuts)
        {
            await Assert.ThrowsAsync<InvalidDataException>(() =>
                SnapshotFiles.InstallAsync(_directory, 42, 1, bytes.Length, Sha256(bytes), new MemoryStream(bytes[..cut]), CancellationToken.None));
            Assert.True(SnapshotFiles.LastLogIndex(_directory) == 0, $"a copy cut at byte {cut} left a snapshot behind");
            Assert.Null(SnapshotFiles.Newest(_directory));
        }
    }

    [Fact]
    public async Task A_damaged_longer_or_mislabelled_copy_is_refused()
    {
        var bytes = Snapshot(index: 42, size: 600);
        var flipped = (byte[])bytes.Clone();
        flipped[300] ^= 0x20;

        await Assert.ThrowsAsync<InvalidDataException>(() =>
            SnapshotFiles.InstallAsync(_directory, 42, 1, bytes.Length, Sha256(bytes), new MemoryStream(flipped), CancellationToken.None));
        await Assert.ThrowsAsync<InvalidDataException>(() =>
            SnapshotFiles.InstallAsync(_directory, 42, 1, bytes.Length, Sha256(bytes), new MemoryStream([.. bytes, 0]), CancellationToken.None));
        // The bytes are right but the peer named another index: the header inside says 42.
        await Assert.ThrowsAsync<InvalidDataException>(() =>
            SnapshotFiles.InstallAsync(_directory, 43, 1, bytes.Length, Sha256(bytes), new MemoryStream(bytes), CancellationToken.None));
        var foreign = (byte[])bytes.Clone();
        foreign[0] ^= 0xFF;
        await Assert.ThrowsAsync<InvalidDataException>(() =>
            SnapshotFiles.InstallAsync(_directory, 42, 1, foreign.Length, Sha256(foreign), new MemoryStream(foreign), CancellationToken.None));

        Assert.Equal(0, SnapshotFiles.LastLogIndex(_directory));
    }

    [Fact]
    public async Task A_partial_file_left_by_a_crash_is_not_a_snapshot_and_the_next_install_replaces_it()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_directory, "snapshots"));
        var bytes = Snapshot(index: 77, size: 400);
        await File.WriteAllBytesAsync(Path.Combine(folder.FullName, "incoming.partial"), bytes[..123]);

        Assert.Equal(0, SnapshotFiles.LastLogIndex(_directory));

        await InstallAsync(bytes, index: 77, term: 4);
        Assert.Equal(["77-4"], Directory.GetFiles(folder.FullName).Select(Path.GetFileName));
    }

    [Fact]
    public async Task The_log_ends_where_its_checkpoint_or_a_newer_snapshot_says()
    {
        var log = Directory.CreateDirectory(Path.Combine(_directory, "wal"));
        var checkpoint = new byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(checkpoint, 1);
        BinaryPrimitives.WriteInt64LittleEndian(checkpoint.AsSpan(4), 15);
        BinaryPrimitives.WriteInt64LittleEndian(checkpoint.AsSpan(12), 20);
        await File.WriteAllBytesAsync(Path.Combine(log.FullName, "checkpoint"), checkpoint);
        Assert.Equal(20, SnapshotFiles.LastLogIndex(_directory));

        await InstallAsync(Snapshot(index: 10, size: 100), index: 10, term: 1);
        Assert.Equal(20, SnapshotFiles.LastLogIndex(_directory));
        await InstallAsync(Snapshot(index: 35, size: 100), index: 35, term: 2);
        Assert.Equal(35, SnapshotFiles.LastLogIndex(_directory));

        BinaryPrimitives.WriteInt32LittleEndian(checkpoint, 2);
        await File.WriteAllBytesAsync(Path.Combine(log.FullName, "checkpoint"), checkpoint);
        Assert.Throws<InvalidDataException>(() => SnapshotFiles.LastLogIndex(_directory));
    }

    private Task<SnapshotFile> InstallAsync(byte[] bytes, long index, long term) =>
        SnapshotFiles.InstallAsync(_directory, index, term, bytes.Length, Sha256(bytes), new MemoryStream(bytes), CancellationToken.None);

    /// <summary>A file in the snapshot format: the project's header naming <paramref name="index"/>, then machine bytes.</summary>
    private static byte[] Snapshot(long index, int size)
    {
        var bytes = new byte[size];
        new Random((int)index).NextBytes(bytes);
        SnapshotFiles.WriteHeader(bytes, index, leaderTimeMs: 1_700_000_000_000);
        return bytes;
    }

    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
