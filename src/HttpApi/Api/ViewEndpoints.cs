using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// Who holds what: pages of sessions and of a lockspace's resources, and a lockspace's wait-for graph.
/// Linearizable by default (a follower relays them to the leader, which also knows each session's time left);
/// <c>?stale=true</c> is served from this node's replica.
/// </summary>
internal static class ViewEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 1_000;

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/sessions", ListSessions).WithTags("Sessions").Produces<SessionsPageJson>()
            .Describe("ListSessions", "List sessions: TTL left, state, locks held, lockspaces").ReadProblems(400);
        var space = app.MapGroup("/v1/lockspaces/{ls}").WithTags("Locks");
        space.MapGet("/resources", ListResources).Produces<ResourcesPageJson>()
            .Describe("ListResources", "List a lockspace's resources with their queue lengths and LVB sequence").ReadProblems(400, 404);
        space.MapGet("/waitfor", GetWaitFor).Produces<WaitForJson>()
            .Describe("GetWaitFor", "A lockspace's wait-for graph: which request waits for which lock").ReadProblems(404);
    }

    private static async Task<IResult> ListSessions(HttpContext context, Requests requests, LockApplier applier, SessionLeases leases)
    {
        if (!TryLimit(context, out var limit)) return LimitProblem();
        if (!Wire.TryQuery(context, "after", 0, long.MaxValue, out var after)) return Problems.Invalid("after must be a session id (a whole number, 0 or more)");
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var caller = Auth.Caller(context);
        // A lockspace token sees the sessions it opened, each with only the lockspaces it has a right on.
        var (page, next) = applier.Read(machine => machine.ListSessions(after, limit, ownedBy: caller));
        var sessions = page.Select(summary =>
        {
            var left = summary.Ended ? 0 : leases.TimeLeftMs(summary.SessionId, summary.TtlMs);
            var state = summary.Ended ? "ended" : left is { } ms && ms * 2 < summary.TtlMs ? "jeopardy" : "live";
            var lockspaces = summary.Lockspaces.Where(ls => Auth.MayUse(context, ls)).ToList();
            return new SessionSummaryJson(LockJson.Id(summary.SessionId)!, summary.Name, summary.TtlMs, left, state, summary.Locks, lockspaces);
        }).ToList();
        return Results.Json(new SessionsPageJson(sessions, next is { } id ? LockJson.Id(id) : null), Wire.Json);
    }

    private static async Task<IResult> ListResources(string ls, HttpContext context, Requests requests, LockApplier applier)
    {
        if (!TryLimit(context, out var limit)) return LimitProblem();
        var prefix = context.Request.Query["prefix"].ToString();
        var after = context.Request.Query["after"].ToString();
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var listed = applier.Read(machine => machine.ListResources(ls, prefix, after.Length == 0 ? null : after, limit));
        if (listed is not { } found) return Problems.NotFound($"lockspace '{ls}' does not exist");
        var resources = found.Page.Select(item => new ResourceSummaryJson(item.Resource, item.Granted, item.Converting, item.Waiting, item.LvbSeq, item.LvbValid)).ToList();
        return Results.Json(new ResourcesPageJson(resources, found.Next), Wire.Json);
    }

    private static async Task<IResult> GetWaitFor(string ls, HttpContext context, Requests requests, LockApplier applier)
    {
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var graph = applier.Read(machine => machine.GetWaitFor(ls));
        if (graph is not { } found) return Problems.NotFound($"lockspace '{ls}' does not exist");
        var edges = found.Edges.Select(edge => new WaitForEdgeJson(
            edge.Resource, LockJson.Id(edge.WaiterSessionId), LockJson.Id(edge.WaiterLockId)!, edge.WaiterMode.ToString(),
            LockJson.Id(edge.HolderSessionId), LockJson.Id(edge.HolderLockId)!, edge.HolderMode.ToString())).ToList();
        return Results.Json(new WaitForJson(edges, found.Truncated), Wire.Json);
    }

    private static bool TryLimit(HttpContext context, out int limit)
    {
        var ok = Wire.TryQuery(context, "limit", 1, MaxLimit, out var value);
        limit = value == 0 ? DefaultLimit : (int)value;
        return ok;
    }

    private static IResult LimitProblem() => Problems.Invalid($"limit must be a whole number from 1 to {MaxLimit}");
}
