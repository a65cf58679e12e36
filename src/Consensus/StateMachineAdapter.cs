using System.Buffers;
using System.Security.Cryptography;
using DotNext.IO;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>
/// Bridges DotNext's <see cref="SimpleStateMachine"/> (which owns the snapshot files) to
/// <see cref="IReplicatedStateMachine"/>. Nothing may escape from here into DotNext's applier: one exception
/// there stops the log's applier for good, so every call into the host is guarded.
/// </summary>
internal sealed class StateMachineAdapter : SimpleStateMachine
{
    // Snapshot file layout: [magic:4][lastIndex:8][lastLeaderTimeMs:8][host snapshot:rest], little-endian.

    private readonly IReplicatedStateMachine _machine;
    private readonly ILogger _logger;
    private readonly ConsensusMetrics _metrics;
    private readonly long _snapshotEveryEntries;
    private long _lastSnapshotIndex;
    private long _lastLeaderTimeMs;
    private byte[]? _pendingSnapshot;
    private readonly StreamWriter? _applyTrace;
    private readonly List<BatchedCommand> _batch = [];

    public StateMachineAdapter(DirectoryInfo location, IReplicatedStateMachine machine, long snapshotEveryEntries, ConsensusMetrics metrics, ILogger logger,
        string? applyTraceFile = null)
        : base(location)
    {
        if (applyTraceFile is not null)
        {
            _applyTrace = new StreamWriter(new FileStream(applyTraceFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        }

        _machine = machine;
        _snapshotEveryEntries = snapshotEveryEntries;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>The leader time of the most recently applied command (after the monotonic clamp).</summary>
    public long LastLeaderTimeMs => Volatile.Read(ref _lastLeaderTimeMs);

    /// <summary>The index of the most recent snapshot taken or installed here.</summary>
    public long LastSnapshotIndex => Volatile.Read(ref _lastSnapshotIndex);

    protected override ValueTask<bool> ApplyAsync(LogEntry entry, CancellationToken token)
    {
        // Configuration entries reach the state machine only as empty entries (DotNext hands their payload to
        // its configuration storage); election no-ops are empty too and are normally filtered by the WAL.
        if (entry.IsConfiguration || !entry.TryGetPayload(out var payload) || payload.IsEmpty)
        {
            return ValueTask.FromResult(false);
        }
        return ValueTask.FromResult(Apply(entry.Index, entry.Term, payload, entry.Context));
    }

    /// <summary>
    /// Applies one committed entry's payload (never a configuration entry, never empty) and returns whether a
    /// snapshot was prepared at its index (<see cref="TakePreparedSnapshot"/>).
    /// </summary>
    /// <exception cref="UnsupportedFormatException">A newer version wrote the entry: the applier must stop.</exception>
    internal bool Apply(long index, long term, in ReadOnlySequence<byte> payload, object? context)
    {
        if (EntryEnvelope.NewerVersion(payload) is { } version)
        {
            // Skipping it would leave this replica without a command the others applied: refuse, loudly.
            var refused = UnsupportedFormatException.Newer($"Log entry {index}'s envelope", version, "versions 1 and 2");
            FormatLog.UnsupportedEntry(_logger, index, refused);
            throw refused;
        }

        if (EntryEnvelope.IsBatch(payload))
        {
            ApplyBatch(index, term, payload, context);
        }
        else if (EntryEnvelope.TryDecode(payload, out var header, out var command))
        {
            var applied = index > _machine.LastAppliedIndex;
            if (applied)
            {
                ApplyCommand(index, 0, context as ProposalContext, header.ProposalId, header.LeaderTimeMs, command.Span);
            }
            Trace(index, term, 0, applied, header.LeaderTimeMs, command.Span);
        }
        else
        {
            // Deterministic on every node, so skipping keeps replicas identical.
            Log.UndecodableEntry(_logger, index, payload.Length);
            return false;
        }

        return TryPrepareSnapshot(index);
    }

    /// <summary>The commands of a version-2 entry, in order, at one index and one time; each proposer gets its own reply.</summary>
    private void ApplyBatch(long index, long term, in ReadOnlySequence<byte> payload, object? context)
    {
        if (!EntryEnvelope.TryDecodeBatch(payload, out var leaderTimeMs, _batch))
        {
            Log.UndecodableEntry(_logger, index, payload.Length);
            return;
        }
        var applied = index > _machine.LastAppliedIndex;
        var proposals = context as ProposalContext[];
        for (var position = 0; position < _batch.Count; position++)
        {
            var item = _batch[position];
            if (applied)
            {
                var proposal = proposals is not null && position < proposals.Length ? proposals[position] : null;
                ApplyCommand(index, position, proposal, item.ProposalId, leaderTimeMs, item.Command.Span);
            }
            Trace(index, term, position, applied, leaderTimeMs, item.Command.Span);
        }
        _batch.Clear();
    }

    private void Trace(long index, long term, int position, bool applied, long stampedTimeMs, ReadOnlySpan<byte> command) =>
        _applyTrace?.WriteLine($"{index}{(position == 0 ? "" : "." + position)} {term} {(applied ? "applied" : "skipped")} {stampedTimeMs} {Convert.ToHexStringLower(SHA256.HashData(command)[..8])}");

    private void ApplyCommand(long index, int position, ProposalContext? proposal, ProposalId proposalId, long stampedTimeMs, ReadOnlySpan<byte> command)
    {
        // The clamp depends only on log order, so every node passes the same time for the same entry,
        // and time never goes backwards even if a new leader's clock is behind the old one's.
        var leaderTimeMs = long.Max(stampedTimeMs, _lastLeaderTimeMs);
        Volatile.Write(ref _lastLeaderTimeMs, leaderTimeMs);

        // Trap: after a log overwrite an old context can be handed to a different entry at the same index.
        var context = proposal is not null && proposal.ProposalId == proposalId ? proposal : null;
        if (command.IsEmpty)
        {
            // Consensus' own no-op (an envelope without a command, which earlier versions appended to move the
            // log on): it never reaches the machine.
            context?.SetReply(null);
            return;
        }
        try
        {
            var reply = _machine.Apply(index, position, leaderTimeMs, command);
            context?.SetReply(reply);
        }
        catch (UnsupportedFormatException e)
        {
            // The host cannot apply this command (a newer version wrote it): stop applying rather than diverge.
            FormatLog.UnsupportedEntry(_logger, index, e);
            context?.SetFault(e);
            throw;
        }
        catch (Exception e)
        {
            Log.ApplyFailed(_logger, index, e);
            context?.SetFault(e);
        }

        _metrics.EntryApplied();
    }

    private bool TryPrepareSnapshot(long index)
    {
        if (index - _lastSnapshotIndex < _snapshotEveryEntries)
        {
            return false;
        }

        // Serialize now, on the applier, so the snapshot is exactly the state at this index; the file I/O
        // happens later in PersistAsync. A failure here only postpones the snapshot.
        try
        {
            using var buffer = new MemoryStream();
            Span<byte> header = stackalloc byte[SnapshotFiles.HeaderSizeBytes];
            SnapshotFiles.WriteHeader(header, index, _lastLeaderTimeMs);
            buffer.Write(header);
            _machine.WriteSnapshot(buffer);
            var snapshot = buffer.ToArray();
            Volatile.Write(ref _pendingSnapshot, snapshot);
            Volatile.Write(ref _lastSnapshotIndex, index);
            // The digest lets replicas be compared from their logs alone: same index, same digest.
            Log.SnapshotTaken(_logger, index, snapshot.Length, Convert.ToHexStringLower(SHA256.HashData(snapshot))[..16]);
            _metrics.SnapshotTaken();
            return true;
        }
        catch (Exception e)
        {
            Log.SnapshotFailed(_logger, index, e);
            _lastSnapshotIndex = index; // retry after another SnapshotEveryEntries, not on every entry
            return false;
        }
    }

    protected override ValueTask PersistAsync(IAsyncBinaryWriter writer, CancellationToken token)
        => writer.Invoke(TakePreparedSnapshot(), token);

    /// <summary>The bytes of the snapshot file prepared by the last <see cref="Apply"/> that returned true.</summary>
    internal byte[] TakePreparedSnapshot() => Interlocked.Exchange(ref _pendingSnapshot, null)
        ?? throw new InvalidOperationException("No snapshot was prepared.");

    /// <summary>Restores the machine from a snapshot file (an install, or the newest file at start).</summary>
    internal ValueTask RestoreFileAsync(FileInfo snapshotFile, CancellationToken token) => RestoreAsync(snapshotFile, token);

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync().ConfigureAwait(false);
        if (_applyTrace is not null)
        {
            await _applyTrace.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Called at startup (the newest snapshot on disk) and when a leader installs a snapshot.</summary>
    protected override async ValueTask RestoreAsync(FileInfo snapshotFile, CancellationToken token)
    {
        // A failure here is fatal for this node: on install it stops DotNext's applier, at startup it fails
        // StartAsync. Either is better than running on a half-restored state.
        try
        {
            await using var stream = new FileStream(snapshotFile.FullName, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var header = new byte[SnapshotFiles.HeaderSizeBytes];
            await stream.ReadExactlyAsync(header, token).ConfigureAwait(false);
            if (!SnapshotFiles.TryReadHeader(header, out var index, out var leaderTimeMs))
            {
                throw SnapshotFiles.Unreadable($"Snapshot file {snapshotFile.Name}", header);
            }

            _machine.RestoreSnapshot(stream);
            Volatile.Write(ref _lastSnapshotIndex, index);
            Volatile.Write(ref _lastLeaderTimeMs, leaderTimeMs);
            Log.SnapshotRestored(_logger, index, snapshotFile.Length);
            _applyTrace?.WriteLine($"{index} - restored {snapshotFile.Length}");
            _metrics.SnapshotRestored();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SnapshotRestoreFailed(_logger, snapshotFile.FullName, e);
            throw;
        }
    }
}
