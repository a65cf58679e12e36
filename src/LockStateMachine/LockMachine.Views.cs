using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// The who-holds-what views of the table, for operators: pages of sessions and resources and a lockspace's
/// wait-for graph. Each page sorts what it lists (sessions by id, resources by name) and then cuts it, so a
/// page costs O(n log n) in the table's sessions or the lockspace's resources: an operator's call, not a hot path.
/// </summary>
public sealed partial class LockMachine
{
    /// <summary>At most this many edges in one wait-for view.</summary>
    public const int MaxWaitForEdges = 10_000;

    /// <summary>
    /// Sessions with an id above <paramref name="after"/>, by id, at most <paramref name="limit"/>; <c>Next</c> when
    /// more follow. <paramref name="ownedBy"/> (a principal) keeps only the sessions it opened, checked before a
    /// session's locks are summarized, so a token with few sessions does not pay for everyone's locks.
    /// </summary>
    public (IReadOnlyList<SessionSummary> Page, long? Next) ListSessions(long after, int limit, Func<SessionSummary, bool>? visible = null, string? ownedBy = null)
    {
        var page = new List<SessionSummary>(Math.Min(limit, 1_024));
        long? next = null;
        foreach (var session in HashOrder.Sorted(_sessions, (a, b) => a.Id.CompareTo(b.Id)))
        {
            if (session.Id <= after) continue;
            if (ownedBy is not null && session.Owner != ownedBy) continue;
            var summary = Summarize(session);
            if (visible is not null && !visible(summary)) continue;
            if (page.Count == limit)
            {
                next = page[^1].SessionId;
                break;
            }
            page.Add(summary);
        }
        return (page, next);
    }

    private static SessionSummary Summarize(Session session)
    {
        var locks = session.LocksById();
        var lockspaces = locks.Select(item => item.Resource.Space.Name).Distinct().Order(StringComparer.Ordinal).ToList();
        return new SessionSummary(session.Id, session.Name, session.TtlMs, session.DeadlineMs, session.Ended, locks.Count, lockspaces, session.Owner);
    }

    /// <summary>
    /// Top-level resources of a lockspace that hold at least one lock, by ordinal name, whose name starts with
    /// <paramref name="prefix"/> and sorts after <paramref name="after"/>; null for an unknown lockspace.
    /// </summary>
    public (IReadOnlyList<ResourceSummary> Page, string? Next)? ListResources(string lockspace, string prefix, string? after, int limit)
    {
        if (!_lockspaces.TryGetValue(lockspace, out var space)) return null;
        var page = new List<ResourceSummary>(Math.Min(limit, 1_024));
        string? next = null;
        var named = HashOrder.Unordered(space.Resources)
            .Where(resource => resource.Parent is null && resource.LockCount > 0 && resource.Name.StartsWith(prefix, StringComparison.Ordinal)
                && (after is null || string.CompareOrdinal(resource.Name, after) > 0))
            .OrderBy(resource => resource.Name, StringComparer.Ordinal);
        foreach (var resource in named)
        {
            if (page.Count == limit)
            {
                next = page[^1].Resource;
                break;
            }
            page.Add(new ResourceSummary(resource.Name, resource.Granted.Count, resource.Converting.Count, resource.Waiting.Count, resource.LvbSeq, resource.LvbValid));
        }
        return (page, next);
    }

    /// <summary>
    /// The wait-for graph of a lockspace, one edge per queued request (waiting or converting) and what it waits
    /// for: each incompatible granted or converting lock of another session (orphans included), and, unless
    /// <c>noOrder</c>, the request of another session queued just ahead of it (and, for a new request, the last
    /// conversion) — the same relation deadlock detection walks. Sorted by waiter lock id, then holder lock id;
    /// null for an unknown lockspace; cut at <see cref="MaxWaitForEdges"/>. It sorts the lockspace's queued
    /// requests by id (O(q log q)) and then walks them in that order only until the bound is reached: it never
    /// builds more than the bound's edges, however many locks wait.
    /// </summary>
    public (IReadOnlyList<WaitForEdge> Edges, bool Truncated)? GetWaitFor(string lockspace)
    {
        if (!_lockspaces.TryGetValue(lockspace, out var space)) return null;
        var queued = new List<Lock>();
        // Collected in hash order, then sorted by lock id (unique) before anything is read from the order.
        foreach (var resource in HashOrder.Unordered(space.Resources))
        {
            for (var request = resource.Converting.Head; request is not null; request = request.QueueNext) queued.Add(request);
            for (var request = resource.Waiting.Head; request is not null; request = request.QueueNext) queued.Add(request);
        }
        queued.Sort((a, b) => a.Id.CompareTo(b.Id));

        var edges = new List<WaitForEdge>();
        var blockers = new List<(Lock Holder, LockMode Mode)>();
        var truncated = false;
        foreach (var request in queued)
        {
            blockers.Clear();
            Blockers(request, blockers);
            // A lock can block twice (a converting holder incompatible with the request and also queued just
            // ahead of it): one edge, with the first mode found (its granted mode). Ids are unique once distinct.
            var distinct = blockers.DistinctBy(item => item.Holder.Id).ToList();
            distinct.Sort((a, b) => a.Holder.Id.CompareTo(b.Holder.Id));
            foreach (var (holder, holderMode) in distinct)
            {
                if (edges.Count == MaxWaitForEdges)
                {
                    truncated = true;
                    break;
                }
                edges.Add(new WaitForEdge(request.Resource.Name, request.Owner?.Id ?? 0, request.Id, request.RequestedMode, holder.Owner?.Id ?? 0, holder.Id, holderMode));
            }
            if (truncated) break;
        }
        return (edges, truncated);
    }

    // The locks a queued request waits for, each with the mode it waits on (a holder's granted mode, a queued
    // request's requested mode); mirrors WaitsFor, but keeps the locks, orphans included.
    private static void Blockers(Lock request, List<(Lock Holder, LockMode Mode)> into)
    {
        var resource = request.Resource;
        var owner = request.Owner;
        var mode = request.RequestedMode;
        for (var holder = resource.Granted.Head; holder is not null; holder = holder.QueueNext)
        {
            if (holder != request && (holder.Owner is null || holder.Owner != owner) && !Modes.Compatible(holder.GrantedMode, mode)) into.Add((holder, holder.GrantedMode));
        }
        for (var holder = resource.Converting.Head; holder is not null; holder = holder.QueueNext)
        {
            if (holder != request && (holder.Owner is null || holder.Owner != owner) && !Modes.Compatible(holder.GrantedMode, mode)) into.Add((holder, holder.GrantedMode));
        }
        if ((request.Flags & LockFlags.NoOrder) != 0) return;
        var ahead = request.QueuePrevious;
        while (ahead is not null && ahead.Owner == owner) ahead = ahead.QueuePrevious;
        if (ahead is not null) into.Add((ahead, ahead.RequestedMode));
        if (request.State == LockState.Waiting)
        {
            var conversion = resource.Converting.Tail;
            while (conversion is not null && conversion.Owner == owner) conversion = conversion.QueuePrevious;
            if (conversion is not null) into.Add((conversion, conversion.RequestedMode));
        }
    }
}
