using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using DotNext.IO;
using DotNext.IO.Log;
using DotNext.Net.Cluster;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus;

/// <summary>The log a <see cref="RaftNode"/> runs on: DotNext's <see cref="IPersistentState"/> and what the node reads of it.</summary>
internal interface IRaftLog : IPersistentState, IAsyncDisposable
{
    /// <summary>The last index applied to the machine, consensus' own entries included.</summary>
    long LastAppliedIndex { get; }

    /// <summary>The index of the snapshot that answers a read below the log's first entry (0 when none).</summary>
    long SnapshotIndex { get; }
}

/// <summary>
/// The project's own Raft log (setting <c>LogEngine=segmented</c>): records in preallocated segment files
/// (<see cref="RecordLog"/>), one data sync per batch shared by every append that joined it (group commit),
/// term and vote in a small file synced before any vote or append is answered (<see cref="TermVoteFile"/>),
/// snapshots in the same folder and format as DotNext's log uses, so seeding, backup and restore work on both.
/// </summary>
/// <remarks>
/// <para>DotNext 6.12's <see cref="IPersistentState"/> has a member with an internal setter (the cluster's
/// configuration storage), so no class outside DotNext can implement it. This one derives from
/// <see cref="WriteAheadLog"/> only to inherit that member: it re-implements every other member of the
/// interface, and the base class runs over an empty folder of its own that nothing ever writes to.</para>
/// <para>Durability. A follower's append is durable before it returns (and so before the follower answers the
/// leader); the leader's own entries are synced in the background as they are appended, and
/// <see cref="CommitAsync(long, CancellationToken)"/> waits for that sync before the commit index passes them, or,
/// with <see cref="UseFollowerCopies"/>, for that sync or a majority of the followers' copies on disk, whichever
/// comes first (the leader then syncs lazily).
/// Truncation and snapshot installs are durable before they return. The commit index is kept in a file that is
/// written but never synced: a lower one after a crash only delays applying until the leader's next heartbeat.</para>
/// </remarks>
internal sealed class SegmentedLog : WriteAheadLog, IRaftLog
{
    private const byte ConfigurationFlag = 1;
    private const int MaxEntriesPerRead = 4096;
    private const long MaxBytesPerRead = 4L * 1024 * 1024;
    private const int MinLongRead = 64;

    private readonly StateMachineAdapter _machine;
    private readonly ConsensusMetrics _metrics;
    private readonly ILogger _logger;
    private readonly string _snapshotFolder;
    private readonly string _baseFolder;
    private readonly RecordLog _records;
    private readonly TermVoteFile _termVote;
    private readonly IStorageFile _commitFile;
    private readonly Lock _gate = new(); // every change to _records, and the fields it mirrors
    private readonly ReaderWriterLockSlim _cuts = new(); // reads against truncation and compaction
    private readonly Lock _voteGate = new();
    private readonly ConcurrentDictionary<long, object> _contexts = new();
    private readonly CancellationTokenSource _lifetime = new();
    private readonly Wakeup _flushWakeup = new();
    private FollowerCopies? _followers; // the leader's lazy sync (UseFollowerCopies); none: every append of the leader is synced at once
    private long _commitTarget; // the leader's commit index as DotNext computed it, ahead of _commitIndex while the copies on disk lag
    private long _eagerUntilMs; // until then (Environment.TickCount64) the leader syncs every append at once: a follower lagged
    private long _eagerSyncMs = MinEagerSyncMs, _lastFallbackMs = long.MinValue / 2; // DotNext's replication loop alone writes these
    private readonly SemaphoreSlim _syncGate = new(1, 1); // one sync at a time: the flusher's or a waiter's own
    private readonly Wakeup _applyWakeup = new();
    private readonly SemaphoreSlim _applyGate = new(1, 1); // the applier against a snapshot install
    private readonly Task _flusher;
    private Task _applier = Task.CompletedTask;
    private Task _snapshotWriter = Task.CompletedTask;
    private TaskCompletionSource _durableSignal = NewSignal();
    private TaskCompletionSource _committedSignal = NewSignal();
    private TaskCompletionSource _appliedSignal = NewSignal();
    private Snapshot? _snapshot;
    private LongRead? _lastLongRead; // see LongRead
    private long _lastIndex, _durableIndex, _commitIndex, _appliedIndex, _term;
    private Snapshot? _pendingRestore; // installed, not yet restored into the machine (under _gate)
    private ClusterMemberId? _vote;
    private Exception? _failure;

    private sealed record Snapshot(long Index, long Term, string Path);

    public SegmentedLog(string dataDirectory, long segmentBytes, StateMachineAdapter machine, ConsensusMetrics metrics, ILogger logger, IStorageFiles files)
        : this(dataDirectory, segmentBytes, machine, metrics, logger, files, EmptyFolder(Path.Combine(dataDirectory, LogFolder, "unused-dotnext-base")))
    {
    }

    private static string EmptyFolder(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }
        return Directory.CreateDirectory(path).FullName;
    }

    private SegmentedLog(string dataDirectory, long segmentBytes, StateMachineAdapter machine, ConsensusMetrics metrics, ILogger logger, IStorageFiles files,
        string baseFolder)
        : base(new Options { Location = baseFolder }, IStateMachine.CreateNoOp())
    {
        _baseFolder = baseFolder;
        _machine = machine;
        _metrics = metrics;
        _logger = logger;
        _snapshotFolder = Path.Combine(dataDirectory, "snapshots");
        Directory.CreateDirectory(_snapshotFolder);
        foreach (var partial in Directory.EnumerateFiles(_snapshotFolder, "*" + PartialSuffix))
        {
            File.Delete(partial);
        }
        var logFolder = Path.Combine(dataDirectory, LogFolder);
        files.CreateDirectory(logFolder);
        _records = RecordLog.Open(files, logFolder, segmentBytes);
        _termVote = TermVoteFile.Open(files, Path.Combine(logFolder, "term-vote"));
        _commitFile = files.OpenOrCreate(Path.Combine(logFolder, "commit"));
        _term = _termVote.Term;
        _vote = ParseVote(_termVote.VotedFor.Span);

        // The machine was restored from the newest snapshot before the log was opened (RaftNode's start order).
        if (((ISnapshotManager)machine).Snapshot is { } restored)
        {
            _snapshot = new Snapshot(restored.Index, restored.Term, SnapshotPath(restored.Index, restored.Term));
            _appliedIndex = restored.Index;
            // The log must continue from the snapshot: if it does not hold the snapshot's entry with the same
            // term (it ends below it, or its entry there came from another leader), it is dropped.
            var continues = _records.LastIndex >= restored.Index && _records.FirstIndex <= restored.Index + 1
                && (_records.FirstIndex == restored.Index + 1 || _records.Read(restored.Index).Term == restored.Term);
            if (!continues)
            {
                _records.ResetTo(restored.Index);
            }
        }
        _lastIndex = _durableIndex = _records.LastIndex;
        _commitIndex = long.Clamp(ReadCommitHint(), _appliedIndex, _lastIndex);
        _flusher = Task.Run(() => RunWorkerAsync(_flushWakeup, async token =>
        {
            await _syncGate.WaitAsync(token).ConfigureAwait(false);
            SyncAppendedAndRelease();
        }));
    }

    private const string PartialSuffix = ".partial";

    /// <summary>A sync this long is logged (event 7150): at most one line per sync, so at most ten a second.</summary>
    private static readonly TimeSpan SlowSync = TimeSpan.FromMilliseconds(100);

    /// <summary>The folder of this log in a data directory.</summary>
    public const string LogFolder = "log";

    /// <summary>True when <paramref name="dataDirectory"/> holds a log of this kind.</summary>
    public static bool ExistsIn(string dataDirectory) => Directory.Exists(Path.Combine(dataDirectory, LogFolder));

    public new long LastEntryIndex => Volatile.Read(ref _lastIndex);

    public new long LastCommittedEntryIndex => Volatile.Read(ref _commitIndex);

    public new long LastAppliedIndex => Volatile.Read(ref _appliedIndex);

    public long SnapshotIndex => Volatile.Read(ref _snapshot)?.Index ?? 0L;

    // ---- term and vote -------------------------------------------------------------------------------------

    public long Term => Volatile.Read(ref _term);

    public bool IsVotedFor(in ClusterMemberId id)
    {
        lock (_voteGate)
        {
            return _vote is not { } vote || vote == id;
        }
    }

    public ValueTask<long> IncrementTermAsync(ClusterMemberId member, CancellationToken token = default)
    {
        lock (_voteGate)
        {
            SaveVote(_term + 1, member);
            return ValueTask.FromResult(_term);
        }
    }

    public ValueTask UpdateTermAsync(long term, bool resetLastVote, CancellationToken token = default)
    {
        lock (_voteGate)
        {
            SaveVote(term, resetLastVote ? null : _vote);
        }
        return ValueTask.CompletedTask;
    }

    public ValueTask UpdateVotedForAsync(ClusterMemberId member, CancellationToken token = default)
    {
        lock (_voteGate)
        {
            SaveVote(_term, member);
        }
        return ValueTask.CompletedTask;
    }

    private void SaveVote(long term, ClusterMemberId? vote)
    {
        var bytes = vote is { } v ? Encoding.UTF8.GetBytes(v.ToString()) : [];
        _termVote.Save(term, bytes);
        Volatile.Write(ref _term, term);
        _vote = vote;
    }

    private static ClusterMemberId? ParseVote(ReadOnlySpan<byte> bytes)
        => !bytes.IsEmpty && ClusterMemberId.TryParse(Encoding.UTF8.GetString(bytes), out var id) ? id : null;

    // ---- appending -----------------------------------------------------------------------------------------

    /// <summary>
    /// The leader's append: not yet durable on return. Its sync starts at once, unless the leader syncs lazily
    /// (<see cref="UseFollowerCopies"/>); either way no commit counts the leader's copy before it is durable.
    /// </summary>
    public new async ValueTask<long> AppendAsync<TEntry>(TEntry entry, CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        ThrowIfFailed();
        if (entry.IsSnapshot)
        {
            throw new InvalidOperationException("A snapshot cannot be appended at the end of the log.");
        }
        var payload = await PayloadAsync(entry, token).ConfigureAwait(false);
        long index;
        lock (_gate)
        {
            index = _lastIndex + 1;
            _records.Append(index, entry.Term, Flags(entry), payload.Span);
            if (entry is IInputLogEntry { Context: { } context })
            {
                _contexts[index] = context;
            }
            Volatile.Write(ref _lastIndex, index);
        }
        if (!SyncsLazily)
        {
            _flushWakeup.Request();
        }
        return index;
    }

    /// <summary>The follower's append of the leader's entries: durable on return.</summary>
    public new async ValueTask AppendAsync<TEntry>(ILogEntryProducer<TEntry> entries, long startIndex, bool skipCommitted = false,
        CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        ThrowIfFailed();
        var batch = new List<Incoming>();
        for (var index = startIndex; await entries.MoveNextAsync().ConfigureAwait(false); index++)
        {
            var entry = entries.Current;
            if (skipCommitted && index <= LastCommittedEntryIndex)
            {
                continue;
            }
            batch.Add(new Incoming(index, entry.Term, Flags(entry), await PayloadAsync(entry, token).ConfigureAwait(false)));
        }
        await AppendAtAsync(batch, token).ConfigureAwait(false);
    }

    /// <summary>One entry at a given index, or a snapshot from the leader.</summary>
    public new async ValueTask AppendAsync<TEntry>(TEntry entry, long startIndex, CancellationToken token = default)
        where TEntry : IRaftLogEntry
    {
        ThrowIfFailed();
        if (entry.IsSnapshot)
        {
            await InstallSnapshotAsync(entry, startIndex, token).ConfigureAwait(false);
            return;
        }
        var incoming = new Incoming(startIndex, entry.Term, Flags(entry), await PayloadAsync(entry, token).ConfigureAwait(false));
        await AppendAtAsync([incoming], token).ConfigureAwait(false);
    }

    private readonly record struct Incoming(long Index, long Term, byte Flags, ReadOnlyMemory<byte> Payload);

    private async ValueTask AppendAtAsync(List<Incoming> batch, CancellationToken token)
    {
        if (batch.Count == 0)
        {
            return;
        }
        long last;
        lock (_gate)
        {
            var appended = new List<LogRecord>(batch.Count);
            foreach (var entry in batch)
            {
                if (appended.Count == 0)
                {
                    if (entry.Index <= _commitIndex)
                    {
                        continue; // committed entries are the leader's already (Raft's log matching)
                    }
                    if (entry.Index <= _lastIndex)
                    {
                        if (TermAtLocked(entry.Index) == entry.Term)
                        {
                            continue; // the same entry
                        }
                        CutLocked(entry.Index - 1); // a conflicting tail: durably gone before anything is written over it
                    }
                }
                // From the first entry written on, the rest follow it: they are all past the log's end.
                if (entry.Index != _lastIndex + 1 + appended.Count)
                {
                    throw new InvalidOperationException($"Entry {entry.Index} would leave a gap after the log's end {_lastIndex + appended.Count}.");
                }
                appended.Add(new LogRecord(entry.Index, entry.Term, entry.Flags, entry.Payload));
            }
            try
            {
                _records.AppendRange(appended);
            }
            finally
            {
                Volatile.Write(ref _lastIndex, _records.LastIndex);
            }
            last = _lastIndex;
        }
        await WaitDurableAsync(last, token).ConfigureAwait(false);
    }

    private long TermAtLocked(long index) => _snapshot is { } s && index == s.Index ? s.Term : _records.Read(index).Term;

    private void CutLocked(long lastKept)
    {
        _cuts.EnterWriteLock();
        try
        {
            Volatile.Write(ref _lastLongRead, null);
            _records.TruncateAfter(lastKept);
            Volatile.Write(ref _lastIndex, lastKept);
            if (_durableIndex > lastKept)
            {
                Volatile.Write(ref _durableIndex, lastKept);
            }
        }
        finally
        {
            _cuts.ExitWriteLock();
        }
        foreach (var index in _contexts.Keys.Where(i => i > lastKept))
        {
            _contexts.TryRemove(index, out _);
        }
    }

    private static byte Flags<TEntry>(TEntry entry)
        where TEntry : IRaftLogEntry => entry.IsConfiguration ? ConfigurationFlag : (byte)0;

    private static async ValueTask<ReadOnlyMemory<byte>> PayloadAsync<TEntry>(TEntry entry, CancellationToken token)
        where TEntry : IRaftLogEntry
        => entry.TryGetMemory(out var memory) ? memory.ToArray() : await entry.ToByteArrayAsync(token: token).ConfigureAwait(false);

    // ---- group commit --------------------------------------------------------------------------------------

    /// <summary><see cref="SyncAppended"/> by the holder of the sync gate, which it releases.</summary>
    private void SyncAppendedAndRelease()
    {
        try
        {
            SyncAppended();
        }
        finally
        {
            _syncGate.Release();
        }
    }

    /// <summary>One sync at a time; every append made while one runs joins the next.</summary>
    private void SyncAppended()
    {
        // Appends go on while the sync runs (they join the next one); truncation, resets and compaction
        // wait for it, so every record up to the target is still there when it is declared durable.
        _cuts.EnterReadLock();
        try
        {
            var target = Volatile.Read(ref _lastIndex);
            var durable = Volatile.Read(ref _durableIndex);
            if (target > durable)
            {
                var started = Stopwatch.GetTimestamp();
                _records.Sync();
                var elapsed = Stopwatch.GetElapsedTime(started);
                _metrics.LogSynced(target - durable, elapsed);
                if (elapsed >= SlowSync)
                {
                    Log.SlowSync(_logger, (long)elapsed.TotalMilliseconds, target - durable);
                }
                Volatile.Write(ref _durableIndex, target);
            }
        }
        finally
        {
            _cuts.ExitReadLock();
        }
        Interlocked.Exchange(ref _durableSignal, NewSignal()).TrySetResult();
        AdvanceCommit();
    }

    /// <summary>
    /// Runs <paramref name="work"/> each time <paramref name="wakeup"/> is requested, one run at a time (requests made
    /// during a run cause one more), until the log is disposed; a failure fails the log.
    /// </summary>
    private async Task RunWorkerAsync(Wakeup wakeup, Func<CancellationToken, Task> work)
    {
        var token = _lifetime.Token;
        try
        {
            while (true)
            {
                await wakeup.WaitAsync(token).ConfigureAwait(false);
                await work(token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Fail(e);
        }
    }

    /// <summary>A request for a worker's next run; any number of requests before it starts count as one.</summary>
    private sealed class Wakeup
    {
        private readonly SemaphoreSlim _requested = new(0, 1);
        private int _pending;

        public void Request()
        {
            if (Interlocked.Exchange(ref _pending, 1) == 0)
            {
                _requested.Release();
            }
        }

        public async Task WaitAsync(CancellationToken token)
        {
            await _requested.WaitAsync(token).ConfigureAwait(false);
            Volatile.Write(ref _pending, 0);
        }
    }

    private async ValueTask WaitDurableAsync(long index, CancellationToken token)
    {
        while (Volatile.Read(ref _durableIndex) < index && Volatile.Read(ref _lastIndex) >= index)
        {
            ThrowIfFailed();
            var signal = Volatile.Read(ref _durableSignal).Task;
            if (Volatile.Read(ref _durableIndex) >= index)
            {
                break;
            }
            // A waiter that finds no sync running makes it itself: a follower's append is durable without a hop
            // to the flusher and back. One running already covers what it started with; the next one is the
            // flusher's (requested here), or this waiter's on its next turn.
            if (_syncGate.Wait(0))
            {
                try
                {
                    SyncAppendedAndRelease();
                }
                catch (Exception e)
                {
                    Fail(e); // as the flusher's failure does (RunWorkerAsync)
                    throw;
                }
                continue;
            }
            _flushWakeup.Request();
            await WaitSignalAsync(signal, token).ConfigureAwait(false);
        }
    }

    // ---- commit and apply ----------------------------------------------------------------------------------

    public new async ValueTask<long> CommitAsync(long endIndex, CancellationToken token = default)
    {
        ThrowIfFailed();
        ArgumentOutOfRangeException.ThrowIfNegative(endIndex);
        // A follower is told the leader's commit index, which can be ahead of what it was sent so far.
        endIndex = long.Min(endIndex, LastEntryIndex);
        if (Volatile.Read(ref _durableIndex) < endIndex && _followers is { CanCover: true })
        {
            // The leader, with copies on the followers that may make the majority without its own.
            return await CommitOnCopiesAsync(endIndex, token).ConfigureAwait(false);
        }
        // Otherwise the leader counts itself among the copies that make an entry committed: its own must be on disk.
        await WaitDurableAsync(endIndex, token).ConfigureAwait(false);
        return CommitThrough(endIndex);
    }

    private long CommitThrough(long endIndex)
    {
        long count;
        lock (_gate)
        {
            endIndex = long.Min(endIndex, _lastIndex);
            count = long.Max(0, endIndex - _commitIndex);
            if (count > 0)
            {
                Volatile.Write(ref _commitIndex, endIndex);
                WriteCommitHint(endIndex);
            }
        }
        if (count > 0)
        {
            _applyWakeup.Request();
            Interlocked.Exchange(ref _committedSignal, NewSignal()).TrySetResult();
        }
        return count;
    }

    // ---- the leader's lazy sync ----------------------------------------------------------------------------

    /// <summary>How long a commit waits for the followers' copies before the leader syncs its own.</summary>
    internal static readonly TimeSpan LazySyncWait = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// How long the leader then syncs every append at once before it tries the followers again: the shortest, and
    /// the longest it grows to while the followers keep lagging (doubled at each wait that runs out within twice
    /// the last period of it).
    /// </summary>
    internal const long MinEagerSyncMs = 50, MaxEagerSyncMs = 1000;

    /// <summary>
    /// From now on, while this node leads a cluster whose followers can make a majority by themselves, its own
    /// appends are not synced at once: an entry commits when a majority of the followers holds it on disk (or the
    /// leader's own sync, whichever comes first). A commit that waits longer than <see cref="LazySyncWait"/> makes
    /// the leader sync its log, and sync every append at once for a while (<see cref="MinEagerSyncMs"/>, doubling
    /// while the followers keep lagging, up to <see cref="MaxEagerSyncMs"/>). The leader's
    /// unsynced entries are on a majority of disks already when they commit; a power cut on the leader loses
    /// at most entries that nothing counted (docs/consensus-notes.md, "The leader's lazy sync").
    /// </summary>
    internal void UseFollowerCopies(FollowerCopies followers)
    {
        followers.Advanced = () => AdvanceCommit();
        _followers = followers;
    }

    /// <summary>A change of leader: a commit target of the last leadership is not this one's.</summary>
    internal void LeadershipChanged()
    {
        Volatile.Write(ref _commitTarget, 0);
        Volatile.Write(ref _eagerUntilMs, 0);
    }

    private bool SyncsLazily
        => _followers is { CanCover: true } && Environment.TickCount64 >= Volatile.Read(ref _eagerUntilMs);

    /// <summary>Commits the leader's target as far as the durable copies go: its own, or a majority of the followers'.</summary>
    private long AdvanceCommit()
    {
        var target = Volatile.Read(ref _commitTarget);
        if (target <= LastCommittedEntryIndex)
        {
            return 0;
        }
        var held = long.Max(Volatile.Read(ref _durableIndex), _followers?.HeldByMajority() ?? 0);
        return CommitThrough(long.Min(target, held));
    }

    /// <summary>
    /// The leader's commit of <paramref name="endIndex"/>, which DotNext found on a majority counting the leader's
    /// own copy: it waits until the copies on disk make that majority (AdvanceCommit, as the followers' answers
    /// and the leader's syncs arrive), and after <see cref="LazySyncWait"/> makes the leader sync. DotNext's
    /// replication rounds wait for it, as they waited for the leader's own sync before: they go no faster than
    /// what they can commit.
    /// </summary>
    private async ValueTask<long> CommitOnCopiesAsync(long endIndex, CancellationToken token)
    {
        var before = LastCommittedEntryIndex;
        var syncing = !SyncsLazily;
        if (syncing)
        {
            _flushWakeup.Request(); // for an append made lazily before the eager period began
        }
        var deadline = Stopwatch.GetTimestamp() + (long)(LazySyncWait.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            ThrowIfFailed();
            var committed = Volatile.Read(ref _committedSignal).Task;
            InterlockedMax(ref _commitTarget, endIndex); // again after a change of leader cleared it
            AdvanceCommit();
            if (LastCommittedEntryIndex >= endIndex || Volatile.Read(ref _lastIndex) < endIndex)
            {
                break; // committed, or cut by a new leader's entries (DotNext's commit index lags then)
            }
            if (syncing)
            {
                await committed.WaitAsync(token).ConfigureAwait(false);
                continue;
            }
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            if (remaining <= TimeSpan.Zero)
            {
                // A follower lags: the leader's own copy makes the majority with the other's.
                syncing = true;
                _metrics.LeaderSyncedForLaggingFollowers();
                var now = Environment.TickCount64;
                _eagerSyncMs = now - _lastFallbackMs <= 2 * _eagerSyncMs ? long.Min(2 * _eagerSyncMs, MaxEagerSyncMs) : MinEagerSyncMs;
                _lastFallbackMs = now;
                Volatile.Write(ref _eagerUntilMs, now + _eagerSyncMs);
                _flushWakeup.Request();
                continue;
            }
            await committed.WaitAsync(remaining, token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            token.ThrowIfCancellationRequested();
        }
        return long.Max(0, LastCommittedEntryIndex - before);
    }

    private static void InterlockedMax(ref long location, long value)
    {
        for (var current = Volatile.Read(ref location); current < value;)
        {
            var seen = Interlocked.CompareExchange(ref location, value, current);
            if (seen == current)
            {
                return;
            }
            current = seen;
        }
    }

    public override async Task InitializeAsync(CancellationToken token = default)
    {
        // Entries committed before the restart are applied before the node serves.
        await ApplyCommittedAsync(token).ConfigureAwait(false);
        _applier = Task.Run(() => RunWorkerAsync(_applyWakeup, ApplyCommittedAsync));
    }

    public new ValueTask WaitForApplyAsync(CancellationToken token = default)
    {
        ThrowIfFailed();
        return new(WaitSignalAsync(Volatile.Read(ref _appliedSignal).Task, token));
    }

    public new async ValueTask WaitForApplyAsync(long index, CancellationToken token = default)
    {
        while (LastAppliedIndex < index)
        {
            ThrowIfFailed();
            var signal = Volatile.Read(ref _appliedSignal).Task;
            if (LastAppliedIndex >= index)
            {
                break;
            }
            await WaitSignalAsync(signal, token).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits for a signal or the token, and never resumes the caller on the thread that cancels: DotNext cancels
    /// a leadership's token while it holds its transition lock, and a caller resumed there (a proposer learning
    /// that leadership was lost, and whatever it does next) would run inside the transition and could stall it.
    /// </summary>
    private static async Task WaitSignalAsync(Task signal, CancellationToken token)
    {
        if (!token.CanBeCanceled)
        {
            await signal.ConfigureAwait(false);
            return;
        }
        var canceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (token.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), canceled))
        {
            await Task.WhenAny(signal, canceled.Task).ConfigureAwait(false);
        }
        token.ThrowIfCancellationRequested();
    }

    private async Task ApplyCommittedAsync(CancellationToken token)
    {
        await _applyGate.WaitAsync(token).ConfigureAwait(false);
        try
        {
            await RestorePendingAsync().ConfigureAwait(false);
            var storage = ((IPersistentState)this).ConfigurationStorage;
            for (var index = LastAppliedIndex + 1; index <= LastCommittedEntryIndex; index++)
            {
                token.ThrowIfCancellationRequested();
                LogRecord record;
                _cuts.EnterReadLock();
                try
                {
                    record = _records.Read(index);
                }
                finally
                {
                    _cuts.ExitReadLock();
                }
                _contexts.TryRemove(index, out var context);
                if ((record.Flags & ConfigurationFlag) != 0)
                {
                    if (storage is not null)
                    {
                        await storage.SaveConfigurationAsync(Stored(record), index, token).ConfigureAwait(false);
                    }
                }
                else if (!record.Payload.IsEmpty && _machine.Apply(index, record.Term, new ReadOnlySequence<byte>(record.Payload), context))
                {
                    // The machine serialized its state at this index; the file is written off the applier, one at a
                    // time (a snapshot whose predecessor is still being written waits for it).
                    await _snapshotWriter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    var (content, term) = (_machine.TakePreparedSnapshot(), record.Term);
                    var snapshotIndex = index;
                    _snapshotWriter = Task.Run(() => PersistSnapshotAsync(snapshotIndex, term, content, _lifetime.Token), CancellationToken.None);
                }
                Volatile.Write(ref _appliedIndex, index);
                if ((index & 63) == 0)
                {
                    Interlocked.Exchange(ref _appliedSignal, NewSignal()).TrySetResult();
                }
            }
        }
        finally
        {
            _applyGate.Release();
            Interlocked.Exchange(ref _appliedSignal, NewSignal()).TrySetResult();
        }
    }

    // ---- snapshots -----------------------------------------------------------------------------------------

    private string SnapshotPath(long index, long term) =>
        Path.Combine(_snapshotFolder, string.Create(CultureInfo.InvariantCulture, $"{index}-{term}"));

    /// <summary>Writes a snapshot the machine prepared, then drops the log it covers and the older snapshots.</summary>
    private async Task PersistSnapshotAsync(long index, long term, byte[] content, CancellationToken token)
    {
        try
        {
            var path = SnapshotPath(index, term);
            await WriteDurablyAsync(path, async file => await file.WriteAsync(content, token).ConfigureAwait(false), token).ConfigureAwait(false);
            UseSnapshot(new Snapshot(index, term, path), dropLog: false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The log is not compacted this time; the next snapshot tries again.
            _logger.LogError(e, "Writing the snapshot at index {Index} failed", index);
        }
    }

    private async Task InstallSnapshotAsync<TEntry>(TEntry snapshot, long index, CancellationToken token)
        where TEntry : IRaftLogEntry
    {
        if (index <= LastCommittedEntryIndex)
        {
            return;
        }
        var path = SnapshotPath(index, snapshot.Term);
        await WriteDurablyAsync(path, file => snapshot.WriteToAsync(file, token: token), CancellationToken.None).ConfigureAwait(false);

        // Once the whole snapshot is here the install is finished whatever the request's timeout says: the
        // leader's next offer of it is then refused and its replication resumes after it (trap 13). The machine
        // restores it on the applier, after this request has been answered: the restore of a large table takes
        // longer than a Raft request may, and while a request runs no heartbeat reaches this node, whose election
        // timer would then run out in the middle of the install.
        await _applyGate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            lock (_gate)
            {
                UseSnapshot(new Snapshot(index, snapshot.Term, path), dropLog: true);
                Volatile.Write(ref _commitIndex, long.Max(_commitIndex, index));
                WriteCommitHint(_commitIndex);
                _pendingRestore = new Snapshot(index, snapshot.Term, path);
            }
        }
        finally
        {
            _applyGate.Release();
        }
        _applyWakeup.Request();
    }

    /// <summary>Restores the machine from a snapshot installed since the last apply, if any; the caller holds the apply gate.</summary>
    private async Task RestorePendingAsync()
    {
        Snapshot? pending;
        lock (_gate)
        {
            pending = _pendingRestore;
            _pendingRestore = null;
        }
        if (pending is null)
        {
            return;
        }
        try
        {
            await _machine.RestoreFileAsync(new FileInfo(pending.Path), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The machine may be half-restored: nothing more may be applied or answered from it.
            Fail(e);
            throw;
        }
        Volatile.Write(ref _appliedIndex, pending.Index);
    }

    /// <summary>
    /// Makes <paramref name="snapshot"/> the one reads below the log get, compacts the log and deletes older files;
    /// a snapshot not newer than the current one (written while a newer one was installed) is deleted instead.
    /// </summary>
    private void UseSnapshot(Snapshot snapshot, bool dropLog)
    {
        lock (_gate)
        {
            if (snapshot.Index <= SnapshotIndex && !dropLog)
            {
                File.Delete(snapshot.Path);
                return;
            }
            _cuts.EnterWriteLock();
            try
            {
                Volatile.Write(ref _lastLongRead, null);
                Volatile.Write(ref _snapshot, snapshot);
                if (dropLog)
                {
                    // An installed snapshot replaces the whole log: what followed the old entries below it may
                    // not be the leader's (trap 9 in docs/consensus-notes.md).
                    _records.ResetTo(snapshot.Index);
                    Volatile.Write(ref _lastIndex, snapshot.Index);
                    Volatile.Write(ref _durableIndex, snapshot.Index);
                    _contexts.Clear();
                }
                else
                {
                    _records.DropThrough(snapshot.Index);
                }
            }
            finally
            {
                _cuts.ExitWriteLock();
            }
        }
        foreach (var file in Directory.EnumerateFiles(_snapshotFolder, "*-*"))
        {
            if (SnapshotFiles.TryParseName(Path.GetFileName(file), out var index, out _) && index < snapshot.Index)
            {
                File.Delete(file);
            }
        }
    }

    private static async Task WriteDurablyAsync(string path, Func<FileStream, ValueTask> write, CancellationToken token)
    {
        // Not a snapshot name ("{index}-{term}"): a crash leaves it behind as a file no one reads, deleted at the next start.
        var partial = Path.Combine(Path.GetDirectoryName(path)!, Path.GetFileName(path).Replace('-', '.') + PartialSuffix);
        try
        {
            await using (var file = new FileStream(partial, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await write(file).ConfigureAwait(false);
                await file.FlushAsync(token).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            File.Move(partial, path, overwrite: true);
            SnapshotFiles.FlushFolder(Path.GetDirectoryName(path)!);
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
    }

    // ---- reading -------------------------------------------------------------------------------------------

    public new ValueTask<TResult> ReadAsync<TResult>(ILogEntryConsumer<IRaftLogEntry, TResult> reader, long startIndex, long endIndex,
        CancellationToken token = default)
    {
        ThrowIfFailed();
        ArgumentOutOfRangeException.ThrowIfNegative(startIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(endIndex, LastEntryIndex);
        if (startIndex > endIndex)
        {
            return reader.ReadAsync<StoredEntry, StoredEntry[]>([], null, token);
        }

        List<StoredEntry> entries;
        _cuts.EnterReadLock();
        try
        {
            if (Volatile.Read(ref _snapshot) is { } snapshot && startIndex <= snapshot.Index)
            {
                // Everything up to the snapshot is the snapshot: the reader gets it alone.
                var entry = new SnapshotEntry(snapshot.Term, snapshot.Path, new FileInfo(snapshot.Path).Length);
                return reader.ReadAsync<SnapshotEntry, SnapshotEntry[]>([entry], snapshot.Index, token);
            }
            entries = new List<StoredEntry>((int)long.Min(endIndex - startIndex + 1, MaxEntriesPerRead));
            long bytes = 0;
            // A member that lags asks for the same entries round after round (one that is down: hundreds of
            // times a second, each request failing); the last long read answers them without the file.
            var last = Volatile.Read(ref _lastLongRead);
            for (var index = startIndex; index <= endIndex && entries.Count < MaxEntriesPerRead && bytes < MaxBytesPerRead; index++)
            {
                var entry = last is not null && index >= last.Start && index - last.Start < last.Entries.Length
                    ? last.Entries[index - last.Start]
                    : Stored(_records.Read(index));
                bytes += entry.Payload.Length;
                entries.Add(entry);
            }
            if (entries.Count >= MinLongRead)
            {
                Volatile.Write(ref _lastLongRead, new LongRead(startIndex, [.. entries]));
            }
        }
        finally
        {
            _cuts.ExitReadLock();
        }
        return reader.ReadAsync<StoredEntry, List<StoredEntry>>(entries, null, token);
    }

    /// <summary>
    /// The entries of the last read of at least <see cref="MinLongRead"/> entries, from <paramref name="Start"/> on.
    /// Written under the read lock of <c>_cuts</c> and cleared under its write lock by every change of an index's
    /// entry (a cut of the tail, an installed snapshot that replaces the log, a compaction), so that a reader never
    /// sees an entry the log no longer holds.
    /// </summary>
    private sealed record LongRead(long Start, StoredEntry[] Entries);

    private static StoredEntry Stored(LogRecord record) =>
        new(record.Term, (record.Flags & ConfigurationFlag) != 0, record.Payload);

    private sealed class StoredEntry(long term, bool isConfiguration, ReadOnlyMemory<byte> payload) : IRaftLogEntry
    {
        public long Term => term;

        public ReadOnlyMemory<byte> Payload => payload;

        public bool IsConfiguration => isConfiguration;

        public bool IsReusable => true;

        public long? Length => payload.Length;

        public ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter => writer.Invoke(payload, token);

        public bool TryGetMemory(out ReadOnlyMemory<byte> memory)
        {
            memory = payload;
            return true;
        }
    }

    /// <summary>The snapshot a read below the log gets; its length is taken while the file is certainly there.</summary>
    private sealed class SnapshotEntry(long term, string path, long length) : IRaftLogEntry
    {
        public long Term => term;

        public bool IsSnapshot => true;

        public bool IsReusable => true;

        public long? Length => length;

        public async ValueTask WriteToAsync<TWriter>(TWriter writer, CancellationToken token)
            where TWriter : IAsyncBinaryWriter
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            await writer.CopyFromAsync(file, token: token).ConfigureAwait(false);
        }
    }

    // ---- commit hint, failures, disposal ------------------------------------------------------------------

    private long ReadCommitHint()
    {
        Span<byte> bytes = stackalloc byte[8];
        return _commitFile.Read(0, bytes) == 8 ? BitConverter.ToInt64(bytes) : 0L;
    }

    private void WriteCommitHint(long commitIndex) => _commitFile.Write(0, BitConverter.GetBytes(commitIndex));

    private void Fail(Exception e)
    {
        Interlocked.CompareExchange(ref _failure, e, null);
        _logger.LogCritical(e, "The log failed; this node stops appending and applying");
        Interlocked.Exchange(ref _durableSignal, NewSignal()).TrySetException(e);
        Interlocked.Exchange(ref _appliedSignal, NewSignal()).TrySetException(e);
        Interlocked.Exchange(ref _committedSignal, NewSignal()).TrySetException(e);
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            throw new InvalidOperationException("The log failed earlier; see the node's log.", failure);
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public new async ValueTask DisposeAsync()
    {
        await _lifetime.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_flusher, _applier).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _snapshotWriter.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _syncGate.WaitAsync().ConfigureAwait(false); // a waiter's own sync ends first; none starts after
        lock (_gate)
        {
            _records.Sync();
            _commitFile.Sync();
            _records.Dispose();
            _termVote.Dispose();
            _commitFile.Dispose();
        }
        _cuts.Dispose();
        _lifetime.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
        Directory.Delete(_baseFolder, recursive: true);
    }
}
