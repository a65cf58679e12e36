using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

internal static class LockEndpoints
{
    public static void Map(WebApplication app)
    {
        var space = app.MapGroup("/v1/lockspaces/{ls}").WithTags("Locks");
        space.MapPost("/locks", Request).Accepts<LockBody>("application/json").Produces<LockJson>(200).Produces<LockJson>(202)
            .Describe("RequestLock", "Request a lock: 200 granted, 202 still waiting after waitMs").WriteProblems(404, 409, 413);
        space.MapPost("/locks/{lockId}/convert", Convert).Accepts<ConvertBody>("application/json").Produces<LockJson>(200).Produces<LockJson>(202)
            .Describe("ConvertLock", "Convert a lock in place: 200 granted, 202 still converting after waitMs").WriteProblems(404, 409, 413);
        space.MapDelete("/locks/{lockId}", Unlock).Accepts<UnlockBody>("application/json").Produces<ReleasedJson>()
            .Describe("Unlock", "Release a lock, or cancel a waiting request or a conversion").WriteProblems(404, 409, 413);
        space.MapGet("/locks/{lockId}", Get).Produces<LockJson>()
            .Describe("GetLock", "A lock").ReadProblems(404);
        space.MapPost("/orphans/adopt", Adopt).Accepts<AdoptBody>("application/json").Produces<LockJson>()
            .Describe("AdoptOrphan", "Give an orphan held in exactly this mode to a session").WriteProblems(404, 409, 413);
        space.MapDelete("/orphans", Purge).Produces(204)
            .Describe("PurgeOrphans", "Release every orphan on a resource (admin)").WriteProblems(404);
        space.MapGet("/resources/{**resource}", Resource).Produces<ResourceJson>()
            .Describe("GetResource", "A top-level resource: its LVB and its granted, converting and waiting locks").ReadProblems(404);
        app.MapPost("/v1/fence/check", Fence).WithTags("Locks").Accepts<FenceBody>("application/json").Produces<FenceJson>()
            .Describe("CheckFence", "Whether a fencing token still holds a lock covering a mode").ReadProblems(400, 413);
    }

    private static async Task<IResult> Request(string ls, HttpContext context, Requests requests, LockApplier applier, ServerOptions options)
    {
        var (body, problem) = await Requests.ReadAsync<LockBody>(context);
        if (problem is not null) return problem;
        if (Auth.OverQuota(context, applier, options, locks: true) is { } over) return over;
        if (!Wire.TryParseId(body!.SessionId, out var sessionId)) return Problems.SessionExpired(body.SessionId);
        if (Wire.First(Wire.ParseMode(body.Mode, out var mode), Wire.ParseFlags(body.Flags, out var flags), Wire.ParseTimeoutMs(body.TimeoutMs, out var timeoutMs)) is { } invalid)
        {
            return Problems.Invalid(invalid);
        }
        if (WaitMsProblem(body.WaitMs) is { } badWait) return badWait;
        long parent = 0;
        if (body.ParentLockId is { Length: > 0 } parentText && !Wire.TryParseId(parentText, out parent))
        {
            return Problems.NotFound($"parent lock '{parentText}' does not exist");
        }
        var command = new RequestLock(sessionId, body.RequestId ?? 0, ls, body.Resource ?? "", mode, parent, flags, timeoutMs, Auth.Caller(context));
        var (result, failure) = await requests.ProposeAsync(command, context.RequestAborted);
        if (failure is not null) return failure;
        return await ReplyAsync(result!, sessionId, ls, body.WaitMs ?? 0, requests, context.RequestAborted);
    }

    private static async Task<IResult> Convert(string ls, string lockId, HttpContext context, Requests requests)
    {
        var (body, problem) = await Requests.ReadAsync<ConvertBody>(context);
        if (problem is not null) return problem;
        if (!Wire.TryParseId(lockId, out var id)) return Problems.NotFound($"lock '{lockId}' does not exist");
        if (Wire.First(Wire.ParseMode(body!.Mode, out var mode), Wire.ParseFlags(body.Flags, out var flags), Wire.ParseLvb(body.Lvb, out var lvb),
            Wire.ParseTimeoutMs(body.TimeoutMs, out var timeoutMs)) is { } invalid)
        {
            return Problems.Invalid(invalid);
        }
        if (WaitMsProblem(body.WaitMs) is { } badWait) return badWait;
        if (!TrySession(body.SessionId, out var sessionId)) return Problems.SessionExpired(body.SessionId);
        var command = new ConvertLock(sessionId, body.RequestId ?? 0, ls, id, mode, lvb, flags, timeoutMs, Auth.Caller(context));
        var (result, failure) = await requests.ProposeAsync(command, context.RequestAborted);
        if (failure is not null) return failure;
        var owner = result is LockResult converted ? converted.Lock.SessionId : 0;
        return await ReplyAsync(result!, owner, ls, body.WaitMs ?? 0, requests, context.RequestAborted);
    }

    private static async Task<IResult> Unlock(string ls, string lockId, HttpContext context, Requests requests)
    {
        var (body, problem) = await Requests.ReadAsync(context, new UnlockBody(null, null, null, null, null));
        if (problem is not null) return problem;
        if (!Wire.TryParseId(lockId, out var id)) return Problems.NotFound($"lock '{lockId}' does not exist");
        if (Wire.First(Wire.ParseFlags(body!.Flags, out var flags), Wire.ParseLvb(body.Lvb, out var lvb)) is { } invalid) return Problems.Invalid(invalid);
        if (!TrySession(body.SessionId, out var sessionId)) return Problems.SessionExpired(body.SessionId);
        var command = new Unlock(sessionId, body.RequestId ?? 0, ls, id, lvb, flags, body.Force ?? false, Auth.Caller(context));
        var (result, failure) = await requests.ProposeAsync(command, context.RequestAborted);
        if (failure is not null) return failure;
        return result switch
        {
            LockResult done => Results.Json(new ReleasedJson(lockId, Wire.StateName(done.Lock.State)), Wire.Json),
            ErrorResult error => Problems.From(error),
            _ => Problems.Invalid("unexpected result"),
        };
    }

    private static async Task<IResult> Get(string ls, string lockId, HttpContext context, Requests requests, LockApplier applier)
    {
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var view = Wire.TryParseId(lockId, out var id) ? applier.Read(machine => machine.GetLock(ls, id)) : null;
        // Another principal's lock is answered as one that does not exist (an orphan belongs to no session).
        if (view is { SessionId: var owner and not 0 } && !Auth.MayActOn(context, applier, owner)) view = null;
        return view is null ? Problems.NotFound($"lock '{lockId}' does not exist in lockspace '{ls}'") : Results.Json(LockJson.From(view), Wire.Json);
    }

    private static async Task<IResult> Adopt(string ls, HttpContext context, Requests requests, LockApplier applier, ServerOptions options)
    {
        var (body, problem) = await Requests.ReadAsync<AdoptBody>(context);
        if (problem is not null) return problem;
        if (Auth.OverQuota(context, applier, options, locks: true) is { } over) return over;
        if (!Wire.TryParseId(body!.SessionId, out var sessionId)) return Problems.SessionExpired(body.SessionId);
        if (Wire.ParseMode(body.Mode, out var mode) is { } invalid) return Problems.Invalid(invalid);
        var (result, failure) = await requests.ProposeAsync(new AdoptOrphan(sessionId, body.RequestId ?? 0, ls, body.Resource ?? "", mode, Auth.Caller(context)), context.RequestAborted);
        if (failure is not null) return failure;
        return result switch
        {
            LockResult adopted => Results.Json(LockJson.From(adopted.Lock), Wire.Json),
            ErrorResult error => Problems.From(error),
            _ => Problems.Invalid("unexpected result"),
        };
    }

    private static async Task<IResult> Purge(string ls, HttpContext context, Requests requests)
    {
        var resource = context.Request.Query["resource"].ToString();
        if (resource.Length == 0) return Problems.Invalid("the resource query parameter is required");
        var (result, failure) = await requests.ProposeAsync(new PurgeOrphans(ls, resource), context.RequestAborted);
        if (failure is not null) return failure;
        return result is ErrorResult error ? Problems.From(error) : Results.NoContent();
    }

    private static async Task<IResult> Resource(string ls, HttpContext context, Requests requests, LockApplier applier)
    {
        var resource = Wire.ResourceFromRawPath(context);
        if (Names.ValidateName(resource, "resource") is { } invalid) return Problems.Invalid(invalid);
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var (space, view) = applier.Read(machine => (machine.GetLockspace(ls), machine.GetResource(ls, resource)));
        if (space is null) return Problems.NotFound($"lockspace '{ls}' does not exist");
        if (view is null) return Problems.NotFound($"no lock exists on '{resource}'");
        return Results.Json(
            new ResourceJson(
                view.Resource,
                System.Convert.ToBase64String(view.Lvb),
                view.LvbSeq,
                view.LvbValid,
                view.Granted.Select(item => LockJson.From(item)).ToList(),
                view.Converting.Select(item => LockJson.From(item)).ToList(),
                view.Waiting.Select(item => LockJson.From(item)).ToList()),
            Wire.Json);
    }

    private static async Task<IResult> Fence(HttpContext context, Requests requests, LockApplier applier)
    {
        var (body, problem) = await Requests.ReadAsync<FenceBody>(context);
        if (problem is not null) return problem;
        if (Wire.First(Names.ValidateLockspace(body!.Lockspace), Names.ValidateName(body.Resource, "resource"), Wire.ParseMode(body.Mode, out var mode)) is { } invalid)
        {
            return Problems.Invalid(invalid);
        }
        if (body.FencingToken is not > 0) return Problems.Invalid("fencingToken must be a positive number");
        if (!Auth.MayUse(context, body.Lockspace!)) return Auth.Forbidden(body.Lockspace!);
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var valid = applier.Read(machine => machine.CheckFence(body.Lockspace!, body.Resource!, body.FencingToken.Value, mode));
        return Results.Json(new FenceJson(valid), Wire.Json);
    }

    /// <summary>
    /// 200 when granted; 202 while queued, after waiting up to waitMs for the grant; 409 Timeout when the
    /// request's timeoutMs cancelled it during the wait (the lock is gone, or a conversion is back in its
    /// old mode).
    /// </summary>
    private static async Task<IResult> ReplyAsync(Result result, long sessionId, string ls, int waitMs, Requests requests, CancellationToken ct)
    {
        if (result is ErrorResult error) return Problems.From(error);
        if (result is not LockResult { Lock: var view } locked) return Problems.Invalid("unexpected result");
        if (view.State is LockViewState.Waiting or LockViewState.Converting && waitMs > 0)
        {
            var now = await requests.WaitForGrantAsync(sessionId, ls, view.LockId, waitMs, ct);
            if ((now is null || (view.State == LockViewState.Converting && now.State == LockViewState.Granted))
                && requests.TimedOut(sessionId, view.LockId))
            {
                return Problems.Of(409, "Timeout", $"lock {view.LockId} was still queued when its timeoutMs passed; the request was cancelled");
            }
            if (now is null) return Problems.Of(409, "Conflict", $"lock {view.LockId} ended without a grant; its session's events say why");
            view = now;
        }
        var status = view.State is LockViewState.Waiting or LockViewState.Converting ? 202 : 200;
        return Results.Json(LockJson.From(view, locked.Demoted), Wire.Json, statusCode: status);
    }

    /// <summary>The waitMs of a lock request or a conversion: how long the call waits for the grant (not part of the command).</summary>
    private static IResult? WaitMsProblem(int? waitMs) =>
        waitMs is < 0 or > Requests.MaxWaitMs ? Problems.Invalid($"waitMs must be from 0 to {Requests.MaxWaitMs}") : null;

    private static bool TrySession(string? text, out long sessionId)
    {
        sessionId = 0;
        return string.IsNullOrEmpty(text) || Wire.TryParseId(text, out sessionId);
    }
}
