using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using DotNext.Net.Cluster.Consensus.Raft.StateMachine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaftDlm.Consensus;

/// <summary>
/// One member of a statically configured Raft cluster (DotNext.Net.Cluster over TCP) that replicates opaque
/// commands to an <see cref="IReplicatedStateMachine"/>. It knows nothing of what the commands mean.
/// </summary>
public sealed partial class RaftNode : IAsyncDisposable
{
    private const int NotStarted = 0, Running = 1, Stopped = 2;
    private const int ForcedSnapshotIntervalMs = 10_000;

    private readonly RaftNodeOptions _options;
    private readonly IReplicatedStateMachine _machine;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly ConsensusMetrics _metrics;
    private readonly RaftMember _self;

    // Proposal ids must never repeat, also across restarts of the same node: a random incarnation does that.
    private readonly long _incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    private long _proposalSequence;
    private long _lastStampedTimeMs;
    private int _lifecycle;
    private StateMachineAdapter? _adapter;
    private DurableWriteAheadLog? _wal;
    private RaftCluster? _cluster;
    private long _leaderTerm = -1;
    private long _lastForcedSnapshotMs = long.MinValue / 2;

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
        _self = _options.Self;
    }

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> this component reports to.</summary>
    public const string MeterName = ConsensusMetrics.MeterName;

    /// <summary>Fired on this node's change of view of the leader; null when the leader is lost.</summary>
    public event Action<RaftMember?>? LeaderChanged;

    public RaftMember Self => _self;

    public bool IsLeader => _cluster is { } c && Volatile.Read(ref _lifecycle) == Running && !c.LeadershipToken.IsCancellationRequested;

    public RaftMember? Leader => _cluster?.Leader is { } leader ? FindMember(leader.EndPoint) : null;

    public long Term => _wal is IPersistentState state ? state.Term : 0L;

    public long CommitIndex => _wal?.LastCommittedEntryIndex ?? 0L;

    /// <summary>
    /// The last log index applied here, counting the entries consensus keeps to itself (election no-ops,
    /// membership), which the machine never sees: compare it, not the machine's own last index, with
    /// <see cref="CommitIndex"/>.
    /// </summary>
    public long LastAppliedLogIndex => _wal?.LastAppliedIndex ?? 0L;

    /// <summary>The index of the newest snapshot taken or installed on this node (0 when none).</summary>
    public long LastSnapshotIndex => _adapter?.LastSnapshotIndex ?? 0L;

    /// <summary>Every configured member with a short status: "leader", "follower", and for peers their
    /// reachability as seen from here ("available", "unavailable", "unknown").</summary>
    public IReadOnlyList<(RaftMember Member, string Status)> MembersView
    {
        get
        {
            var leader = Leader;
            var result = new List<(RaftMember, string)>(_options.Members.Count);
            foreach (var member in _options.Members)
            {
                var role = member == leader ? "leader" : "follower";
                if (member == _self)
                {
                    result.Add((member, role));
                    continue;
                }

                var peer = _cluster?.Members.FirstOrDefault(m => Matches(member, m.EndPoint));
                var reachability = peer?.Status.ToString().ToLowerInvariant() ?? "unknown";
                result.Add((member, $"{role}/{reachability}"));
            }

            return result;
        }
    }

    /// <summary>
    /// Restores the newest snapshot, replays the committed log into the machine, then joins the cluster.
    /// </summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (Interlocked.CompareExchange(ref _lifecycle, Running, NotStarted) != NotStarted)
        {
            throw new InvalidOperationException("A RaftNode can be started only once.");
        }

        try
        {
            await StartCoreAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            // Release the port and the WAL so that a new RaftNode can start on the same data directory.
            await StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken ct)
    {
        var dataDirectory = Path.GetFullPath(_options.DataDirectory);
        Log.Starting(_logger, _options.NodeId, _self.RaftEndpoint.ToString(), _options.Members.Count, dataDirectory);
        Directory.CreateDirectory(dataDirectory);

        // Order matters: DotNext reads the restored snapshot index in the WAL constructor to decide where
        // replay starts, so the snapshot must be restored first.
        _adapter = new StateMachineAdapter(new DirectoryInfo(Path.Combine(dataDirectory, "snapshots")), _machine,
            _options.SnapshotEveryEntries, _metrics, _logger, _options.ApplyTraceFile);
        await _adapter.RestoreAsync(ct).ConfigureAwait(false);
        _wal = new DurableWriteAheadLog(new WriteAheadLog.Options
        {
            Location = Path.Combine(dataDirectory, "wal"),
            ChunkSize = _options.ChunkSizeBytes,
        }, _adapter);

        _cluster = new RaftCluster(CreateConfiguration()) { AuditTrail = _wal };
        _cluster.LeaderChanged += OnLeaderChanged;

        // StartAsync initializes the WAL, which replays every committed entry before the node serves.
        await _cluster.StartAsync(ct).ConfigureAwait(false);
        Log.Started(_logger, _options.NodeId, _wal.LastEntryIndex, _wal.LastAppliedIndex);
    }

    private RaftCluster.TcpConfiguration CreateConfiguration()
    {
        var configuration = new RaftCluster.TcpConfiguration(_self.RaftEndpoint)
        {
            // The default (true) makes every node bootstrap a cluster of its own.
            ColdStart = false,
            LowerElectionTimeout = _options.ElectionTimeoutMinMs,
            UpperElectionTimeout = _options.ElectionTimeoutMaxMs,
            // Heartbeats at a third of the minimum election timeout leave room for one lost heartbeat.
            HeartbeatThreshold = 0.3,
            RequestTimeout = TimeSpan.FromMilliseconds(_options.RequestTimeoutMs ?? _options.ElectionTimeoutMinMs / 2),
            ConfigurationStorage = null, // null selects the in-memory storage, filled below
            LoggerFactory = new ReplicationWatch(_loggerFactory, OnReplicationRestartedFromZero),
            SslOptions = _options.Tls?.ToSslOptions(),
        };
        configuration.Metadata["nodeId"] = _self.Id;
        configuration.Metadata["httpEndpoint"] = _self.HttpEndpoint;

        // The membership storage is not persisted: the static member list is given at every start.
        var storage = (InMemoryClusterConfigurationStorage<EndPoint>?)configuration.ConfigurationStorage
            ?? throw new InvalidOperationException("DotNext did not create an in-memory membership storage.");
        var builder = storage.CreateInitialConfigurationBuilder();
        foreach (var member in _options.Members)
        {
            builder.Add(member.RaftEndpoint);
        }
        builder.Build();
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
    /// Trap 13: DotNext's leader restarts a member's replication from entry 0 when the member refused its
    /// snapshot, which a member does when it already holds that snapshot (its install outlasted the request
    /// timeout). The leader would resend the same snapshot forever; a newer one is accepted. So the leader
    /// takes a snapshot at its next entry, and appends a no-op so that there is one. At most once per
    /// <see cref="ForcedSnapshotIntervalMs"/>: a snapshot too large for one request keeps failing anyway.
    /// </summary>
    private void OnReplicationRestartedFromZero()
    {
        if (!IsLeader || _adapter is not { } adapter)
        {
            return;
        }
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastForcedSnapshotMs);
        if (now - last < ForcedSnapshotIntervalMs || Interlocked.CompareExchange(ref _lastForcedSnapshotMs, now, last) != last)
        {
            return;
        }
        adapter.SnapshotAtNextApply();
        Log.ForcingSnapshot(_logger, LastSnapshotIndex);
        _ = Task.Run(ProposeNoOpAsync);
    }

    /// <summary>An entry of consensus' own (an envelope with no command), which the machine never sees.</summary>
    private async Task ProposeNoOpAsync()
    {
        try
        {
            await ProposeAsync(ReadOnlyMemory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is NotLeaderException or OutcomeUnknownException or OperationCanceledException or InvalidOperationException)
        {
            _logger.LogDebug(e, "The no-op for a newer snapshot was not committed");
        }
    }

    private RaftMember? FindMember(EndPoint? endPoint)
        => endPoint is null ? null : _options.Members.FirstOrDefault(m => Matches(m, endPoint));

    private static bool Matches(RaftMember member, EndPoint endPoint)
        => endPoint is IPEndPoint ip ? member.RaftEndpoint.Equals(ip) : member.RaftEndpoint.ToString() == endPoint.ToString();

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
