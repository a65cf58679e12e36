using System.Buffers.Binary;

namespace RaftDlm.Consensus.Storage;

/// Making, installing and removing segments; each step is ordered so that a crash at any point leaves the
/// old state or the new one.
internal sealed partial class RecordLog
{
    public void TruncateAfter(long index)
    {
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            var first = _segments[0].FirstIndex;
            if (index < first - 1 || index > _lastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index,
                    $"TruncateAfter takes {first - 1} to {_lastIndex}.");
            }

            if (index == _lastIndex)
            {
                return;
            }

            WritePendingLocked(); // the cut below zeroes what the file holds

            // First the cut itself, durably: the header of the first dropped record is zeroed and synced on its
            // own, so the log ends there whatever order the disk writes the rest in; from then on any later
            // segment that survives a crash sits past a gap and the next Open cuts it. Then the rest of the
            // segment's records are zeroed and synced, so that no stale record can follow the records appended
            // next. Only then are the later segments deleted.
            var keep = _segments.FindLastIndex(s => s.FirstIndex <= index + 1);
            var segment = _segments[keep];
            var cut = segment.Offsets[(int)(index + 1 - segment.FirstIndex)];
            WriteZeros(segment.File, cut, cut + RecordHeaderBytes);
            segment.File.Sync();
            if (segment.WriteOffset > cut + RecordHeaderBytes)
            {
                WriteZeros(segment.File, cut + RecordHeaderBytes, segment.WriteOffset);
                segment.File.Sync();
            }

            segment.Offsets.RemoveRange((int)(index + 1 - segment.FirstIndex), segment.Offsets.Count - (int)(index + 1 - segment.FirstIndex));
            segment.WriteOffset = cut;
            segment.Dirty = false;
            RemoveSegmentsAfter(keep);
            Volatile.Write(ref _lastIndex, index);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void ResetTo(long index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();

            // The new, empty segment of the next epoch is installed durably first; from then on it alone is
            // the log, whether or not the deletion of the old segments below survives a crash.
            var segment = InstallSegment(index + 1, _epoch + 1, _segmentBytes);
            _epoch++;
            _pendingBytes = 0; // records of the old segments, deleted below
            _pendingRecords = 0;
            foreach (var old in _segments)
            {
                old.File.Dispose();
                if (old.Path != segment.Path)
                {
                    _files.Delete(old.Path);
                }
            }

            _files.SyncDirectory(_directory);
            _segments.Clear();
            _segments.Add(segment);
            Volatile.Write(ref _lastIndex, index);
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    public void DropThrough(long index)
    {
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();

            // Oldest first, each deletion durable before the next: the segments left are always a suffix of
            // the log, never a log with a hole that the next Open would have to cut.
            while (_segments.Count > 1 && _segments[1].FirstIndex <= index + 1)
            {
                var oldest = _segments[0];
                oldest.File.Dispose();
                _segments.RemoveAt(0);
                _files.Delete(oldest.Path);
                _files.SyncDirectory(_directory);
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private void RemoveSegmentsAfter(int keep)
    {
        if (keep == _segments.Count - 1)
        {
            return;
        }

        for (var i = _segments.Count - 1; i > keep; i--)
        {
            _segments[i].File.Dispose();
            _files.Delete(_segments[i].Path);
        }

        _segments.RemoveRange(keep + 1, _segments.Count - keep - 1);
        _files.SyncDirectory(_directory);
    }

    /// The record at `index` does not fit the active segment: it starts a new one (of its own size when it
    /// is larger than a segment). An active segment with no record is replaced by the new one of the same name.
    private Segment RollOver(long index, long recordBytes)
    {
        WritePendingLocked(); // they belong to the segment being closed
        var segment = InstallSegment(index, _epoch, Math.Max(_segmentBytes, SegmentHeaderBytes + recordBytes));
        var active = _segments[^1];
        if (active.Path == segment.Path)
        {
            active.File.Dispose();
            _segments.RemoveAt(_segments.Count - 1);
        }

        _segments.Add(segment);
        return segment;
    }

    /// A zeroed file gets its header, synced, and only then its name, made durable by a directory sync:
    /// a segment file therefore always has a valid header.
    private Segment InstallSegment(long firstIndex, long epoch, long bytes)
    {
        var (file, temporaryPath) = bytes == _segmentBytes ? (TakeSpare(), SparePath) : (CreateZeroedFile(LargePath, bytes), LargePath);
        try
        {
            var header = new byte[SegmentHeaderBytes];
            BinaryPrimitives.WriteUInt32LittleEndian(header, SegmentMagic);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), FormatVersion);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), firstIndex);
            BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), epoch);
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), Crc32C.Compute(header.AsSpan(0, 24)));
            file.Write(0, header);
            file.Sync();
            var path = SegmentPath(firstIndex);
            _files.Rename(temporaryPath, path);
            _files.SyncDirectory(_directory);
            if (_preallocateInBackground && bytes == _segmentBytes)
            {
                StartSpare();
            }

            return new Segment(firstIndex, file, path) { Capacity = bytes };
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private string SparePath => Path.Combine(_directory, SpareName);

    private string LargePath => Path.Combine(_directory, LargeSegmentName);

    private void StartSpare()
    {
        var path = SparePath;
        var bytes = _segmentBytes;
        _spare = Task.Run(() => CreateZeroedFile(path, bytes));
    }

    private IStorageFile TakeSpare()
    {
        if (_spare is null)
        {
            return CreateZeroedFile(SparePath, _segmentBytes);
        }

        var spare = _spare;
        _spare = null;
        if (!spare.Wait(SpareWaitLimit))
        {
            throw new IOException($"Preallocating the next segment ({SparePath}) took longer than {SpareWaitLimit}.");
        }

        return spare.Result;
    }

    /// A file of `bytes` zeros, synced: its blocks are allocated and written, so that later writes over
    /// them followed by fdatasync change no metadata.
    private IStorageFile CreateZeroedFile(string path, long bytes)
    {
        if (_files.Exists(path))
        {
            _files.Delete(path);
        }

        var file = _files.OpenOrCreate(path);
        try
        {
            WriteZeros(file, 0, bytes);
            file.Sync();
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static void WriteZeros(IStorageFile file, long from, long to)
    {
        var zeros = new byte[(int)Math.Min(ZeroChunkBytes, Math.Max(0, to - from))];
        for (var offset = from; offset < to; offset += zeros.Length)
        {
            file.Write(offset, zeros.AsSpan(0, (int)Math.Min(zeros.Length, to - offset)));
        }
    }
}
