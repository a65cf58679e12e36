using System.Buffers;

namespace RaftDlm.Consensus.Tests;

public sealed class EntryEnvelopeTests
{
    private static readonly EnvelopeHeader SampleHeader = new(new ProposalId(0x0102030405060708, 42), 1_700_000_000_123);

    [Fact]
    public void EncodeThenDecode_RoundTrips()
    {
        byte[] command = [1, 2, 3, 250];
        var bytes = EntryEnvelope.Encode(SampleHeader, command);

        Assert.Equal(EntryEnvelope.HeaderSizeBytes + command.Length, bytes.Length);
        Assert.True(EntryEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out var header, out var decoded));
        Assert.Equal(SampleHeader, header);
        Assert.Equal(command, decoded.ToArray());
    }

    [Fact]
    public void Layout_IsVersionByteThenLittleEndianFields()
    {
        var bytes = EntryEnvelope.Encode(SampleHeader, []);

        Assert.Equal(EntryEnvelope.FormatV1, bytes[0]);
        Assert.Equal(new byte[] { 8, 7, 6, 5, 4, 3, 2, 1 }, bytes[1..9]);
        Assert.Equal(42, BitConverter.ToInt64(bytes, 9));
        Assert.Equal(1_700_000_000_123, BitConverter.ToInt64(bytes, 17));
    }

    [Fact]
    public void EmptyCommand_RoundTrips()
    {
        var bytes = EntryEnvelope.Encode(SampleHeader, []);

        Assert.True(EntryEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out var header, out var decoded));
        Assert.Equal(SampleHeader, header);
        Assert.True(decoded.IsEmpty);
    }

    [Fact]
    public void MultiSegmentPayload_Decodes()
    {
        byte[] command = [.. Enumerable.Range(0, 100).Select(i => (byte)i)];
        var bytes = EntryEnvelope.Encode(SampleHeader, command);
        var sequence = Segments.Split(bytes, 7, 30); // splits inside the header and inside the command

        Assert.False(sequence.IsSingleSegment);
        Assert.True(EntryEnvelope.TryDecode(sequence, out var header, out var decoded));
        Assert.Equal(SampleHeader, header);
        Assert.Equal(command, decoded.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(EntryEnvelope.HeaderSizeBytes - 1)]
    public void TooShortPayload_IsRejected(int length)
    {
        var bytes = EntryEnvelope.Encode(SampleHeader, [9, 9])[..length];

        Assert.False(EntryEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out _, out _));
    }

    [Fact]
    public void UnknownFormatByte_IsRejected()
    {
        var bytes = EntryEnvelope.Encode(SampleHeader, [9]);
        bytes[0] = 0x00;

        Assert.False(EntryEnvelope.TryDecode(new ReadOnlySequence<byte>(bytes), out _, out _));
        Assert.False(EntryEnvelope.TryReadHeader(bytes, out _));
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Split(byte[] bytes, params int[] cuts)
        {
            var first = new Segments(bytes.AsMemory(0, cuts[0]), 0);
            var last = first;
            for (var i = 0; i < cuts.Length; i++)
            {
                var end = i + 1 < cuts.Length ? cuts[i + 1] : bytes.Length;
                var next = new Segments(bytes.AsMemory(cuts[i], end - cuts[i]), cuts[i]);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
