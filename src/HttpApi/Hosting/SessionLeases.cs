using System.Diagnostics;
using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// The leader's side of sessions. Keep-alives are answered from memory (they are not logged): each renews
/// a deadline on this process's monotonic clock. A scan every <see cref="ServerOptions.ExpiryScanMs"/>
/// proposes <see cref="ExpireSession"/> for sessions past their deadline, in id order, and a
/// <see cref="Tick"/> when a lock-delay or a wait timeout has ended. A node that becomes leader first waits until it has
/// applied everything committed before its term, then proposes <see cref="ExtendDeadlines"/> (the grace
/// period) and starts every session's clock afresh from a full TTL; only then does it expire anything.
/// </summary>
internal sealed partial class SessionLeases(
    RaftNode node,
    LockApplier applier,
    LockProposer proposer,
    ServerOptions options,
    ILogger<SessionLeases> logger) : BackgroundService
{
    private const int MaxExpiriesPerScan = 1_000;
    private readonly object _gate = new();
    private readonly Dictionary<long, (long DeadlineMs, long Generation)> _deadlines = new();
    private readonly List<long> _stale = new();
    private long _generation;
    private long _leaderTerm = -1;

    /// <summary>Renews a live session on the leader. False when it is unknown or ended.</summary>
    public bool Renew(long sessionId, out int ttlMs)
    {
        var ttl = applier.Read(machine => machine.LiveSessionTtl(sessionId));
        ttlMs = ttl ?? 0;
        if (ttl is null) return false;
        lock (_gate) _deadlines[sessionId] = (NowMs() + ttlMs, _generation);
        return true;
    }

    /// <summary>
    /// How long the leader still gives a live session before it expires it (on its monotonic clock; a session its
    /// scan has not seen yet gets its full TTL when it is), or null on a follower.
    /// </summary>
    public int? TimeLeftMs(long sessionId, int ttlMs)
    {
        if (!node.IsLeader) return null;
        lock (_gate) return _deadlines.TryGetValue(sessionId, out var entry) ? (int)Math.Clamp(entry.DeadlineMs - NowMs(), 0, int.MaxValue) : ttlMs;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(options.ExpiryScanMs));
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            try
            {
                await ScanAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception error) when (error is NotLeaderException or OutcomeUnknownException or TimeoutException
                or OperationCanceledException && !stoppingToken.IsCancellationRequested)
            {
                LogScanInterrupted(error.Message);
            }
        }
    }

    private async Task ScanAsync(CancellationToken ct)
    {
        if (!node.IsLeader)
        {
            if (_leaderTerm != -1) StepDown();
            return;
        }
        if (_leaderTerm != node.Term) await BeginTermAsync(ct).ConfigureAwait(false);

        var overdue = CollectOverdue();
        foreach (var sessionId in overdue)
        {
            LogExpiring(sessionId);
            await proposer.ProposeAsync(new ExpireSession(sessionId), ct).ConfigureAwait(false);
        }
        var tickDue = applier.Read(machine => machine.NextTickDueMs);
        if (tickDue is { } due && due <= DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
        {
            await proposer.ProposeAsync(new Tick(), ct).ConfigureAwait(false);
        }
    }

    private async Task BeginTermAsync(CancellationToken ct)
    {
        var term = node.Term;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(options.ProposalTimeoutMs);
        await node.WaitForLeaderReadyAsync(bounded.Token).ConfigureAwait(false);
        var extended = await proposer.ProposeAsync(new ExtendDeadlines(), ct).ConfigureAwait(false);
        lock (_gate) _deadlines.Clear();
        _leaderTerm = term;
        LogGrace(term, (extended as DoneResult)?.Count ?? 0);
    }

    private void StepDown()
    {
        lock (_gate) _deadlines.Clear();
        _leaderTerm = -1;
    }

    /// <summary>
    /// Brings the deadline table in line with the live sessions (a session first seen gets a full TTL from
    /// now, one no longer live is dropped) and returns the overdue ones, by id. Allocation-free but for the
    /// overdue list, since it runs every few hundred milliseconds over every session.
    /// </summary>
    private List<long> CollectOverdue()
    {
        var scan = new Scan(_deadlines, NowMs(), ++_generation);
        lock (_gate)
        {
            applier.Read(machine =>
            {
                machine.VisitLiveSessions(ref scan, static (ref Scan state, long sessionId, int ttlMs) => state.Visit(sessionId, ttlMs));
                return 0;
            });
            _stale.Clear();
            foreach (var (sessionId, entry) in _deadlines)
            {
                if (entry.Generation != _generation) _stale.Add(sessionId);
            }
            foreach (var sessionId in _stale) _deadlines.Remove(sessionId);
        }
        scan.Overdue.Sort();
        if (scan.Overdue.Count > MaxExpiriesPerScan) scan.Overdue.RemoveRange(MaxExpiriesPerScan, scan.Overdue.Count - MaxExpiriesPerScan);
        return scan.Overdue;
    }

    private struct Scan(Dictionary<long, (long DeadlineMs, long Generation)> deadlines, long now, long generation)
    {
        public List<long> Overdue { get; } = new();

        public readonly void Visit(long sessionId, int ttlMs)
        {
            ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(deadlines, sessionId, out var known);
            if (!known) entry.DeadlineMs = now + ttlMs;
            entry.Generation = generation;
            if (entry.DeadlineMs <= now) Overdue.Add(sessionId);
        }
    }

    private static long NowMs() => Stopwatch.GetTimestamp() * 1000 / Stopwatch.Frequency;

    [LoggerMessage(EventId = 2200, Level = LogLevel.Information, Message = "Leader of term {Term}: grace period given to {Sessions} sessions")]
    private partial void LogGrace(long term, int sessions);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Session {SessionId} missed its keep-alives: proposing expiry")]
    private partial void LogExpiring(long sessionId);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Debug, Message = "Session scan interrupted: {Reason}")]
    private partial void LogScanInterrupted(string reason);
}
