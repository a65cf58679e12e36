using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// The cluster's membership at run time: list, add (the new member is caught up as a learner, then votes) and
/// remove. Changes are the leader's: a follower forwards them (<see cref="Forwarding"/>); admin only.
/// </summary>
internal static class MembershipEndpoints
{
    /// <summary>The longest <c>timeoutMs</c> an add may ask for.</summary>
    public const int MaxAddTimeoutMs = 3_600_000;

    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/cluster/members", List).WithTags("Cluster").Produces<MembersJson>()
            .Describe("ListMembers", "The members this node has applied, with role (voter, or learner while being caught up) and status").Problems();
        app.MapPost("/v1/cluster/members", AddAsync).WithTags("Cluster").Accepts<AddMemberRequest>("application/json").Produces<MemberInfoJson>()
            .Describe("AddMember", "Add a member (admin): it is caught up as a learner, then becomes a voter; answers once it votes").WriteProblems(409);
        app.MapDelete("/v1/cluster/members/{id}", RemoveAsync).WithTags("Cluster").Produces<MemberInfoJson>()
            .Describe("RemoveMember", "Remove a member (admin); the leader too, which then steps down").WriteProblems(404, 409);
    }

    private static IResult List(RaftNode node) =>
        Results.Json(new MembersJson(node.MembersView.Select(view => ToJson(view.Member, view.Role, view.Status)).ToList()), Wire.Json);

    private static async Task<IResult> AddAsync(HttpContext context, RaftNode node, ServerOptions options)
    {
        var (body, problem) = await Requests.ReadAsync<AddMemberRequest>(context);
        if (problem is not null) return problem;
        if (Validate(body!) is { } invalid) return Problems.Invalid(invalid);
        var timeoutMs = body!.TimeoutMs ?? options.JoinTimeoutMs;
        if (timeoutMs is < 1 or > MaxAddTimeoutMs) return Problems.Invalid($"timeoutMs must be between 1 and {MaxAddTimeoutMs}");
        var member = new RaftMember(body.Id!, body.RaftEndpoint!, body.HttpUrl!.TrimEnd('/'));
        try
        {
            await node.AddMemberAsync(member, TimeSpan.FromMilliseconds(timeoutMs), context.RequestAborted);
            return Results.Json(ToJson(member, "voter", "follower"), Wire.Json);
        }
        catch (Exception error) when (Failed(error) is { } failed)
        {
            return failed;
        }
    }

    private static async Task<IResult> RemoveAsync(string id, HttpContext context, RaftNode node)
    {
        try
        {
            var member = await node.RemoveMemberAsync(id, context.RequestAborted);
            return Results.Json(ToJson(member, "voter", "removed"), Wire.Json);
        }
        catch (Exception error) when (Failed(error) is { } failed)
        {
            return failed;
        }
    }

    private static IResult? Failed(Exception error) => error switch
    {
        MembershipException { Error: MembershipError.NotFound } e => Problems.NotFound(e.Message),
        MembershipException { Error: MembershipError.CatchUpTimedOut } e => Problems.Of(409, "Timeout", e.Message),
        MembershipException e => Problems.Of(409, "Conflict", e.Message),
        NotLeaderException => Problems.Unavailable("leadership moved during the membership change; check the members and try again"),
        OutcomeUnknownException e => Problems.Of(504, "OutcomeUnknown", e.Message + "; check the members before trying again"),
        _ => null,
    };

    /// <summary>Why the body is not a member, or null.</summary>
    private static string? Validate(AddMemberRequest body)
    {
        if (string.IsNullOrEmpty(body.Id) || body.Id.Length > 64 || !body.Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
        {
            return "id must be 1 to 64 characters of letters, digits, '-', '_' and '.'";
        }
        try
        {
            _ = RaftMember.SplitAddress(body.RaftEndpoint ?? "");
        }
        catch (FormatException error)
        {
            return "raftEndpoint: " + error.Message;
        }
        if (!Uri.TryCreate(body.HttpUrl, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https") || url.PathAndQuery != "/")
        {
            return "httpUrl must be an absolute http:// or https:// URL without a path";
        }
        return null;
    }

    private static MemberInfoJson ToJson(RaftMember member, string role, string status) =>
        new(member.Id, member.RaftEndpoint, member.HttpEndpoint, role, status);
}

internal sealed record AddMemberRequest(string? Id, string? RaftEndpoint, string? HttpUrl, int? TimeoutMs);

internal sealed record MemberInfoJson(string Id, string RaftEndpoint, string HttpUrl, string Role, string Status);

internal sealed record MembersJson(IReadOnlyList<MemberInfoJson> Members);
