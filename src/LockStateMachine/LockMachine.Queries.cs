using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public delegate void LiveSessionVisitor<TState>(ref TState state, long sessionId, int ttlMs);

/// <summary>Read-only views of the state, for the host's linearizable reads (after a read barrier).</summary>
public sealed partial class LockMachine
{
    public SessionView? GetSession(long sessionId)
    {
        if (!_sessions.TryGetValue(sessionId, out var session)) return null;
        var locks = session.LocksById().Select(item => View(item)).ToList();
        return new SessionView(session.Id, session.Name, session.TtlMs, session.DeadlineMs, session.Ended, session.LastEventSeq, locks, session.Owner);
    }

    /// <summary>
    /// What a principal holds now: its live sessions and the locks they own (granted, converting or waiting),
    /// for the per-token quotas. Costs one step per live session of the principal.
    /// </summary>
    public (int Sessions, long Locks) OwnerUsage(string owner)
    {
        if (!_liveByOwner.TryGetValue(owner, out var sessions)) return (0, 0);
        long locks = 0;
        foreach (var session in HashOrder.Unordered(sessions)) locks += session.Locks.Count;
        return (sessions.Count, locks);
    }

    /// <summary>
    /// Whether the session exists and <paramref name="caller"/> may act on it (null: authentication off or an
    /// admin, any session; else only the sessions that principal opened).
    /// </summary>
    public bool SessionPermits(long sessionId, string? caller) =>
        _sessions.TryGetValue(sessionId, out var session) && session.Permits(caller);

    /// <summary>Live sessions with their replicated deadlines, by id (for operators and tests; the leader's scan uses <see cref="VisitLiveSessions"/>).</summary>
    public IReadOnlyList<(long SessionId, int TtlMs, long DeadlineMs)> SessionDeadlines() =>
        HashOrder.Sorted(_sessions, (a, b) => a.Id.CompareTo(b.Id))
            .Where(session => !session.Ended)
            .Select(session => (session.Id, session.TtlMs, session.DeadlineMs))
            .ToList();

    /// <summary>
    /// Calls <paramref name="visit"/> with the id and TTL of every live session, in no defined order (the
    /// leader's expiry scan, which sorts what it acts on). Allocates nothing.
    /// </summary>
    public void VisitLiveSessions<TState>(ref TState state, LiveSessionVisitor<TState> visit)
    {
        foreach (var session in HashOrder.Unordered(_sessions))
        {
            if (!session.Ended) visit(ref state, session.Id, session.TtlMs);
        }
    }

    /// <summary>The TTL of a live session, or null when it is unknown or ended (the keep-alive path).</summary>
    public int? LiveSessionTtl(long sessionId) =>
        _sessions.TryGetValue(sessionId, out var session) && !session.Ended ? session.TtlMs : null;

    /// <summary>Events numbered above <paramref name="afterSeq"/>, oldest first, at most <paramref name="max"/>; null for an unknown session.</summary>
    public EventPage? GetEvents(long sessionId, long afterSeq, int max)
    {
        if (!_sessions.TryGetValue(sessionId, out var session)) return null;
        var events = new List<LockEvent>();
        foreach (var item in session.Outbox)
        {
            if (item.Seq <= afterSeq) continue;
            if (events.Count >= max) break;
            events.Add(item);
        }
        return new EventPage(events, session.LastEventSeq, session.Ended);
    }

    /// <summary>
    /// Whether the newest event the session still holds about how a queued request of the lock ended
    /// (granted, timeout, cancelled, deadlock) is a timeout: how a waiting call learns that its request
    /// timed out once the lock is gone or back in its old mode.
    /// </summary>
    public bool TimedOut(long sessionId, long lockId)
    {
        if (!_sessions.TryGetValue(sessionId, out var session)) return false;
        EventType? last = null;
        foreach (var item in session.Outbox)
        {
            if (item.LockId == lockId && item.Type is EventType.Granted or EventType.Timeout or EventType.Cancelled or EventType.Deadlock)
            {
                last = item.Type;
            }
        }
        return last == EventType.Timeout;
    }

    public IReadOnlyList<LockspaceView> GetLockspaces() =>
        HashOrder.Sorted(_lockspaces, (a, b) => string.CompareOrdinal(a.Name, b.Name)).Select(space => space.ToView()).ToList();

    public LockspaceView? GetLockspace(string name) =>
        _lockspaces.TryGetValue(name, out var space) ? space.ToView() : null;

    public LockView? GetLock(string lockspace, long lockId) =>
        _locks.TryGetValue(lockId, out var item) && item.Resource.Space.Name == lockspace ? View(item) : null;

    /// <summary>A top-level resource with its queues in order, or null when no lock exists on it.</summary>
    public ResourceView? GetResource(string lockspace, string resourceName)
    {
        if (!_lockspaces.TryGetValue(lockspace, out var space)) return null;
        if (!space.Resources.TryGetValue(new ResourceKey(0, resourceName), out var resource) || resource.LockCount == 0) return null;
        return new ResourceView(
            resource.Name,
            CopyLvb(resource),
            resource.LvbSeq,
            resource.LvbValid,
            resource.Granted.ToList().Select(item => View(item)).ToList(),
            resource.Converting.ToList().Select(item => View(item)).ToList(),
            resource.Waiting.ToList().Select(item => View(item)).ToList());
    }

    /// <summary>
    /// Whether a lock with this fencing token is still held on the top-level resource in a mode that covers
    /// <paramref name="mode"/> (a converting lock still holds its old mode).
    /// </summary>
    public bool CheckFence(string lockspace, string resourceName, long fencingToken, LockMode mode)
    {
        if (!_lockspaces.TryGetValue(lockspace, out var space)) return false;
        if (!space.Resources.TryGetValue(new ResourceKey(0, resourceName), out var resource)) return false;
        return HoldsToken(ref resource.Granted, fencingToken, mode) || HoldsToken(ref resource.Converting, fencingToken, mode);
    }

    private static bool HoldsToken(ref LockQueue queue, long fencingToken, LockMode mode)
    {
        for (var item = queue.Head; item is not null; item = item.QueueNext)
        {
            if (item.FencingToken == fencingToken && Modes.Covers(item.GrantedMode, mode)) return true;
        }
        return false;
    }

    /// <summary>How many requests wait or convert, over all resources (for metrics).</summary>
    public int QueuedCount => HashOrder.Unordered(_sessions).Sum(session => session.Queued.Count);
}
