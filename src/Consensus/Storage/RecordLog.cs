namespace RaftDlm.Consensus.Storage;

/// One record per log entry, in preallocated segment files of the directory, one fdatasync per Sync().
internal sealed class RecordLog : IDisposable
{
    private RecordLog()
    {
    }

    public static RecordLog Open(IStorageFiles files, string directory, long segmentBytes = 64 * 1024 * 1024) =>
        throw new NotImplementedException();

    // After Open: records whose checksum fails (a torn tail) and everything after them are cut (durably).
    public long FirstIndex => throw new NotImplementedException();   // first index held; == LastIndex + 1 when empty

    public long LastIndex => throw new NotImplementedException();    // 0 for a new log; after ResetTo(s): s

    public void Append(long index, long term, byte flags, ReadOnlySpan<byte> payload) => throw new NotImplementedException();

    public void Sync() => throw new NotImplementedException();

    public void TruncateAfter(long index) => throw new NotImplementedException();

    public void ResetTo(long index) => throw new NotImplementedException();

    public void DropThrough(long index) => throw new NotImplementedException();

    public LogRecord Read(long index) => throw new NotImplementedException();

    public void Dispose() => throw new NotImplementedException();
}
