using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus.Tests.Storage;

/// Thrown by every operation of a PowerLossFiles from its cut point on: the machine has lost power.
internal sealed class PowerCutException : Exception
{
    public PowerCutException()
        : base("The power was cut.")
    {
    }
}

/// An in-memory file system that keeps apart, per file, what is durable and the writes made since the file's
/// last Sync, and per directory the creates, renames and deletes made since its last SyncDirectory. Crash
/// returns the state a power cut leaves: the durable state, plus a random prefix of each file's unsynced
/// writes with the last one torn at a random byte (or, for one file in four, a random subset of them, any
/// of them torn into a random subset of its 512-byte sectors: the disk wrote back out of order), plus a
/// random subset of the unsynced
/// directory operations.
/// Every mutating operation is counted; the one numbered CutAt cuts the power (a write is made first, so
/// that it can be the torn one).
internal sealed class PowerLossFiles : IStorageFiles
{
    private readonly Dictionary<string, Inode> _current;
    private readonly Dictionary<string, Inode> _durable;
    private readonly List<DirectoryOperation> _pendingDirectoryOperations = [];
    private long _syncs;
    private bool _cut;

    public PowerLossFiles()
        : this(new Dictionary<string, Inode>(StringComparer.Ordinal))
    {
    }

    private PowerLossFiles(Dictionary<string, Inode> entries)
    {
        _current = new Dictionary<string, Inode>(entries, StringComparer.Ordinal);
        _durable = new Dictionary<string, Inode>(entries, StringComparer.Ordinal);
    }

    /// The number of the mutating operation that cuts the power (0: never).
    public long CutAt { get; set; }

    public long Operations { get; private set; }

    /// The number of the file Sync call that does nothing (0: none): the "forgotten fdatasync" a test must catch.
    public long IgnoredSync { get; set; }

    /// How many crashes kept a torn write; a test checks that the workload reaches them.
    public int TornWritesKept { get; private set; }

    public IStorageFile OpenOrCreate(string path)
    {
        if (!_current.TryGetValue(path, out var inode))
        {
            Count();
            inode = new Inode();
            _current[path] = inode;
            _pendingDirectoryOperations.Add(new DirectoryOperation(DirectoryOperationKind.Create, path, null, inode));
        }

        return new File(this, inode);
    }

    public bool Exists(string path) => _current.ContainsKey(path);

    public void Delete(string path)
    {
        Count();
        if (_current.Remove(path))
        {
            _pendingDirectoryOperations.Add(new DirectoryOperation(DirectoryOperationKind.Delete, path, null, null));
        }
    }

    public void Rename(string from, string to)
    {
        Count();
        if (!_current.Remove(from, out var inode))
        {
            throw new FileNotFoundException($"No file {from} to rename.");
        }

        _current[to] = inode;
        _pendingDirectoryOperations.Add(new DirectoryOperation(DirectoryOperationKind.Rename, from, to, inode));
    }

    public IReadOnlyList<string> List(string directory, string searchPattern)
    {
        // Only the patterns the log uses: "*" followed by a suffix.
        var suffix = searchPattern.TrimStart('*');
        return _current.Keys
            .Where(path => Path.GetDirectoryName(path) == directory && path.EndsWith(suffix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public void CreateDirectory(string path)
    {
        // Directories themselves are not modelled: they always exist.
    }

    public void SyncDirectory(string path)
    {
        Count();
        var kept = new List<DirectoryOperation>();
        foreach (var operation in _pendingDirectoryOperations)
        {
            if (Path.GetDirectoryName(operation.Path) == path)
            {
                Apply(_durable, operation);
            }
            else
            {
                kept.Add(operation);
            }
        }

        _pendingDirectoryOperations.Clear();
        _pendingDirectoryOperations.AddRange(kept);
    }

    /// The state after a power cut now, as a new file system whose everything is durable.
    public PowerLossFiles Crash(Random random)
    {
        var entries = new Dictionary<string, Inode>(_durable, StringComparer.Ordinal);
        foreach (var operation in _pendingDirectoryOperations)
        {
            if (random.Next(2) == 0)
            {
                Apply(entries, operation);
            }
        }

        var survivors = new Dictionary<Inode, Inode>();
        var crashed = new Dictionary<string, Inode>(StringComparer.Ordinal);
        foreach (var (path, inode) in entries)
        {
            if (!survivors.TryGetValue(inode, out var survivor))
            {
                survivor = inode.AfterCrash(random, out var torn);
                TornWritesKept += torn ? 1 : 0;
                survivors[inode] = survivor;
            }

            crashed[path] = survivor;
        }

        return new PowerLossFiles(crashed) { TornWritesKept = TornWritesKept };
    }

    private static void Apply(Dictionary<string, Inode> entries, DirectoryOperation operation)
    {
        switch (operation.Kind)
        {
            case DirectoryOperationKind.Create:
                entries[operation.Path] = operation.Inode!;
                break;
            case DirectoryOperationKind.Delete:
                entries.Remove(operation.Path);
                break;
            case DirectoryOperationKind.Rename:
                // The new name points at the file the old one named when it was renamed, whether or not the
                // operations that made it so (a delete, a create) reached the disk.
                entries.Remove(operation.Path);
                entries[operation.To!] = operation.Inode!;
                break;
        }
    }

    private void Count()
    {
        if (_cut)
        {
            throw new PowerCutException();
        }

        Operations++;
        if (Operations == CutAt)
        {
            _cut = true;
            throw new PowerCutException();
        }
    }

    /// Counts a write, which is made before the power goes so that the crash may keep it torn.
    private void CountWrite(Action write)
    {
        if (_cut)
        {
            throw new PowerCutException();
        }

        Operations++;
        write();
        if (Operations == CutAt)
        {
            _cut = true;
            throw new PowerCutException();
        }
    }

    private enum DirectoryOperationKind
    {
        Create,
        Delete,
        Rename,
    }

    private sealed record DirectoryOperation(DirectoryOperationKind Kind, string Path, string? To, Inode? Inode);

    private sealed class Inode
    {
        private byte[] _durable = [];
        private readonly List<(long Offset, byte[]? Data, long Length)> _pending = [];

        public byte[] Current { get; private set; } = [];

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            Current = Resized(Current, Math.Max(Current.LongLength, offset + data.Length));
            data.CopyTo(Current.AsSpan((int)offset));
            _pending.Add((offset, data.ToArray(), 0));
        }

        public void SetLength(long length)
        {
            Current = Resized(Current, length);
            _pending.Add((0, null, length));
        }

        public void Sync()
        {
            _durable = (byte[])Current.Clone();
            _pending.Clear();
        }

        /// The durable content plus a random prefix of the unsynced writes, the last of them torn.
        public Inode AfterCrash(Random random, out bool torn)
        {
            torn = false;
            if (_pending.Count > 0 && random.Next(4) == 0)
            {
                return AfterCrashOutOfOrder(random, out torn);
            }

            var content = (byte[])_durable.Clone();
            var kept = _pending.Count == 0 ? 0 : random.Next(3) switch
            {
                0 => 0,
                1 => _pending.Count,
                _ => random.Next(_pending.Count + 1),
            };
            for (var i = 0; i < kept; i++)
            {
                var (offset, data, length) = _pending[i];
                if (data is null)
                {
                    content = Resized(content, length);
                    continue;
                }

                var bytes = data.Length;
                if (i == kept - 1 && random.Next(2) == 0 && data.Length > 0)
                {
                    // Torn inside one 512-byte sector: the sectors before it whole, a random count of its bytes.
                    var sectorStart = random.Next(data.Length) / 512 * 512;
                    bytes = sectorStart + random.Next(Math.Min(512, data.Length - sectorStart));
                    torn = bytes < data.Length;
                }

                content = Resized(content, Math.Max(content.LongLength, offset + data.Length));
                data.AsSpan(0, bytes).CopyTo(content.AsSpan((int)offset));
            }

            var survivor = new Inode { Current = content };
            survivor._durable = (byte[])content.Clone();
            return survivor;
        }

        /// A disk may also write back a file's unsynced pages in any order: each write is kept or not, and a
        /// kept one may be torn.
        private Inode AfterCrashOutOfOrder(Random random, out bool torn)
        {
            torn = false;
            var content = (byte[])_durable.Clone();
            foreach (var (offset, data, length) in _pending)
            {
                if (random.Next(2) == 0)
                {
                    continue;
                }

                if (data is null)
                {
                    content = Resized(content, length);
                    continue;
                }

                content = Resized(content, Math.Max(content.LongLength, offset + data.Length));
                var tear = random.Next(4) == 0;
                for (var start = 0; start < data.Length;)
                {
                    // Torn: each 512-byte sector (of the file) the write covers is kept or not, in any order.
                    var end = (int)Math.Min(data.Length, (offset + start) / 512 * 512 + 512 - offset);
                    if (tear && random.Next(2) == 0)
                    {
                        torn = true;
                    }
                    else
                    {
                        data.AsSpan(start, end - start).CopyTo(content.AsSpan((int)offset + start));
                    }

                    start = end;
                }
            }

            var survivor = new Inode { Current = content };
            survivor._durable = (byte[])content.Clone();
            return survivor;
        }

        private static byte[] Resized(byte[] bytes, long length)
        {
            if (bytes.LongLength == length)
            {
                return bytes;
            }

            var resized = new byte[length];
            bytes.AsSpan(0, (int)Math.Min(bytes.LongLength, length)).CopyTo(resized);
            return resized;
        }
    }

    private sealed class File(PowerLossFiles files, Inode inode) : IStorageFile
    {
        public long Length => inode.Current.LongLength;

        public int Read(long offset, Span<byte> buffer)
        {
            if (files._cut)
            {
                throw new PowerCutException();
            }

            var available = (int)Math.Clamp(inode.Current.LongLength - offset, 0, buffer.Length);
            inode.Current.AsSpan((int)Math.Min(offset, inode.Current.LongLength), available).CopyTo(buffer);
            return available;
        }

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            var copy = data.ToArray();
            files.CountWrite(() => inode.Write(offset, copy));
        }

        public void SetLength(long length) => files.CountWrite(() => inode.SetLength(length));

        public void Sync()
        {
            files.Count();
            if (++files._syncs == files.IgnoredSync)
            {
                return;
            }

            inode.Sync();
        }

        public void Dispose()
        {
        }
    }
}
