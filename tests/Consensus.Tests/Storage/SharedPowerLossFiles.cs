using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus.Tests.Storage;

/// <summary>
/// A <see cref="PowerLossFiles"/> under a running node: one lock around every call, so that the node's threads
/// (appends, the flusher, the applier) and the test's <see cref="Crash"/> take turns; and a count of the file syncs.
/// </summary>
internal sealed class SharedPowerLossFiles(PowerLossFiles files) : IStorageFiles
{
    private readonly Lock _gate = new();
    private long _syncs;

    /// <summary>How many times a file of this layer was synced.</summary>
    public long Syncs => Interlocked.Read(ref _syncs);

    /// <summary>What a power cut now would leave (the node goes on writing to this layer, not to the result).</summary>
    public PowerLossFiles Crash(Random random)
    {
        lock (_gate)
        {
            return files.Crash(random);
        }
    }

    public IStorageFile OpenOrCreate(string path)
    {
        lock (_gate)
        {
            return new SharedFile(this, files.OpenOrCreate(path));
        }
    }

    public bool Exists(string path)
    {
        lock (_gate)
        {
            return files.Exists(path);
        }
    }

    public void Delete(string path)
    {
        lock (_gate)
        {
            files.Delete(path);
        }
    }

    public void Rename(string from, string to)
    {
        lock (_gate)
        {
            files.Rename(from, to);
        }
    }

    public IReadOnlyList<string> List(string directory, string searchPattern)
    {
        lock (_gate)
        {
            return files.List(directory, searchPattern);
        }
    }

    public void CreateDirectory(string path)
    {
        lock (_gate)
        {
            files.CreateDirectory(path);
        }
    }

    public void SyncDirectory(string path)
    {
        lock (_gate)
        {
            files.SyncDirectory(path);
        }
    }

    private sealed class SharedFile(SharedPowerLossFiles owner, IStorageFile file) : IStorageFile
    {
        public long Length
        {
            get
            {
                lock (owner._gate)
                {
                    return file.Length;
                }
            }
        }

        public int Read(long offset, Span<byte> buffer)
        {
            lock (owner._gate)
            {
                return file.Read(offset, buffer);
            }
        }

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            lock (owner._gate)
            {
                file.Write(offset, data);
            }
        }

        public void SetLength(long length)
        {
            lock (owner._gate)
            {
                file.SetLength(length);
            }
        }

        public void Sync()
        {
            lock (owner._gate)
            {
                file.Sync();
            }
            Interlocked.Increment(ref owner._syncs);
        }

        public void Dispose()
        {
            lock (owner._gate)
            {
                file.Dispose();
            }
        }
    }
}
