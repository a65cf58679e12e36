using System.Buffers;
using System.Buffers.Binary;

namespace RaftDlm.Consensus;

/// <summary>Identifies one proposal: a random per-process incarnation plus a counter.</summary>
internal readonly record struct ProposalId(long Incarnation, long Sequence);

/// <summary>The decoded fixed-size header of a log entry written by <see cref="RaftNode"/>.</summary>
internal readonly record struct EnvelopeHeader(ProposalId ProposalId, long LeaderTimeMs);

/// <summary>One command of a batch entry, with the proposal it came from.</summary>
internal readonly record struct BatchedCommand(ProposalId ProposalId, ReadOnlyMemory<byte> Command);

/// <summary>
/// The binary layout of every log entry proposed through <see cref="RaftNode.ProposeAsync"/>, integers
/// little-endian. Version 1 holds one command: <c>[0xD1][incarnation:8][sequence:8][leaderTimeMs:8][command:rest]</c>.
/// Version 2 holds several, proposed together and stamped with one time:
/// <c>[0xD2][leaderTimeMs:8][count:4]</c> then, per command, <c>[incarnation:8][sequence:8][length:4][command:length]</c>.
/// A leader writes version 2 only for two commands or more.
/// </summary>
/// <remarks>
/// The proposal id lets the applier hand a reply only to the proposer whose entry it is: DotNext keys
/// proposer contexts by log index, and a new leader may overwrite an uncommitted index with another entry.
/// Entries DotNext appends itself are empty, so they can never be mistaken for an envelope.
/// </remarks>
internal static class EntryEnvelope
{
    /// <summary>The marker byte is 0xD0 plus the envelope's version: 0xD1 is version 1, 0xD2 to 0xDF are kept for versions 2 to 15.</summary>
    internal const byte FormatV1 = 0xD1;
    internal const byte FormatV2 = 0xD2;
    private const byte FormatBase = 0xD0, LastFormat = 0xDF;
    internal const int HeaderSizeBytes = 1 + 8 + 8 + 8;
    private const int BatchHeaderSizeBytes = 1 + 8 + 4, BatchItemHeaderSizeBytes = 8 + 8 + 4;

    /// <summary>The bytes a command adds to a version-2 entry besides its own.</summary>
    internal const int BatchOverheadPerCommand = BatchItemHeaderSizeBytes;

    /// <summary>Encodes a version-2 entry of the given commands (two or more), all stamped with <paramref name="leaderTimeMs"/>.</summary>
    public static byte[] EncodeBatch(long leaderTimeMs, IReadOnlyList<BatchedCommand> commands)
    {
        var size = BatchHeaderSizeBytes;
        foreach (var item in commands) size += BatchItemHeaderSizeBytes + item.Command.Length;
        var buffer = new byte[size];
        buffer[0] = FormatV2;
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(1), leaderTimeMs);
        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(9), commands.Count);
        var at = BatchHeaderSizeBytes;
        foreach (var item in commands)
        {
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at), item.ProposalId.Incarnation);
            BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(at + 8), item.ProposalId.Sequence);
            BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(at + 16), item.Command.Length);
            item.Command.Span.CopyTo(buffer.AsSpan(at + BatchItemHeaderSizeBytes));
            at += BatchItemHeaderSizeBytes + item.Command.Length;
        }
        return buffer;
    }

    /// <summary>
    /// Decodes a version-2 entry into <paramref name="commands"/> (cleared first); false, with nothing added, for
    /// anything that is not a complete version-2 entry whose lengths add up exactly.
    /// </summary>
    public static bool TryDecodeBatch(in ReadOnlySequence<byte> payload, out long leaderTimeMs, List<BatchedCommand> commands)
    {
        commands.Clear();
        leaderTimeMs = 0;
        if (payload.Length < BatchHeaderSizeBytes || payload.FirstSpan[0] != FormatV2) return false;
        ReadOnlyMemory<byte> bytes = payload.IsSingleSegment ? payload.First : payload.ToArray();
        var span = bytes.Span;
        leaderTimeMs = BinaryPrimitives.ReadInt64LittleEndian(span[1..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[9..]);
        var at = BatchHeaderSizeBytes;
        for (var i = 0; i < count; i++)
        {
            if (span.Length - at < BatchItemHeaderSizeBytes) break;
            var id = new ProposalId(BinaryPrimitives.ReadInt64LittleEndian(span[at..]), BinaryPrimitives.ReadInt64LittleEndian(span[(at + 8)..]));
            var length = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 16)..]);
            at += BatchItemHeaderSizeBytes;
            if (length < 0 || length > span.Length - at) break;
            commands.Add(new BatchedCommand(id, bytes.Slice(at, length)));
            at += length;
        }
        if (count < 1 || commands.Count != count || at != span.Length)
        {
            commands.Clear();
            return false;
        }
        return true;
    }

    public static byte[] Encode(EnvelopeHeader header, ReadOnlySpan<byte> command)
    {
        var buffer = new byte[HeaderSizeBytes + command.Length];
        WriteHeader(buffer, header);
        command.CopyTo(buffer.AsSpan(HeaderSizeBytes));
        return buffer;
    }

    public static void WriteHeader(Span<byte> destination, EnvelopeHeader header)
    {
        if (destination.Length < HeaderSizeBytes)
        {
            throw new ArgumentException("Destination is shorter than the header.", nameof(destination));
        }
        destination[0] = FormatV1;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], header.ProposalId.Incarnation);
        BinaryPrimitives.WriteInt64LittleEndian(destination[9..], header.ProposalId.Sequence);
        BinaryPrimitives.WriteInt64LittleEndian(destination[17..], header.LeaderTimeMs);
    }

    /// <summary>Decodes the header; false for anything that is not a complete V1 header.</summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> source, out EnvelopeHeader header)
    {
        if (source.Length < HeaderSizeBytes || source[0] != FormatV1)
        {
            header = default;
            return false;
        }

        header = new(
            new(BinaryPrimitives.ReadInt64LittleEndian(source[1..]), BinaryPrimitives.ReadInt64LittleEndian(source[9..])),
            BinaryPrimitives.ReadInt64LittleEndian(source[17..]));
        return true;
    }

    /// <summary>
    /// The version of an envelope newer than this build reads (its marker byte is 0xD3 to 0xDF), or null: a
    /// version-1 or version-2 envelope, or bytes no version of the envelope starts with.
    /// </summary>
    public static int? NewerVersion(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsEmpty) return null;
        var marker = payload.FirstSpan[0];
        return marker is > FormatV2 and <= LastFormat ? marker - FormatBase : null;
    }

    /// <summary>Whether the payload is a version-2 (several commands) entry, complete or not.</summary>
    public static bool IsBatch(in ReadOnlySequence<byte> payload) => !payload.IsEmpty && payload.FirstSpan[0] == FormatV2;

    /// <summary>Decodes a possibly multi-segment payload without copying when it is one segment.</summary>
    public static bool TryDecode(in ReadOnlySequence<byte> payload, out EnvelopeHeader header, out ReadOnlyMemory<byte> command)
    {
        command = ReadOnlyMemory<byte>.Empty;
        if (payload.Length < HeaderSizeBytes)
        {
            header = default;
            return false;
        }

        Span<byte> headerBytes = stackalloc byte[HeaderSizeBytes];
        payload.Slice(0, HeaderSizeBytes).CopyTo(headerBytes);
        if (!TryReadHeader(headerBytes, out header))
        {
            return false;
        }

        var body = payload.Slice(HeaderSizeBytes);
        command = body.IsSingleSegment ? body.First : body.ToArray();
        return true;
    }
}
