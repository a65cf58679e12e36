namespace RaftDlm.Consensus.Storage;

/// The file system as the log sees it; tests substitute a layer that simulates power loss.
internal interface IStorageFiles
{
    IStorageFile OpenOrCreate(string path);          // read/write; creates an empty file if missing
    bool Exists(string path);
    void Delete(string path);
    void Rename(string from, string to);             // atomic replace
    IReadOnlyList<string> List(string directory, string searchPattern); // full paths, ordinal-sorted
    void CreateDirectory(string path);
    void SyncDirectory(string path);                 // makes creates/renames/deletes in it durable
}

internal interface IStorageFile : IDisposable
{
    long Length { get; }
    int Read(long offset, Span<byte> buffer);        // returns bytes read (short at end of file)
    void Write(long offset, ReadOnlySpan<byte> data);
    void SetLength(long length);
    void Sync();                                     // fdatasync: data durable (no metadata unless size changed)
}
