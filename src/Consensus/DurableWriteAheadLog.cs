using System.Buffers.Binary;
using System.Reflection;
using DotNext.IO.Log;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Win32.SafeHandles;

namespace RaftDlm.Consensus;

/// <summary>
/// DotNext's <see cref="WriteAheadLog"/> with three follower-side fixes that Raft's safety argument needs:
/// entries appended for a leader are on disk before the follower answers; an installed snapshot discards the
/// log behind it; and rewriting the tail of the log cannot leave a crash a mixture of old and new entries.
/// </summary>
/// <remarks>
/// <para>1. Durable acknowledgement (bug B1 in tests/Jepsen-style/README.md). DotNext's follower path appends the
/// leader's entries and then commits up to the leader's commit index; only a commit waits for the flush, and a
/// restarted WAL recovers only what its checkpoint names. Entries above the follower's commit index were
/// acknowledged while still unflushed, so after every node crashed at once a committed entry could be lost.
/// The follower's append now waits for the flush. The leader's own entries need nothing more: DotNext flushes
/// them before its commit index moves.</para>
/// <para>2. Snapshot install discards the log (found while looking for bug B2). DotNext keeps the follower's entries beyond an installed
/// snapshot (<c>LastEntryIndex = max(tail, snapshot)</c>), though they followed the follower's own, possibly
/// different, entries at lower indexes. Raft (§7) discards them: kept, they can be committed by a later
/// heartbeat without ever being compared with the leader's, or win an election with a log no leader wrote.
/// Here the tail beyond the commit index is cut before the snapshot is installed.</para>
/// <para>3. Crash-safe overwrite. DotNext rewrites a conflicting tail in place and names the new end in its
/// checkpoint only at the next flush; a crash in between recovers the old end over partly rewritten pages, a
/// log whose entries come from two different leaders. Here the tail is cut first, and the checkpoint names
/// the cut before any entry is rewritten.</para>
/// <para>Cutting the tail needs three members DotNext does not expose (its lock manager, the last entry index
/// setter, the first unflushed index) and its checkpoint file handle; <see cref="Internals"/> binds them by name
/// once, for DotNext.Net.Cluster 6.12.0, and fails the node's start with a clear message if they moved.
/// The checkpoint layout is DotNext's version 1: [version:4][commit index:8][last index:8], little-endian.
/// This class re-implements <see cref="IAuditTrail{TEntryImpl}"/> for the two follower append methods; every
/// other member maps to the base class.</para>
/// </remarks>
internal sealed class DurableWriteAheadLog(WriteAheadLog.Options options, IStateMachine stateMachine)
    : WriteAheadLog(options, stateMachine), IAuditTrail<IRaftLogEntry>, IRaftLog
{
    private readonly ISnapshotManager _snapshots = stateMachine;

    public long SnapshotIndex => _snapshots.Snapshot?.Index ?? 0L;

    private readonly Internals _internals = Internals.Bind();

    /// <summary>Appends the leader's entries, then waits until they and the checkpoint that names them are on disk.</summary>
    public new async ValueTask AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted = false,
        CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        // An append that writes below the current end rewrites the tail (entries at or below the commit
        // index are skipped, never rewritten).
        var firstWritten = long.Max(startIndex, skipCommitted ? LastCommittedEntryIndex + 1 : startIndex);
        if (entries.RemainingCount > firstWritten - startIndex && firstWritten <= LastEntryIndex)
        {
            await TruncateAsync(firstWritten - 1, firstWritten, token).ConfigureAwait(false);
        }

        await base.AppendAsync(entries, startIndex, skipCommitted, token).ConfigureAwait(false);
        await FlushAsync(token).ConfigureAwait(false);
    }

    /// <summary>Installs a snapshot from the leader after cutting the log back to the commit index; other entries go to the base class.</summary>
    public new async ValueTask AppendAsync<TEntry>(TEntry entry, long startIndex, CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        if (!entry.IsSnapshot || startIndex <= LastCommittedEntryIndex)
        {
            await base.AppendAsync(entry, startIndex, token).ConfigureAwait(false);
            return;
        }

        // Entries up to the snapshot's index count as flushed from here on: the snapshot covers them. Without
        // that, DotNext's flusher can read the old snapshot index and the new last index around the install and
        // flush pages this node never had (MissingPageException, after which the log refuses every append).
        await TruncateAsync(LastCommittedEntryIndex, firstUnflushedIndex: startIndex + 1, token).ConfigureAwait(false);
        try
        {
            await base.AppendAsync(entry, startIndex, token).ConfigureAwait(false);
        }
        catch
        {
            await TruncateAsync(LastEntryIndex, LastEntryIndex + 1, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Removes every entry after <paramref name="lastIndex"/> (which must not be below the commit index) and
    /// writes a checkpoint that names the new end, before anything else can append or flush; the flusher then
    /// starts again from <paramref name="firstUnflushedIndex"/>.
    /// </summary>
    internal async Task TruncateAsync(long lastIndex, long firstUnflushedIndex, CancellationToken token = default)
    {
        // Everything up to the old end is flushed first, so the entries kept are durable once the checkpoint says so.
        await FlushAsync(token).ConfigureAwait(false);
        await _internals.LockAsync(this, token).ConfigureAwait(false);
        try
        {
            var commitIndex = LastCommittedEntryIndex;
            if (lastIndex < commitIndex || lastIndex > LastEntryIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(lastIndex), lastIndex, $"The log can be cut only between its commit index {commitIndex} and its end {LastEntryIndex}.");
            }

            // The flusher writes checkpoints only while it holds a read lock, which the overwrite lock excludes.
            _internals.WriteCheckpoint(this, commitIndex, lastIndex);
            _internals.SetLastEntryIndex(this, lastIndex);
            _internals.SetUnflushedIndex(this, firstUnflushedIndex);
        }
        finally
        {
            _internals.Unlock(this);
        }
    }

    /// <summary>The non-public members of DotNext 6.12.0's <see cref="WriteAheadLog"/> that cutting the tail needs.</summary>
    private sealed class Internals
    {
        private const BindingFlags Instance = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        private const uint CheckpointVersion = 1;
        private static Internals? _bound;

        private readonly FieldInfo _lockManager;
        private readonly MethodInfo _acquireAppendLock;
        private readonly MethodInfo _upgradeToOverwriteLock;
        private readonly MethodInfo _releaseAppendLock;
        private readonly MethodInfo _lastEntryIndexSetter;
        private readonly MethodInfo _unflushedIndexSetter;
        private readonly FieldInfo _checkpoint;
        private readonly FieldInfo _checkpointHandle;

        private Internals()
        {
            var wal = typeof(WriteAheadLog);
            _lockManager = Field(wal, "lockManager");
            _acquireAppendLock = Method(_lockManager.FieldType, "AcquireAppendLockAsync");
            _upgradeToOverwriteLock = Method(_lockManager.FieldType, "UpgradeToOverwriteLockAsync");
            _releaseAppendLock = Method(_lockManager.FieldType, "ReleaseAppendLock");
            _lastEntryIndexSetter = wal.GetProperty(nameof(LastEntryIndex), Instance)?.GetSetMethod(nonPublic: true) ?? throw Missing("LastEntryIndex setter");
            _unflushedIndexSetter = wal.GetProperty("UnflushedIndex", Instance)?.GetSetMethod(nonPublic: true) ?? throw Missing("UnflushedIndex setter");
            _checkpoint = Field(wal, "checkpoint");
            _checkpointHandle = Field(_checkpoint.FieldType, "handle");
            if (_checkpointHandle.FieldType != typeof(SafeFileHandle))
            {
                throw Missing("Checkpoint.handle of type SafeFileHandle");
            }
        }

        public static Internals Bind() => _bound ??= new Internals();

        public async Task LockAsync(WriteAheadLog log, CancellationToken token)
        {
            var manager = _lockManager.GetValue(log);
            await ((ValueTask)_acquireAppendLock.Invoke(manager, [token])!).ConfigureAwait(false);
            try
            {
                await ((ValueTask)_upgradeToOverwriteLock.Invoke(manager, [token])!).ConfigureAwait(false);
            }
            catch
            {
                _releaseAppendLock.Invoke(manager, null);
                throw;
            }
        }

        // Releasing the append lock releases the overwrite lock with it.
        public void Unlock(WriteAheadLog log) => _releaseAppendLock.Invoke(_lockManager.GetValue(log), null);

        public void SetLastEntryIndex(WriteAheadLog log, long index) => _lastEntryIndexSetter.Invoke(log, [index]);

        public void SetUnflushedIndex(WriteAheadLog log, long index) => _unflushedIndexSetter.Invoke(log, [index]);

        public void WriteCheckpoint(WriteAheadLog log, long commitIndex, long lastIndex)
        {
            var handle = (SafeFileHandle)_checkpointHandle.GetValue(_checkpoint.GetValue(log))!;
            Span<byte> record = stackalloc byte[4 + 8 + 8];
            BinaryPrimitives.WriteUInt32LittleEndian(record, CheckpointVersion);
            BinaryPrimitives.WriteInt64LittleEndian(record[4..], commitIndex);
            BinaryPrimitives.WriteInt64LittleEndian(record[12..], lastIndex);
            RandomAccess.Write(handle, record, fileOffset: 0);
            RandomAccess.FlushToDisk(handle);
        }

        private static FieldInfo Field(Type type, string name) => type.GetField(name, Instance) ?? throw Missing($"{type.Name}.{name}");

        private static MethodInfo Method(Type type, string name) =>
            type.GetMethod(name, Instance) ?? throw Missing($"{type.Name}.{name}");

        private static InvalidOperationException Missing(string member) =>
            new($"DotNext's WriteAheadLog has no member {member}: RaftDlm.Consensus supports DotNext.Net.Cluster 6.12.0 only.");
    }
}
