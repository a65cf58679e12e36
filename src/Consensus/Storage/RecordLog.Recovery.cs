using System.Buffers.Binary;
using System.Globalization;

namespace RaftDlm.Consensus.Storage;

/// Open: find the segments of the log, index their records, and cut a torn or corrupt tail durably.
internal sealed partial class RecordLog
{
    private const int ScanBufferBytes = 1 << 20;

    private void Recover()
    {
        _files.CreateDirectory(_directory);
        foreach (var temporary in _files.List(_directory, "*.tmp"))
        {
            // A spare or large segment that was never installed; nothing in it belongs to the log.
            _files.Delete(temporary);
        }

        var found = new List<(long FirstIndex, long Epoch, string Path)>();
        foreach (var path in _files.List(_directory, "*" + SegmentExtension))
        {
            found.Add(ReadHeader(path));
        }

        var deleted = false;
        if (found.Count > 0)
        {
            // A reset raised the epoch: segments of an older one are what the reset dropped.
            _epoch = found.Max(f => f.Epoch);
            foreach (var stale in found.Where(f => f.Epoch != _epoch))
            {
                _files.Delete(stale.Path);
                deleted = true;
            }

            var current = found.Where(f => f.Epoch == _epoch).OrderBy(f => f.FirstIndex).ToList();
            deleted |= LoadSegments(current);
        }

        if (deleted)
        {
            _files.SyncDirectory(_directory);
        }

        if (_segments.Count == 0)
        {
            _epoch = 1;
            _segments.Add(InstallSegment(1, _epoch, _segmentBytes));
        }

        _lastIndex = _segments[^1].LastIndex;
        if (_preallocateInBackground && _spare is null)
        {
            StartSpare();
        }
    }

    /// Scans the segments in order; the first record that fails its length, checksum or index, or a
    /// segment that does not start right after the one before it, ends the log. Returns whether segments
    /// were deleted (the caller syncs the directory).
    private bool LoadSegments(List<(long FirstIndex, long Epoch, string Path)> current)
    {
        for (var i = 0; i < current.Count; i++)
        {
            var (firstIndex, _, path) = current[i];
            if (_segments.Count > 0 && firstIndex != _segments[^1].LastIndex + 1)
            {
                return DeleteFrom(current, i);
            }

            var segment = new Segment(firstIndex, _files.OpenOrCreate(path), path);
            _segments.Add(segment);
            segment.Capacity = segment.File.Length;
            var complete = ScanRecords(segment);

            // Whatever follows the last good record is zeroed and synced before anything later is deleted,
            // so a crash in between leaves the same cut for the next Open to find.
            if (ZeroTail(segment))
            {
                segment.File.Sync();
            }

            if (!complete)
            {
                return DeleteFrom(current, i + 1);
            }
        }

        return false;
    }

    private bool DeleteFrom(List<(long FirstIndex, long Epoch, string Path)> current, int start)
    {
        for (var i = start; i < current.Count; i++)
        {
            _files.Delete(current[i].Path);
        }

        return start < current.Count;
    }

    /// Indexes the segment's records; returns true when it ended at a zero length or the end of the file
    /// (a clean end), false when a record was torn or corrupt (the log ends there).
    private static bool ScanRecords(Segment segment)
    {
        var reader = new WindowReader(segment.File, segment.Capacity);
        var offset = (long)SegmentHeaderBytes;
        while (offset + RecordHeaderBytes <= segment.Capacity)
        {
            var header = reader.Read(offset, RecordHeaderBytes);
            var length = BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (length == 0)
            {
                segment.WriteOffset = offset;
                return true;
            }

            var crc = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            var index = BinaryPrimitives.ReadInt64LittleEndian(header[8..]);
            if (length < RecordHeaderBytes || offset + length > segment.Capacity
                || index != segment.FirstIndex + segment.Offsets.Count
                || crc != Crc32C.Compute(reader.Read(offset + 8, (int)length - 8)))
            {
                segment.WriteOffset = offset;
                return false;
            }

            segment.Offsets.Add(offset);
            offset += length;
        }

        segment.WriteOffset = offset;
        return true;
    }

    /// Zeroes every non-zero chunk after the segment's last good record; true when it wrote any.
    private static bool ZeroTail(Segment segment)
    {
        var wrote = false;
        var buffer = new byte[(int)Math.Clamp(segment.Capacity - segment.WriteOffset, 1, ScanBufferBytes)];
        for (var offset = segment.WriteOffset; offset < segment.Capacity; offset += buffer.Length)
        {
            var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, segment.Capacity - offset));
            var read = segment.File.Read(offset, chunk);
            if (chunk[..read].ContainsAnyExcept((byte)0))
            {
                chunk.Clear();
                segment.File.Write(offset, chunk);
                wrote = true;
            }
        }

        return wrote;
    }

    private (long FirstIndex, long Epoch, string Path) ReadHeader(string path)
    {
        var name = Path.GetFileNameWithoutExtension(path);
        if (!long.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var nameIndex))
        {
            throw new InvalidDataException($"{path} is not a segment of the log (its name is not an index).");
        }

        var header = new byte[SegmentHeaderBytes];
        int read;
        using (var file = _files.OpenOrCreate(path))
        {
            read = file.Read(0, header);
        }

        // A segment gets its name only after its header is durable, so a bad header is damage, not a crash.
        if (read < SegmentHeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(header) != SegmentMagic
            || BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(24)) != Crc32C.Compute(header.AsSpan(0, 24)))
        {
            throw new InvalidDataException($"{path} is not a segment of the log (its header is missing or fails its checksum).");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(4));
        if (version != FormatVersion)
        {
            throw new InvalidDataException(
                $"{path} has format version {version}, which this build does not read (it reads version {FormatVersion}).");
        }

        var firstIndex = BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(8));
        if (firstIndex != nameIndex)
        {
            throw new InvalidDataException($"{path} holds a segment that starts at {firstIndex}, not at its name.");
        }

        return (firstIndex, BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(16)), path);
    }

    /// Reads a file through a window of ScanBufferBytes, so that a scan of many small records makes few reads.
    private sealed class WindowReader(IStorageFile file, long length)
    {
        private byte[] _window = new byte[(int)Math.Clamp(length, 1, ScanBufferBytes)];
        private long _start = -1;
        private int _count;

        public ReadOnlySpan<byte> Read(long offset, int count)
        {
            if (_start < 0 || offset < _start || offset + count > _start + _count)
            {
                if (count > _window.Length)
                {
                    _window = new byte[count];
                }

                _start = offset;
                _count = file.Read(offset, _window.AsSpan(0, (int)Math.Min(_window.Length, length - offset)));
            }

            return _window.AsSpan((int)(offset - _start), count);
        }
    }
}
