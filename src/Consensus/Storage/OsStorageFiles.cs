namespace RaftDlm.Consensus.Storage;

/// Real files through SafeFileHandle and RandomAccess.
internal sealed class OsStorageFiles : IStorageFiles
{
    public static OsStorageFiles Instance { get; } = new();

    private OsStorageFiles()
    {
    }

    public IStorageFile OpenOrCreate(string path) => throw new NotImplementedException();

    public bool Exists(string path) => throw new NotImplementedException();

    public void Delete(string path) => throw new NotImplementedException();

    public void Rename(string from, string to) => throw new NotImplementedException();

    public IReadOnlyList<string> List(string directory, string searchPattern) => throw new NotImplementedException();

    public void CreateDirectory(string path) => throw new NotImplementedException();

    public void SyncDirectory(string path) => throw new NotImplementedException();
}
