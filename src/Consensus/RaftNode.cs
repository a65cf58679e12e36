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

    private readonly RaftNodeOptions options;
    private readonly IReplicatedStateMachine machine;
    private readonly ILoggerFactory loggerFactory;
    private readonly ILogger logger;
    private readonly ConsensusMetrics metrics;
    private readonly RaftMember self;

    // Proposal ids must never repeat, also across restarts of the same node: a random incarnation does that.
    private readonly long incarnation = Random.Shared.NextInt64(1, long.MaxValue);
    private long proposalSequence;
    private long lastStampedTimeMs;
    private int lifecycle;
    private StateMachineAdapter? adapter;
    private DurableWriteAheadLog? wal;
    private RaftCluster? cluster;
    private long leaderTerm = -1;

    public RaftNode(RaftNodeOptions options, IReplicatedStateMachine machine, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(machine);
        options.Validate();
        this.options = options;
        this.machine = machine;
        this.loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        logger = this.loggerFactory.CreateLogger("RaftDlm.Consensus");
        metrics = new ConsensusMetrics(options.NodeId);
        self = options.Self;
    }

    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> this component reports to.</summary>
    public const string MeterName = ConsensusMetrics.MeterName;

    /// <summary>Fired on this node's change of view of the leader; null when the leader is lost.</summary>
    public event Action<RaftMember?>? LeaderChanged;

    public RaftMember Self => self;

    public bool IsLeader => cluster is { } c && Volatile.Read(ref lifecycle) == Running && !c.LeadershipToken.IsCancellationRequested;

    public RaftMember? Leader => cluster?.Leader is { } leader ? FindMember(leader.EndPoint) : null;

    public long Term => wal is IPersistentState state ? state.Term : 0L;

    public long CommitIndex => wal?.LastCommittedEntryIndex ?? 0L;

    /// <summary>The last Raft index applied (including DotNext's own no-op entries, which the machine never sees).</summary>
    public long LastAppliedIndex => wal?.LastAppliedIndex ?? 0L;

    /// <summary>The index of the newest snapshot taken or installed on this node (0 when none).</summary>
    public long LastSnapshotIndex => adapter?.LastSnapshotIndex ?? 0L;

    /// <summary>Every configured member with a short status: "leader", "follower", and for peers their
    /// reachability as seen from here ("available", "unavailable", "unknown").</summary>
    public IReadOnlyList<(RaftMember Member, string Status)> MembersView
    {
        get
        {
            var leader = Leader;
            var result = new List<(RaftMember, string)>(options.Members.Count);
            foreach (var member in options.Members)
            {
                var role = member == leader ? "leader" : "follower";
                if (member == self)
                {
                    result.Add((member, role));
                    continue;
                }

                var peer = cluster?.Members.FirstOrDefault(m => Matches(member, m.EndPoint));
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
        if (Interlocked.CompareExchange(ref lifecycle, Running, NotStarted) != NotStarted)
            throw new InvalidOperationException("A RaftNode can be started only once.");

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
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        Log.Starting(logger, options.NodeId, self.RaftEndpoint.ToString(), options.Members.Count, dataDirectory);
        Directory.CreateDirectory(dataDirectory);

        // Order matters: DotNext reads the restored snapshot index in the WAL constructor to decide where
        // replay starts, so the snapshot must be restored first.
        adapter = new StateMachineAdapter(new DirectoryInfo(Path.Combine(dataDirectory, "snapshots")), machine,
            options.SnapshotEveryEntries, metrics, logger, options.ApplyTraceFile);
        await adapter.RestoreAsync(ct).ConfigureAwait(false);
        wal = new DurableWriteAheadLog(new WriteAheadLog.Options
        {
            Location = Path.Combine(dataDirectory, "wal"),
            ChunkSize = options.ChunkSizeBytes,
        }, adapter);

        cluster = new RaftCluster(CreateConfiguration()) { AuditTrail = wal };
        cluster.LeaderChanged += OnLeaderChanged;

        // StartAsync initializes the WAL, which replays every committed entry before the node serves.
        await cluster.StartAsync(ct).ConfigureAwait(false);
        Log.Started(logger, options.NodeId, wal.LastEntryIndex, wal.LastAppliedIndex);
    }

    private RaftCluster.TcpConfiguration CreateConfiguration()
    {
        var configuration = new RaftCluster.TcpConfiguration(self.RaftEndpoint)
        {
            // The default (true) makes every node bootstrap a cluster of its own.
            ColdStart = false,
            LowerElectionTimeout = options.ElectionTimeoutMinMs,
            UpperElectionTimeout = options.ElectionTimeoutMaxMs,
            // Heartbeats at a third of the minimum election timeout leave room for one lost heartbeat.
            HeartbeatThreshold = 0.3,
            RequestTimeout = TimeSpan.FromMilliseconds(options.RequestTimeoutMs ?? options.ElectionTimeoutMinMs / 2),
            ConfigurationStorage = null, // null selects the in-memory storage, filled below
            LoggerFactory = loggerFactory,
        };
        configuration.Metadata["nodeId"] = self.Id;
        configuration.Metadata["httpEndpoint"] = self.HttpEndpoint;

        // The membership storage is not persisted: the static member list is given at every start.
        var storage = (InMemoryClusterConfigurationStorage<EndPoint>?)configuration.ConfigurationStorage
            ?? throw new InvalidOperationException("DotNext did not create an in-memory membership storage.");
        var builder = storage.CreateInitialConfigurationBuilder();
        foreach (var member in options.Members)
            builder.Add(member.RaftEndpoint);
        builder.Build();
        return configuration;
    }

    public async Task StopAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref lifecycle, Stopped) != Running)
            return;

        if (cluster is { } c)
        {
            c.LeaderChanged -= OnLeaderChanged;
            await c.StopAsync(ct).ConfigureAwait(false);
            await c.DisposeAsync().ConfigureAwait(false);
        }

        if (wal is { } log)
            await log.DisposeAsync().ConfigureAwait(false);
        if (adapter is { } a)
            await a.DisposeAsync().ConfigureAwait(false);
        Log.Stopped(logger, options.NodeId);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        metrics.Dispose();
    }

    private void OnLeaderChanged(RaftCluster<RaftClusterMember> sender, RaftClusterMember? leader)
    {
        var member = leader is null ? null : FindMember(leader.EndPoint);
        // DotNext raises this under its transition lock, right after it made this node leader: the term read
        // here is the term it leads, which every proposal of this leadership must carry (see ProposeAsync).
        if (member == self)
            Volatile.Write(ref leaderTerm, Term);
        metrics.LeaderChanged();
        Log.LeaderChanged(logger, member?.Id ?? "(none)", Term);
        try
        {
            LeaderChanged?.Invoke(member);
        }
        catch (Exception e)
        {
            // A subscriber's bug must not break DotNext's state transitions.
            logger.LogError(e, "A LeaderChanged subscriber threw");
        }
    }

    private RaftMember? FindMember(EndPoint? endPoint)
        => endPoint is null ? null : options.Members.FirstOrDefault(m => Matches(m, endPoint));

    private static bool Matches(RaftMember member, EndPoint endPoint)
        => endPoint is IPEndPoint ip ? member.RaftEndpoint.Equals(ip) : member.RaftEndpoint.ToString() == endPoint.ToString();

    private RaftCluster RunningCluster
        => Volatile.Read(ref lifecycle) == Running && cluster is { } c ? c : throw new InvalidOperationException("The Raft node is not running.");

    /// <summary>Leader time never goes backwards: at least the last stamp and the last applied time.</summary>
    private long NextLeaderTimeMs()
    {
        var floor = long.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), adapter?.LastLeaderTimeMs ?? 0L);
        while (true)
        {
            var last = Volatile.Read(ref lastStampedTimeMs);
            var next = long.Max(floor, last);
            if (Interlocked.CompareExchange(ref lastStampedTimeMs, next, last) == last)
                return next;
        }
    }
}
