using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

internal static class LockspaceEndpoints
{
    public static void Map(WebApplication app)
    {
        var lockspaces = app.MapGroup("/v1/lockspaces").WithTags("Lockspaces");
        lockspaces.MapPut("/{name}", Create).Accepts<LockspaceBody>("application/json").Produces<LockspaceJson>(201).Produces<LockspaceJson>()
            .Describe("CreateLockspace", "Create a lockspace (admin); 200 when it exists with the same settings").WriteProblems(409, 413);
        lockspaces.MapGet("/", List).Produces<LockspacesJson>()
            .Describe("ListLockspaces", "Every lockspace").ReadProblems();
        lockspaces.MapDelete("/{name}", Delete).Produces(204)
            .Describe("DeleteLockspace", "Delete a lockspace (admin; force=true even while it holds locks)").WriteProblems(404, 409);
    }

    private static async Task<IResult> Create(string name, HttpContext context, Requests requests)
    {
        var (body, problem) = await Requests.ReadAsync(context, new LockspaceBody(null, null));
        if (problem is not null) return problem;
        var (result, failure) = await requests.ProposeAsync(new CreateLockspace(name, body!.LvbBytes ?? 32, body.LockDelayMs ?? 0), context.RequestAborted);
        if (failure is not null) return failure;
        return result switch
        {
            LockspaceResult created => Results.Json(ToJson(created.Lockspace), Wire.Json, statusCode: created.Created ? 201 : 200),
            ErrorResult error => Problems.From(error),
            _ => Problems.Invalid("unexpected result"),
        };
    }

    private static async Task<IResult> List(HttpContext context, Requests requests, LockApplier applier)
    {
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var spaces = applier.Read(machine => machine.GetLockspaces());
        return Results.Json(new LockspacesJson(spaces.Select(ToJson).ToList()), Wire.Json);
    }

    private static async Task<IResult> Delete(string name, HttpContext context, Requests requests)
    {
        var force = context.Request.Query["force"].ToString();
        if (force is not ("" or "true" or "false")) return Problems.Invalid("force must be true or false");
        var (result, failure) = await requests.ProposeAsync(new DeleteLockspace(name, force == "true"), context.RequestAborted);
        if (failure is not null) return failure;
        return result is ErrorResult error ? Problems.From(error) : Results.NoContent();
    }

    private static LockspaceJson ToJson(LockspaceView view) => new(view.Name, view.LvbBytes, view.LockDelayMs, view.Resources);
}
