using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public sealed partial class LockMachine
{
    /// <summary>
    /// Whether the queued request closes a cycle in the wait-for graph between sessions. A request waits
    /// for the owners of the held locks incompatible with it, and, unless noOrder, for the request queued
    /// just ahead of it (which in turn waits for the one ahead of it); a waiting request also waits for the
    /// last conversion. A session's own locks do not count: it never waits for itself.
    /// The search visits each session once, so it is bounded by the number of sessions.
    /// A noDlckWt request is left out: it is never the victim, and its wait edges are not in the graph.
    /// </summary>
    private bool ClosesCycle(Lock request)
    {
        if (IsOutOfDetection(request)) return false;
        var target = request.Owner!;
        var visited = new HashSet<long>();
        var pending = new Stack<Session>();
        var edges = new List<Session>();
        WaitsFor(request, edges);
        foreach (var session in edges) pending.Push(session);
        while (pending.Count > 0)
        {
            var session = pending.Pop();
            if (session == target) return true;
            if (!visited.Add(session.Id)) continue;
            foreach (var queued in session.Queued)
            {
                if (IsOutOfDetection(queued)) continue;
                edges.Clear();
                WaitsFor(queued, edges);
                foreach (var next in edges)
                {
                    if (next == target) return true;
                    if (!visited.Contains(next.Id)) pending.Push(next);
                }
            }
        }
        return false;
    }

    private static bool IsOutOfDetection(Lock request) => (request.Flags & LockFlags.NoDlckWt) != 0;

    private static void WaitsFor(Lock request, List<Session> into)
    {
        var resource = request.Resource;
        var owner = request.Owner;
        var mode = request.RequestedMode;
        AddIncompatibleHolders(ref resource.Granted, request, mode, into);
        AddIncompatibleHolders(ref resource.Converting, request, mode, into);
        if ((request.Flags & LockFlags.NoOrder) != 0) return;

        var ahead = request.QueuePrevious;
        while (ahead is not null && ahead.Owner == owner) ahead = ahead.QueuePrevious;
        if (ahead?.Owner is { } aheadOwner) into.Add(aheadOwner);
        if (request.State == LockState.Waiting)
        {
            var conversion = resource.Converting.Tail;
            while (conversion is not null && conversion.Owner == owner) conversion = conversion.QueuePrevious;
            if (conversion?.Owner is { } converter) into.Add(converter);
        }
    }

    private static void AddIncompatibleHolders(ref LockQueue queue, Lock request, LockMode mode, List<Session> into)
    {
        for (var holder = queue.Head; holder is not null; holder = holder.QueueNext)
        {
            if (holder == request || holder.Owner is null || holder.Owner == request.Owner) continue;
            if (!Modes.Compatible(holder.GrantedMode, mode)) into.Add(holder.Owner);
        }
    }
}
