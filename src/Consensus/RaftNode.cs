using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus;

/// <summary>
/// One member of a statically configured Raft cluster (DotNext.Net.Cluster over TCP) that replicates opaque
/// commands to an <see cref="IReplicatedStateMachine"/>. It knows nothing of what the commands mean.
/// </summary>
public sealed partial class RaftNode : IAsyncDisposable
{
    private const int NotStarted = 0, Running = 1, Stopped = 2;
    private const int CursorMoveLogIntervalMs = 10_000;

    private readonly RaftNodeOptions _options;
    private readonly IReplicatedStateMachine _machine;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConsensusMetrics _metrics;
    private readonly RaftMember _self;

    // Proposal ids must never repeat, also across restarts of the same node: a random incarnation does that.
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    private long _proposalSequence;
    // Proposals waiting for the log (ProposalBatching), and how many entries of them are replicating.
    private const int MaxQueuedProposals = 65_536;
    private readonly Lock _queueGate = new();
    private readonly Queue<Proposal> _queued = new();
    private int _entriesInFlight;
    private long _lastStampedTimeMs;
    private int _lifecycle;
    private StateMachineAdapter? _adapter;
    private IRaftLog? _wal;
    private RaftCluster? _cluster;
    private readonly FollowerCopies _followerCopies;
    private long _leaderTerm = -1;
    private long _lastCursorMoveLoggedMs = long.MinValue / 2;

    public RaftNode(RaftNodeOptions options, IReplicatedStateMachine machine, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(machine);
        options.Validate();
        _options = options;
        _machine = machine;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = _loggerFactory.CreateLogger("RaftDlm.Consensus");
        _metrics = new ConsensusMetrics(this, _options.NodeId);
        _followerCopies = new FollowerCopies(() => _cluster?.Members);
        _self = _options.Self;
    }

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> this component reports to.</summary>
    public const string MeterName = ConsensusMetrics.MeterName;

    /// <summary>Fired on this node's change of view of the leader; null when the leader is lost.</summary>
    public event Action<RaftMember?>? LeaderChanged;

    public RaftMember Self => _self;

    public bool IsLeader => _cluster is { } c && Volatile.Read(ref _lifecycle) == Running && !c.LeadershipToken.IsCancellationRequested;

    public RaftMember? Leader => _cluster?.Leader is { } leader ? FindMember(leader.EndPoint) : null;

    public long Term => _wal?.Term ?? 0L;

    public long CommitIndex => _wal?.LastCommittedEntryIndex ?? 0L;

    /// <summary>
    /// The last log index applied here, counting the entries consensus keeps to itself (election no-ops,
    /// membership), which the machine never sees: compare it, not the machine's own last index, with
    /// <see cref="CommitIndex"/>.
    /// </summary>
    public long LastAppliedLogIndex => _wal?.LastAppliedIndex ?? 0L;

    /// <summary>The log this node runs on (known once it started): its data directory's, whatever the setting says.</summary>
    public LogEngine LogEngineInUse => _wal is SegmentedLog ? LogEngine.Segmented : LogEngine.DotNext;

    /// <summary>The index of the newest snapshot taken or installed on this node (0 when none).</summary>
    public long LastSnapshotIndex => _adapter?.LastSnapshotIndex ?? 0L;

    /// <summary>
    /// Restores the newest snapshot, replays the committed log into the machine, then joins the cluster.
    /// </summary>
    public Task StartAsync(CancellationToken ct) => StartAsync(joinExisting: false, ct);

    /// <summary>
    /// Restores the newest snapshot, replays the committed log into the machine, then joins the cluster. With
    /// <paramref name="joinExisting"/> and no membership stored yet, the node starts outside every membership: it
    /// neither votes nor stands for election until a leader adds it (<see cref="AddMemberAsync"/>). Otherwise a
    /// data directory without a stored membership starts one from <see cref="RaftNodeOptions.Members"/>.
    /// </summary>
    public async Task StartAsync(bool joinExisting, CancellationToken ct)
    {
        if (Interlocked.CompareExchange(ref _lifecycle, Running, NotStarted) != NotStarted)
        {
            throw new InvalidOperationException("A RaftNode can be started only once.");
        }

        try
        {
            await StartCoreAsync(joinExisting, ct).ConfigureAwait(false);
        }
        catch
        {
            // Release the port and the WAL so that a new RaftNode can start on the same data directory.
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(bool joinExisting, CancellationToken ct)
    {
        var dataDirectory = Path.GetFullPath(_options.DataDirectory);
        Log.Starting(_logger, _options.NodeId, _self.RaftEndpoint, _options.Members.Count, dataDirectory);
        Directory.CreateDirectory(dataDirectory);
        ReplicationCursor.EnsureBound();

        // Order matters: DotNext reads the restored snapshot index in the WAL constructor to decide where
        // replay starts, so the snapshot must be restored first.
        _adapter = new StateMachineAdapter(new DirectoryInfo(Path.Combine(dataDirectory, "snapshots")), _machine,
            _options.SnapshotEveryEntries, _metrics, _logger, _options.ApplyTraceFile);
        await _adapter.RestoreAsync(ct).ConfigureAwait(false);
        _wal = OpenLog(dataDirectory);
        if (_options.LazyLeaderSync && _wal is SegmentedLog segmented)
        {
            segmented.UseFollowerCopies(_followerCopies);
        }

        _joinExisting = joinExisting;
        var storage = new MembershipStorage(Path.Combine(dataDirectory, MembershipFileName));
        await BootstrapMembershipAsync(storage, joinExisting, ct).ConfigureAwait(false);
        _cluster = new RaftCluster(CreateConfiguration(storage)) { AuditTrail = _wal };
        _cluster.LeaderChanged += OnLeaderChanged;
        _cluster.MemberAdded += OnMemberAdded;
        _cluster.MemberRemoved += OnMemberRemoved;

        // StartAsync initializes the WAL, which replays every committed entry before the node serves.
        await _cluster.StartAsync(ct).ConfigureAwait(false);
        Log.Started(_logger, _options.NodeId, _wal.LastEntryIndex, _wal.LastAppliedIndex);
    }

    /// <summary>
    /// The log of a data directory: the kind it already holds, or for a new one the kind
    /// <see cref="RaftNodeOptions.LogEngine"/> names (docs/consensus-notes.md, "The segmented log").
    /// </summary>
    private IRaftLog OpenLog(string dataDirectory)
    {
        var engine = SegmentedLog.ExistsIn(dataDirectory) ? LogEngine.Segmented
            : Directory.Exists(Path.Combine(dataDirectory, WalFolder)) ? LogEngine.DotNext
            : _options.LogEngine;
        if (engine != _options.LogEngine)
        {
            Log.LogEngineKept(_logger, engine.ToString(), _options.LogEngine.ToString());
        }
        return engine == LogEngine.Segmented
            ? new SegmentedLog(dataDirectory, _options.ChunkSizeBytes, _adapter!, _metrics, _logger, _options.StorageFiles ?? OsStorageFiles.Instance)
            : new DurableWriteAheadLog(new WriteAheadLog.Options
            {
                Location = Path.Combine(dataDirectory, WalFolder),
                ChunkSize = _options.ChunkSizeBytes,
            }, _adapter!);
    }

    private const string WalFolder = "wal";

    private RaftCluster.TcpConfiguration CreateConfiguration(MembershipStorage storage)
    {
        var configuration = new RaftCluster.TcpConfiguration(_self.ListenEndPoint())
        {
            // The default (true) makes every node bootstrap a cluster of its own.
            ColdStart = false,
            // The membership is DotNext's, stored in the data directory and changed through the log; a member's
            // address carries its id and HTTP address, and names this node to the others.
            ConfigurationStorage = storage,
            PublicEndPoint = MemberEndPoint.From(_self),
            // A new member is caught up before it is added; the time bound is the caller's (AddMemberAsync).
            WarmupRounds = WarmupRounds,
            LowerElectionTimeout = _options.ElectionTimeoutMinMs,
            UpperElectionTimeout = _options.ElectionTimeoutMaxMs,
            // Heartbeats at a third of the minimum election timeout leave room for one lost heartbeat.
            HeartbeatThreshold = 0.3,
            RequestTimeout = TimeSpan.FromMilliseconds(_options.EffectiveRequestTimeoutMs),
            LoggerFactory = new ReplicationWatch(_loggerFactory, OnReplicationFailed, _followerCopies),
            SslOptions = _options.Tls?.ToSslOptions(),
        };
        configuration.Metadata["nodeId"] = _self.Id;
        configuration.Metadata["httpEndpoint"] = _self.HttpEndpoint;
        return configuration;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _lifecycle, Stopped) != Running)
        {
            return;
        }

        if (_cluster is { } c)
        {
            c.LeaderChanged -= OnLeaderChanged;
            await c.StopAsync(ct).ConfigureAwait(false);
            await c.DisposeAsync().ConfigureAwait(false);
        }

        if (_wal is { } log)
        {
            await log.DisposeAsync().ConfigureAwait(false);
        }
        if (_adapter is { } a)
        {
            await a.DisposeAsync().ConfigureAwait(false);
        }
        Log.Stopped(_logger, _options.NodeId);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _metrics.Dispose();
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        var member = leader is null ? null : FindMember(leader.EndPoint);
        // DotNext raises this under its transition lock, right after it made this node leader: the term read
        // here is the term it leads, which every proposal of this leadership must carry (see ProposeAsync).
        if (member == _self)
        {
            Volatile.Write(ref _leaderTerm, Term);
        }
        _followerCopies.Reset(leading: member == _self);
        (_wal as SegmentedLog)?.LeadershipChanged();
        _metrics.LeaderChanged();
        Log.LeaderChanged(_logger, member?.Id ?? "(none)", Term);
        try
        {
            LeaderChanged?.Invoke(member);
        }
        catch (Exception e)
        {
            // A subscriber's bug must not break DotNext's state transitions.
            _logger.LogError(e, "A LeaderChanged subscriber threw");
        }
    }

    /// <summary>
    /// Trap 13: when a member refuses an append, DotNext's leader moves its next index for that member down by
    /// one entry per round. Below the leader's snapshot that walk never ends well: the leader offers the
    /// snapshot, and a member whose install outlasted the request timeout (it finished after the leader gave up)
    /// refuses it as not above its commit index, so the walk goes on, one entry per round, far below the
    /// snapshot, while the member never gets the log after it. Every index below the snapshot is answered by the
    /// same snapshot, so the leader moves straight to the entry after it instead: a member holding the snapshot
    /// then takes the log that follows, and one that does not refuses once more and is offered the snapshot.
    /// </summary>
    /// <remarks>Runs in the member's replication, right after DotNext moved the index (see <see cref="ReplicationWatch"/>).</remarks>
    private void OnReplicationFailed(EndPoint endPoint, long retryFrom)
    {
        var snapshotIndex = _wal?.SnapshotIndex ?? 0L;
        if (!IsLeader || retryFrom >= snapshotIndex
            || _cluster?.Members.FirstOrDefault(m => m.IsRemote && Equals(m.EndPoint, endPoint)) is not { } member)
        {
            return;
        }

        ReplicationCursor.MoveTo(member, snapshotIndex + 1);
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastCursorMoveLoggedMs);
        if (now - last >= CursorMoveLogIntervalMs && Interlocked.CompareExchange(ref _lastCursorMoveLoggedMs, now, last) == last)
        {
            Log.ReplicationResumedAfterSnapshot(_logger, FindMember(endPoint)?.Id ?? endPoint.ToString() ?? "?", retryFrom, snapshotIndex);
        }
    }

    private static RaftMember? FindMember(EndPoint? endPoint) => (endPoint as MemberEndPoint)?.ToMember();

    private RaftCluster RunningCluster
        => Volatile.Read(ref _lifecycle) == Running && _cluster is { } c ? c : throw new InvalidOperationException("The Raft node is not running.");

    /// <summary>Leader time never goes backwards: at least the last stamp and the last applied time.</summary>
    private long NextLeaderTimeMs()
    {
        var floor = long.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _adapter?.LastLeaderTimeMs ?? 0L);
        while (true)
        {
            var last = Volatile.Read(ref _lastStampedTimeMs);
            var next = long.Max(floor, last);
            if (Interlocked.CompareExchange(ref _lastStampedTimeMs, next, last) == last)
            {
                return next;
            }
        }
    }
}
