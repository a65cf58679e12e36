using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// docs/formats.md: a version this build does not know is refused with its number and the versions this build
/// reads, never read as something else.
/// </summary>
public sealed class FormatVersionTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("raftdlm-formats-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData(0xD3, 3)]
    [InlineData(0xDF, 15)]
    public void An_envelope_of_a_newer_version_is_named_by_its_version(byte marker, int version)
    {
        var bytes = EntryEnvelope.Encode(new EnvelopeHeader(new ProposalId(1, 2), 3), [9, 9]);
        bytes[0] = marker;

        Assert.Equal(version, EntryEnvelope.NewerVersion(new ReadOnlySequence<byte>(bytes)));
        Assert.False(EntryEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Theory]
    [InlineData(0xD1)]
    [InlineData(0xD2)]
    [InlineData(0x00)]
    [InlineData(0xE0)]
    public void A_version_one_or_two_envelope_or_bytes_no_envelope_starts_with_are_not_a_newer_version(byte marker)
    {
        var bytes = EntryEnvelope.Encode(new EnvelopeHeader(new ProposalId(1, 2), 3), [9]);
        bytes[0] = marker;

        Assert.Null(EntryEnvelope.NewerVersion(new ReadOnlySequence<byte>(bytes)));
        Assert.Null(EntryEnvelope.NewerVersion(ReadOnlySequence<byte>.Empty));
    }

    [Fact]
    public void The_refusal_names_the_version_found_and_the_versions_read()
    {
        var refused = UnsupportedFormatException.Newer("Log entry 42's envelope", 2, "version 1");

        Assert.Contains("Log entry 42's envelope has format version 2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("it reads version 1", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Upgrade this node", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_snapshot_file_of_a_newer_version_is_refused_with_its_version_and_nothing_is_installed()
    {
        var bytes = new byte[200];
        SnapshotFiles.WriteHeader(bytes, 42, leaderTimeMs: 1_700_000_000_000);
        bytes[3] = (byte)'2'; // "RDS2"

        var refused = await Assert.ThrowsAsync<InvalidDataException>(() => SnapshotFiles.InstallAsync(
            _directory, 42, 1, bytes.Length, Convert.ToHexStringLower(SHA256.HashData(bytes)), new MemoryStream(bytes), CancellationToken.None));

        Assert.Contains("format version 2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("RDS1", refused.Message, StringComparison.Ordinal);
        Assert.Null(SnapshotFiles.Newest(_directory));
    }

    [Fact]
    public void Bytes_that_are_no_snapshot_file_are_refused_as_such()
    {
        var refused = SnapshotFiles.Unreadable("the snapshot", "PK\u0003\u0004 and more"u8);

        Assert.Contains("is not a snapshot file", refused.Message, StringComparison.Ordinal);
        Assert.Contains("504B0304", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wal_checkpoint_of_another_version_is_refused_with_its_version()
    {
        var log = Directory.CreateDirectory(Path.Combine(_directory, "wal"));
        var checkpoint = new byte[20];
        BinaryPrimitives.WriteInt32LittleEndian(checkpoint, 2);
        await File.WriteAllBytesAsync(Path.Combine(log.FullName, "checkpoint"), checkpoint);

        var refused = Assert.Throws<InvalidDataException>(() => SnapshotFiles.LastLogIndex(_directory));
        Assert.Contains("format version 2", refused.Message, StringComparison.Ordinal);
        Assert.Contains("checkpoint version 1", refused.Message, StringComparison.Ordinal);
    }
}
