using System.Globalization;
using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

internal static class SessionEndpoints
{
    private const int MaxEventsPerPage = 1_000;

    public static void Map(WebApplication app)
    {
        var sessions = app.MapGroup("/v1/sessions").WithTags("Sessions");
        sessions.MapPost("/", Open).Accepts<SessionCreateBody>("application/json").Produces<SessionJson>(201)
            .Describe("OpenSession", "Open a session with a TTL").WriteProblems(413);
        sessions.MapPost("/{sessionId}/keepalive", KeepAlive).Produces<KeepAliveJson>()
            .Describe("KeepAlive", "Renew a session's lease").Problems(404, 503);
        sessions.MapGet("/{sessionId}", Get).Produces<SessionJson>()
            .Describe("GetSession", "A session and its locks").ReadProblems(404);
        sessions.MapDelete("/{sessionId}", Close).Produces(204)
            .Describe("CloseSession", "Close a session: its non-persistent locks are released").WriteProblems(404);
        sessions.MapGet("/{sessionId}/events", Events).Produces<EventsJson>()
            .Describe("GetEvents", "A session's events after a sequence number (long-poll up to waitMs)").ReadProblems(400, 404);
    }

    private static async Task<IResult> Open(HttpContext context, Requests requests, LockApplier applier, ServerOptions options)
    {
        var (body, problem) = await Requests.ReadAsync(context, new SessionCreateBody(null, null));
        if (problem is not null) return problem;
        if (Auth.OverQuota(context, applier, options, locks: false) is { } over) return over;
        var command = new OpenSession(body!.Name ?? "session", body.TtlMs ?? 10_000, Auth.Caller(context));
        var (result, failure) = await requests.ProposeAsync(command, context.RequestAborted);
        if (failure is not null) return failure;
        return result switch
        {
            SessionResult opened => Results.Json(new SessionJson(Id(opened.SessionId), opened.TtlMs), Wire.Json, statusCode: 201),
            ErrorResult error => Problems.From(error),
            _ => Problems.Invalid("unexpected result"),
        };
    }

    private static IResult KeepAlive(string sessionId, HttpContext context, SessionLeases leases, LockApplier applier)
    {
        if (!Wire.TryParseId(sessionId, out var id) || !Auth.MayActOn(context, applier, id) || !leases.Renew(id, out var ttlMs))
        {
            return Problems.SessionExpired(sessionId);
        }
        return Results.Json(new KeepAliveJson(ttlMs), Wire.Json);
    }

    private static async Task<IResult> Get(string sessionId, HttpContext context, Requests requests, LockApplier applier)
    {
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var view = Wire.TryParseId(sessionId, out var id) ? applier.Read(machine => machine.GetSession(id)) : null;
        if (view is null || view.Expired || !Permits(context, view.Owner)) return Problems.SessionExpired(sessionId);
        var locks = view.Locks.Where(item => Auth.MayUse(context, item.Lockspace)).Select(item => LockJson.From(item)).ToList();
        return Results.Json(new SessionJson(sessionId, view.TtlMs, view.Name, locks), Wire.Json);
    }

    private static async Task<IResult> Close(string sessionId, HttpContext context, Requests requests)
    {
        if (!Wire.TryParseId(sessionId, out var id)) return Problems.SessionExpired(sessionId);
        var (result, failure) = await requests.ProposeAsync(new CloseSession(id, Auth.Caller(context)), context.RequestAborted);
        if (failure is not null) return failure;
        return result is ErrorResult error ? Problems.From(error) : Results.NoContent();
    }

    /// <summary>
    /// Long-poll: answers as soon as an event numbered above <c>after</c> exists, or after <c>waitMs</c>
    /// with an empty list. The wait is woken by the apply that adds the event, never by polling.
    /// </summary>
    private static async Task<IResult> Events(string sessionId, HttpContext context, Requests requests, LockApplier applier)
    {
        if (!Wire.TryParseId(sessionId, out var id)) return Problems.SessionExpired(sessionId);
        if (!Wire.TryQuery(context, "waitMs", 0, Requests.MaxWaitMs, out var waitMs)) return Problems.Invalid($"waitMs must be a whole number from 0 to {Requests.MaxWaitMs}");
        if (!Wire.TryQuery(context, "after", 0, long.MaxValue, out var after)) return Problems.Invalid("after must be a whole number, 0 or more");
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        if (!Auth.MayActOn(context, applier, id)) return Problems.SessionExpired(sessionId);
        var page = await requests.WaitForEventsAsync(id, after, MaxEventsPerPage, (int)waitMs, context.RequestAborted);
        if (page is null || (page.SessionEnded && page.Events.Count == 0)) return Problems.SessionExpired(sessionId);
        // A lockspace the token has no right on (its rights changed since the lock was taken) is left out.
        var visible = page.Events.Where(item => item.Lockspace is null || Auth.MayUse(context, item.Lockspace)).Select(EventJson.From).ToList();
        return Results.Json(new EventsJson(visible, page.LastSeq), Wire.Json);
    }

    private static bool Permits(HttpContext context, string? owner) => Auth.Caller(context) is not { } caller || caller == owner;

    private static string Id(long id) => id.ToString(CultureInfo.InvariantCulture);
}
