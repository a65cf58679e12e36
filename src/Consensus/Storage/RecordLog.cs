using System.Buffers;
using System.Buffers.Binary;

namespace RaftDlm.Consensus.Storage;

/// One record per log entry, in preallocated segment files of the directory, one fdatasync per Sync().
///
/// Format version 1 (docs/formats.md, "segmented log"). A segment file is named by the index of its first
/// record (`00000000000000000001.seg`) and starts with a 32-byte header: magic "RDLS", version (u32),
/// first index (i64), epoch (i64), CRC-32C of the 24 bytes before it (u32), 4 zero bytes. Records follow:
/// length of the whole record (u32, header included), CRC-32C of everything after the CRC field (u32),
/// index (i64), term (i64), flags (u8), payload; all little-endian. A length of zero (the preallocated
/// zeros) ends the segment. The epoch goes up by one at every ResetTo: only the segments of the highest
/// epoch belong to the log, which is how a reset survives a crash before the old segments are deleted.
///
/// Segments are preallocated by writing zeros and syncing them once (never a sparse SetLength or
/// fallocate, whose unwritten extents still cost a metadata write at the first sync), so an append
/// followed by fdatasync writes the data and nothing else.
internal sealed partial class RecordLog : IDisposable
{
    internal const int SegmentHeaderBytes = 32;
    internal const int RecordHeaderBytes = 25;
    internal const int FormatVersion = 1;
    private const uint SegmentMagic = 0x534C4452; // "RDLS" read as a little-endian u32
    private const string SegmentExtension = ".seg";
    private const string SpareName = "spare.tmp";
    private const string LargeSegmentName = "large.tmp";
    private const int ZeroChunkBytes = 1 << 20;
    private static readonly TimeSpan SpareWaitLimit = TimeSpan.FromMinutes(2);
    // The newest records stay in memory as they were appended (at most RecentRecords of them, each no larger than
    // RecentPayloadLimit: 16 MiB at worst): the leader reads every new entry back once per follower and once to
    // apply it, a follower once to apply it, and those reads then cost no system call, allocation or checksum.
    private const int RecentRecords = 1024;
    private const int RecentPayloadLimit = 16 * 1024;
    // AppendRange writes a batch of at most this many bytes with one write per segment; a larger one record by record.
    private const int RangeBufferLimit = 1 << 20;
    // Append keeps the records it takes in memory and writes them together at the next Sync (or roll-over, cut,
    // or range append): one write per sync instead of one per record, the leader's case. At most this many records
    // or bytes wait so; they are all among the RecentRecords that Read answers from memory.
    private const int PendingRecordsLimit = 256;
    private const int PendingBytesLimit = 1 << 20;

    private readonly IStorageFiles _files;
    private readonly string _directory;
    private readonly long _segmentBytes;
    private readonly bool _preallocateInBackground;
    private readonly ReaderWriterLockSlim _lock = new(LockRecursionPolicy.NoRecursion);
    private readonly List<Segment> _segments = [];
    // Slot index % RecentRecords holds the latest append of whichever index it names (an append of an index always
    // writes its slot), so a slot naming an index that Read accepts holds that index's record as it is on disk.
    private readonly LogRecord[] _recent = new LogRecord[RecentRecords];
    // Records appended to the active segment but not yet written to its file: their bytes, and where they go.
    private byte[] _pending = [];
    private int _pendingBytes;
    private int _pendingRecords;
    private long _pendingOffset;
    private long _epoch;
    private long _lastIndex;
    private Task<IStorageFile>? _spare;
    private bool _disposed;

    private RecordLog(IStorageFiles files, string directory, long segmentBytes, bool preallocateInBackground)
    {
        _files = files;
        _directory = directory;
        _segmentBytes = segmentBytes;
        _preallocateInBackground = preallocateInBackground;
    }

    public static RecordLog Open(IStorageFiles files, string directory, long segmentBytes = 64 * 1024 * 1024) =>
        Open(files, directory, segmentBytes, preallocateInBackground: true);

    /// Tests that cut the power at a numbered low-level write turn the background preallocation off, so
    /// that every write happens on the caller's thread in a repeatable order.
    internal static RecordLog Open(IStorageFiles files, string directory, long segmentBytes, bool preallocateInBackground)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfLessThan(segmentBytes, SegmentHeaderBytes + RecordHeaderBytes);
        var log = new RecordLog(files, directory, segmentBytes, preallocateInBackground);
        try
        {
            log.Recover();
        }
        catch
        {
            log.Dispose();
            throw;
        }

        return log;
    }

    // After Open: records whose checksum fails (a torn tail) and everything after them are cut (durably).
    public long FirstIndex
    {
        get
        {
            _lock.EnterReadLock();
            try
            {
                return _segments[0].FirstIndex;
            }
            finally
            {
                _lock.ExitReadLock();
            }
        }
    }

    public long LastIndex => Volatile.Read(ref _lastIndex);

    public void Append(long index, long term, byte flags, ReadOnlySpan<byte> payload)
    {
        var recordBytes = RecordHeaderBytes + (long)payload.Length;
        if (recordBytes > int.MaxValue)
        {
            throw new ArgumentException($"A record of {payload.Length} bytes is too large.", nameof(payload));
        }

        var kept = payload.Length <= RecentPayloadLimit;
        var buffer = kept ? new byte[recordBytes] : ArrayPool<byte>.Shared.Rent((int)recordBytes);
        var record = buffer.AsSpan(0, (int)recordBytes);
        Encode(record, index, term, flags, payload);

        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            if (index != _lastIndex + 1)
            {
                throw new ArgumentException($"Append of index {index}, but the log's next index is {_lastIndex + 1}.", nameof(index));
            }

            var segment = _segments[^1];
            if (segment.WriteOffset + recordBytes > segment.Capacity)
            {
                segment = RollOver(index, recordBytes);
            }

            if (kept && _pendingRecords < PendingRecordsLimit && _pendingBytes + recordBytes <= PendingBytesLimit)
            {
                if (_pendingBytes == 0)
                {
                    _pendingOffset = segment.WriteOffset;
                }

                if (_pending.Length < _pendingBytes + recordBytes)
                {
                    Array.Resize(ref _pending, (int)long.Min(PendingBytesLimit, long.Max(2L * _pending.Length, long.Max(4096, _pendingBytes + recordBytes))));
                }

                record.CopyTo(_pending.AsSpan(_pendingBytes));
                _pendingBytes += (int)recordBytes;
                _pendingRecords++;
            }
            else
            {
                // Too large to keep, or enough wait: those first, then this one (a failure leaves it unappended).
                WritePendingLocked();
                segment.File.Write(segment.WriteOffset, record);
            }

            segment.Offsets.Add(segment.WriteOffset);
            segment.WriteOffset += recordBytes;
            segment.Dirty = true;
            _recent[index % RecentRecords] = kept ? new LogRecord(index, term, flags, buffer.AsMemory(RecordHeaderBytes)) : default;
            Volatile.Write(ref _lastIndex, index);
        }
        finally
        {
            _lock.ExitWriteLock();
            if (!kept) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// Appends consecutive records, the first at LastIndex + 1, with one write for all of those that land in the
    /// same segment (a follower receives the leader's entries in batches). As with Append, the records are durable
    /// only after the next Sync; should a write fail, the records before it are appended and the rest are not.
    public void AppendRange(IReadOnlyList<LogRecord> records)
    {
        if (records.Count == 0)
        {
            return;
        }

        var starts = new int[records.Count + 1];
        for (var i = 0; i < records.Count; i++)
        {
            var recordBytes = RecordHeaderBytes + (long)records[i].Payload.Length;
            if (records[i].Payload.Length > RecentPayloadLimit || starts[i] + recordBytes > RangeBufferLimit)
            {
                // Large records go one by one, as Append writes them.
                foreach (var record in records)
                {
                    Append(record.Index, record.Term, record.Flags, record.Payload.Span);
                }

                return;
            }

            starts[i + 1] = starts[i] + (int)recordBytes;
        }

        var buffer = new byte[starts[^1]];
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            Encode(buffer.AsSpan(starts[i], starts[i + 1] - starts[i]), record.Index, record.Term, record.Flags, record.Payload.Span);
        }

        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            WritePendingLocked(); // the file gets its records in order
            for (var i = 0; i < records.Count; i++)
            {
                if (records[i].Index != _lastIndex + 1 + i)
                {
                    throw new ArgumentException($"Append of index {records[i].Index}, but the log's next index there is {_lastIndex + 1 + i}.", nameof(records));
                }
            }

            var next = 0;
            while (next < records.Count)
            {
                var segment = _segments[^1];
                if (segment.WriteOffset + (starts[next + 1] - starts[next]) > segment.Capacity)
                {
                    segment = RollOver(records[next].Index, starts[next + 1] - starts[next]);
                }

                // Every record that fits in this segment after the first, which fits.
                var end = next + 1;
                while (end < records.Count && segment.WriteOffset + (starts[end + 1] - starts[next]) <= segment.Capacity)
                {
                    end++;
                }

                segment.File.Write(segment.WriteOffset, buffer.AsSpan(starts[next], starts[end] - starts[next]));
                for (var i = next; i < end; i++)
                {
                    var record = records[i];
                    segment.Offsets.Add(segment.WriteOffset + (starts[i] - starts[next]));
                    _recent[record.Index % RecentRecords] = new LogRecord(record.Index, record.Term, record.Flags,
                        buffer.AsMemory(starts[i] + RecordHeaderBytes, starts[i + 1] - starts[i] - RecordHeaderBytes));
                }

                segment.WriteOffset += starts[end] - starts[next];
                segment.Dirty = true;
                Volatile.Write(ref _lastIndex, records[end - 1].Index);
                next = end;
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    /// Writes the records Append kept in memory to the active segment's file (a failed write leaves them kept).
    private void WritePendingLocked()
    {
        if (_pendingBytes == 0)
        {
            return;
        }

        _segments[^1].File.Write(_pendingOffset, _pending.AsSpan(0, _pendingBytes));
        _pendingBytes = 0;
        _pendingRecords = 0;
    }

    private static void Encode(Span<byte> record, long index, long term, byte flags, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)record.Length);
        BinaryPrimitives.WriteInt64LittleEndian(record[8..], index);
        BinaryPrimitives.WriteInt64LittleEndian(record[16..], term);
        record[24] = flags;
        payload.CopyTo(record[RecordHeaderBytes..]);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(record[8..]));
    }

    /// Group commit is the caller's: one Sync makes every record appended before it durable, with one
    /// fdatasync per segment written since the last Sync. The syncs run outside the lock so that reads
    /// go on meanwhile; the caller never runs Sync concurrently with TruncateAfter, ResetTo or DropThrough.
    public void Sync()
    {
        List<Segment> dirty = [];
        _lock.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            WritePendingLocked();
            foreach (var segment in _segments)
            {
                if (segment.Dirty)
                {
                    segment.Dirty = false;
                    dirty.Add(segment);
                }
            }
        }
        finally
        {
            _lock.ExitWriteLock();
        }

        for (var i = 0; i < dirty.Count; i++)
        {
            try
            {
                dirty[i].File.Sync();
            }
            catch
            {
                // A later Sync must try these again.
                _lock.EnterWriteLock();
                try
                {
                    foreach (var segment in dirty.Skip(i))
                    {
                        segment.Dirty = true;
                    }
                }
                finally
                {
                    _lock.ExitWriteLock();
                }

                throw;
            }
        }
    }

    public LogRecord Read(long index)
    {
        _lock.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            if (index < _segments[0].FirstIndex || index > _lastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(index), index,
                    $"The log holds indexes {_segments[0].FirstIndex} to {_lastIndex}.");
            }

            var recent = _recent[index % RecentRecords];
            if (recent.Index == index)
            {
                return recent;
            }

            var segment = FindSegment(index);
            var position = (int)(index - segment.FirstIndex);
            var offset = segment.Offsets[position];
            var end = position + 1 < segment.Offsets.Count ? segment.Offsets[position + 1] : segment.WriteOffset;
            var record = new byte[end - offset];
            if (segment.File.Read(offset, record) != record.Length
                || BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(4)) != Crc32C.Compute(record.AsSpan(8))
                || BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(8)) != index)
            {
                throw new InvalidDataException($"Record {index} in {segment.Path} at offset {offset} fails its checksum.");
            }

            return new LogRecord(index, BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(16)), record[24],
                record.AsMemory(RecordHeaderBytes));
        }
        finally
        {
            _lock.ExitReadLock();
        }
    }

    public void Dispose()
    {
        _lock.EnterWriteLock();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            try
            {
                WritePendingLocked(); // as if written at the append; never synced here, as before
            }
            catch (IOException)
            {
                // Records that were never synced may be lost; nothing acknowledged depends on them.
            }

            foreach (var segment in _segments)
            {
                segment.File.Dispose();
            }

            _segments.Clear();
            if (_spare is not null)
            {
                // A spare still being written is left to finish; the next Open deletes it.
                if (_spare.Wait(SpareWaitLimit) && _spare.IsCompletedSuccessfully)
                {
                    _spare.Result.Dispose();
                }

                _spare = null;
            }
        }
        catch (AggregateException)
        {
            // A failed preallocation has nothing to dispose.
        }
        finally
        {
            _lock.ExitWriteLock();
        }
    }

    private Segment FindSegment(long index)
    {
        int low = 0, high = _segments.Count - 1;
        while (low < high)
        {
            var middle = (low + high + 1) / 2;
            if (_segments[middle].FirstIndex <= index)
            {
                low = middle;
            }
            else
            {
                high = middle - 1;
            }
        }

        return _segments[low];
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private string SegmentPath(long firstIndex) =>
        Path.Combine(_directory, firstIndex.ToString("D20", System.Globalization.CultureInfo.InvariantCulture) + SegmentExtension);

    private sealed class Segment(long firstIndex, IStorageFile file, string path)
    {
        public long FirstIndex { get; } = firstIndex;
        public IStorageFile File { get; } = file;
        public string Path { get; } = path;
        public List<long> Offsets { get; } = [];
        public long WriteOffset { get; set; } = SegmentHeaderBytes;
        public long Capacity { get; set; }
        public bool Dirty { get; set; }
        public long LastIndex => FirstIndex + Offsets.Count - 1;
    }
}
