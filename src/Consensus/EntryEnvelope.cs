using System.Buffers;
using System.Buffers.Binary;

namespace RaftDlm.Consensus;

/// <summary>Identifies one proposal: a random per-process incarnation plus a counter.</summary>
internal readonly record struct ProposalId(long Incarnation, long Sequence);

/// <summary>The decoded fixed-size header of a log entry written by <see cref="RaftNode"/>.</summary>
internal readonly record struct EnvelopeHeader(ProposalId ProposalId, long LeaderTimeMs);

/// <summary>
/// The binary layout of every log entry proposed through <see cref="RaftNode.ProposeAsync"/>:
/// <c>[format:1][incarnation:8][sequence:8][leaderTimeMs:8][command:rest]</c>, integers little-endian.
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
    private const byte FormatBase = 0xD0, LastFormat = 0xDF;
    internal const int HeaderSizeBytes = 1 + 8 + 8 + 8;

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
    /// The version of an envelope newer than this build reads (its marker byte is 0xD2 to 0xDF), or null: a
    /// version-1 envelope, or bytes no version of the envelope starts with.
    /// </summary>
    public static int? NewerVersion(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsEmpty) return null;
        var marker = payload.FirstSpan[0];
        return marker is > FormatV1 and <= LastFormat ? marker - FormatBase : null;
    }

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
