namespace RaftDlm.Consensus.Storage;

internal readonly record struct LogRecord(long Index, long Term, byte Flags, ReadOnlyMemory<byte> Payload);
