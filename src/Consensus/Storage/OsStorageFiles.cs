using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RaftDlm.Consensus.Storage;

/// Real files through SafeFileHandle and RandomAccess. On Linux Sync is fdatasync(2): for a file whose size
/// and extents do not change (a preallocated, fully written segment) it writes the data and flushes the
/// device, without the inode write an fsync would add.
internal sealed class OsStorageFiles : IStorageFiles
{
    public static OsStorageFiles Instance { get; } = new();

    private OsStorageFiles()
    {
    }

    public IStorageFile OpenOrCreate(string path)
    {
        // FileShare.Delete lets a segment be renamed or deleted while it is open (as on Linux anyway).
        var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite,
            FileShare.ReadWrite | FileShare.Delete);
        return new OsStorageFile(handle, path);
    }

    public bool Exists(string path) => File.Exists(path);

    public void Delete(string path) => File.Delete(path);

    public void Rename(string from, string to) => File.Move(from, to, overwrite: true);

    public IReadOnlyList<string> List(string directory, string searchPattern)
    {
        var paths = Directory.GetFiles(directory, searchPattern);
        Array.Sort(paths, StringComparer.Ordinal);
        return paths;
    }

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public void SyncDirectory(string path)
    {
        // A directory's entries are made durable by fsync on the directory itself; .NET has no API for it.
        // Elsewhere than Linux this does nothing (Windows has no equivalent a process can call).
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var descriptor = Native.Open(path, Native.ReadOnly);
        if (descriptor < 0)
        {
            throw new IOException($"Cannot open directory {path} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            if (Native.FSync(descriptor) != 0)
            {
                throw new IOException($"fsync of directory {path} failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = Native.Close(descriptor);
        }
    }

    private sealed class OsStorageFile(SafeFileHandle handle, string path) : IStorageFile
    {
        public long Length => RandomAccess.GetLength(handle);

        public int Read(long offset, Span<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var read = RandomAccess.Read(handle, buffer[total..], offset + total);
                if (read == 0)
                {
                    break;
                }

                total += read;
            }

            return total;
        }

        public void Write(long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(handle, data, offset);

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void Sync()
        {
            if (OperatingSystem.IsLinux())
            {
                var added = false;
                handle.DangerousAddRef(ref added);
                try
                {
                    if (Native.FDataSync((int)handle.DangerousGetHandle()) != 0)
                    {
                        throw new IOException($"fdatasync of {path} failed (errno {Marshal.GetLastPInvokeError()}).");
                    }
                }
                finally
                {
                    if (added)
                    {
                        handle.DangerousRelease();
                    }
                }

                return;
            }

            RandomAccess.FlushToDisk(handle);
        }

        public void Dispose() => handle.Dispose();
    }

    private static class Native
    {
        // O_RDONLY opens a directory too; O_DIRECTORY would only add a check, and its value differs by CPU.
        public const int ReadOnly = 0;

        [DllImport("libc", EntryPoint = "open", SetLastError = true)]
        public static extern int Open([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

        [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static extern int FSync(int descriptor);

        [DllImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
        public static extern int FDataSync(int descriptor);

        [DllImport("libc", EntryPoint = "close", SetLastError = true)]
        public static extern int Close(int descriptor);
    }
}
