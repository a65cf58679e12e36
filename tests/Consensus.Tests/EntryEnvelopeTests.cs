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
    public void ABatch_RoundTrips_CommandByCommand()
    {
        BatchedCommand[] commands = [new(new ProposalId(7, 1), new byte[] { 1, 2 }), new(new ProposalId(7, 2), Array.Empty<byte>()), new(new ProposalId(9, 3), new byte[] { 3 })];
        var bytes = EntryEnvelope.EncodeBatch(1_700_000_000_123, commands);

        Assert.Equal(EntryEnvelope.FormatV2, bytes[0]);
        Assert.True(EntryEnvelope.IsBatch(new ReadOnlySequence<byte>(bytes)));
        Assert.Null(EntryEnvelope.NewerVersion(new ReadOnlySequence<byte>(bytes)));
        var decoded = new List<BatchedCommand>();
        Assert.True(EntryEnvelope.TryDecodeBatch(new ReadOnlySequence<byte>(bytes), out var leaderTimeMs, decoded));
        Assert.Equal(1_700_000_000_123, leaderTimeMs);
        Assert.Equal(commands.Select(c => (c.ProposalId, c.Command.ToArray())), decoded.Select(c => (c.ProposalId, c.Command.ToArray())));
    }

    [Fact]
    public void ABatch_WhoseLengthsDoNotAddUp_IsNotDecoded()
    {
        var bytes = EntryEnvelope.EncodeBatch(5, [new(new ProposalId(1, 1), new byte[] { 1, 2, 3 }), new(new ProposalId(1, 2), new byte[] { 4 })]);
        var decoded = new List<BatchedCommand>();

        Assert.False(EntryEnvelope.TryDecodeBatch(new ReadOnlySequence<byte>(bytes[..^1]), out _, decoded));
        Assert.False(EntryEnvelope.TryDecodeBatch(new ReadOnlySequence<byte>([.. bytes, 0]), out _, decoded));
        var wrongCount = bytes.ToArray();
        BitConverter.TryWriteBytes(wrongCount.AsSpan(9), 3);
        Assert.False(EntryEnvelope.TryDecodeBatch(new ReadOnlySequence<byte>(wrongCount), out _, decoded));
        var negativeLength = bytes.ToArray();
        BitConverter.TryWriteBytes(negativeLength.AsSpan(13 + 16), -1);
        Assert.False(EntryEnvelope.TryDecodeBatch(new ReadOnlySequence<byte>(negativeLength), out _, decoded));
        Assert.Empty(decoded);
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
