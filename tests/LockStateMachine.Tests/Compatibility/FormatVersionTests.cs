using System.Buffers;
using MessagePack;

namespace RaftDlm.LockStateMachine.Tests.Compatibility;

/// <summary>
/// docs/formats.md: a command kind or a lock table snapshot version this build does not know is refused with
/// its number, never decoded as something else (MessagePack alone reads an unknown union key as null).
/// </summary>
public sealed class FormatVersionTests
{
    [Fact]
    public void The_known_command_kinds_are_the_union_keys_0_to_12()
    {
        Assert.Equal(12, CommandCodec.LastCommandKind);
        Assert.IsType<PurgeOrphans>(CommandCodec.TryDecode(CommandCodec.Encode(new PurgeOrphans("ls", "r")), out _, out var unknownKind));
        Assert.Null(unknownKind);
    }

    [Theory]
    [InlineData(13)]
    [InlineData(200)]
    public void A_command_of_a_newer_kind_is_named_by_its_kind_not_read_as_an_empty_command(int kind)
    {
        var bytes = Union(kind, (ref MessagePackWriter writer) =>
        {
            writer.WriteArrayHeader(2);
            writer.Write("ls");
            writer.Write(7L);
        });

        var decoded = CommandCodec.TryDecode(bytes, out var error, out var unknownKind);

        Assert.Null(decoded);
        Assert.Equal(kind, unknownKind);
        Assert.Contains($"command kind {kind}", error, StringComparison.Ordinal);
        Assert.Contains("0 to 12", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Garbage_is_not_a_newer_kind()
    {
        Assert.Null(CommandCodec.TryDecode(new byte[] { 0xC1, 0x00 }, out var error, out var unknownKind));
        Assert.Null(unknownKind);
        Assert.NotNull(error);
        Assert.Null(CommandCodec.TryDecode(Union(-1, (ref MessagePackWriter writer) => writer.WriteNil()), out _, out unknownKind));
        Assert.Null(unknownKind);
    }

    [Fact]
    public void A_lock_table_snapshot_of_a_newer_version_is_refused_with_its_version()
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.Write("raft-dlm-snapshot");
        writer.Write(4);
        writer.WriteArrayHeader(0);
        writer.Flush();

        var refused = Assert.Throws<InvalidDataException>(() => LockMachine.Restore(buffer.WrittenMemory));

        Assert.Contains("snapshot version 4", refused.Message, StringComparison.Ordinal);
        Assert.Contains("reads 1 to 3", refused.Message, StringComparison.Ordinal);
    }

    private delegate void BodyWriter(ref MessagePackWriter writer);

    /// <summary>A union as MessagePack-CSharp writes one: <c>[key, body]</c>.</summary>
    private static byte[] Union(int key, BodyWriter body)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(2);
        writer.Write(key);
        body(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
