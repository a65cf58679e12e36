using System.Net;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// A 3-node cluster with an admin token and two lockspace tokens, bound from the command line
/// (<c>--AdminTokens:0 …</c>, <c>--LockspaceTokens:token-bc "auth-b, auth-c"</c>). Auth answers 401 to a
/// <c>/v1/cluster</c> without a token, so the cluster's own probes (finding the leader, comparing states)
/// send the admin token; the tests' clients send none unless a test gives one.
/// </summary>
public sealed class AuthClusterFixture : ClusterFixture
{
    public const string Admin = "admin-secret";
    public const string TokenA = "token-a";
    public const string TokenBc = "token-bc";
    public const string TokenA2 = "token-a2"; // a second tenant of auth-a


    protected override IReadOnlyDictionary<string, string>? Settings => new Dictionary<string, string>
    {
        ["AdminTokens:0"] = Admin,
        ["LockspaceTokens:" + TokenA] = "auth-a",
        ["LockspaceTokens:" + TokenBc] = "auth-b, auth-c",
        ["LockspaceTokens:" + TokenA2] = "auth-a",
    };

    protected override string? ProbeToken => Admin;
}

/// <summary>
/// The 401/403 matrix of the contract's Authentication section, on the leader and through a follower (the
/// forwarded call must keep its Authorization header, and be judged the same).
/// </summary>
public sealed class AuthTests(AuthClusterFixture fixture) : IClassFixture<AuthClusterFixture>
{
    private const string Admin = AuthClusterFixture.Admin;
    private const string TokenA = AuthClusterFixture.TokenA;
    private const string TokenBc = AuthClusterFixture.TokenBc;

    public static TheoryData<string> Targets => new() { "leader", "follower" };

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Missing_or_wrong_token_is_401_on_every_v1_path(string target)
    {
        var client = await fixture.ClientAsync(target);
        await EnsureLockspacesAsync();
        foreach (var token in new[] { null, "", "wrong", TokenA + "x", "Admin-Secret" })
        {
            foreach (var (method, path, body) in EveryV1Call("auth-a", "1", "1"))
            {
                var reply = await CallAsync(client, method, path, body, token);
                Assert.True(
                    reply.Status == HttpStatusCode.Unauthorized && reply.MediaType == "application/problem+json" && Api.Code(reply.Body) == "Unauthorized",
                    $"{method} {path} with token '{token}' via {target}: {reply}");
            }
        }

        // Another scheme than Bearer is no token either.
        using var basic = new HttpRequestMessage(HttpMethod.Get, "/v1/lockspaces");
        basic.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Admin);
        using var response = await client.SendAsync(basic);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Operations_paths_need_no_token(string target)
    {
        var client = await fixture.ClientAsync(target);
        AssertStatus(await Get(client, "/healthz"), HttpStatusCode.OK);
        AssertStatus(await ReadyAsync(client), HttpStatusCode.OK);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Lockspace_token_may_use_its_own_lockspace(string target)
    {
        var client = await fixture.ClientAsync(target);
        await EnsureLockspacesAsync();

        var session = await Post(client, "/v1/sessions", new { name = "a", ttlMs = 600_000 }, TokenA);
        AssertStatus(session, HttpStatusCode.Created);
        var sessionId = Str(session.Body, "sessionId");
        AssertStatus(await Post(client, $"/v1/sessions/{sessionId}/keepalive", null, TokenA), HttpStatusCode.OK);
        AssertStatus(await Get(client, $"/v1/sessions/{sessionId}", TokenA), HttpStatusCode.OK);
        AssertStatus(await Get(client, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0", TokenA), HttpStatusCode.OK);
        AssertStatus(await Get(client, "/v1/lockspaces", TokenA), HttpStatusCode.OK);
        AssertStatus(await Get(client, "/v1/cluster", TokenA), HttpStatusCode.OK);

        var resource = "own-" + target;
        var locked = await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId, resource, mode = "EX" }, TokenA);
        AssertStatus(locked, HttpStatusCode.OK);
        var lockId = Str(locked.Body, "lockId");
        AssertStatus(await Get(client, $"/v1/lockspaces/auth-a/locks/{lockId}", TokenA), HttpStatusCode.OK);
        AssertStatus(await Get(client, $"/v1/lockspaces/auth-a/resources/{resource}", TokenA), HttpStatusCode.OK);
        var fence = await Post(client, "/v1/fence/check", new { lockspace = "auth-a", resource, fencingToken = Long(locked.Body, "fencingToken"), mode = "EX" }, TokenA);
        AssertStatus(fence, HttpStatusCode.OK);
        Assert.True(fence.Body!["valid"]!.GetValue<bool>());
        AssertStatus(await Post(client, $"/v1/lockspaces/auth-a/locks/{lockId}/convert", new { mode = "PR" }, TokenA), HttpStatusCode.OK);
        AssertProblem(await Post(client, "/v1/lockspaces/auth-a/orphans/adopt", new { sessionId, resource, mode = "EX" }, TokenA), HttpStatusCode.NotFound, "NotFound");
        AssertStatus(await Delete(client, $"/v1/lockspaces/auth-a/locks/{lockId}", null, TokenA), HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/sessions/{sessionId}", null, TokenA), HttpStatusCode.NoContent);

        // A token with two lockspaces may use both.
        var bc = Str((await Post(client, "/v1/sessions", new { name = "bc", ttlMs = 600_000 }, TokenBc)).Body, "sessionId");
        AssertStatus(await Post(client, "/v1/lockspaces/auth-b/locks", new { sessionId = bc, resource, mode = "EX" }, TokenBc), HttpStatusCode.OK);
        AssertStatus(await Post(client, "/v1/lockspaces/auth-c/locks", new { sessionId = bc, resource, mode = "EX" }, TokenBc), HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/sessions/{bc}", null, TokenBc), HttpStatusCode.NoContent);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Lockspace_token_is_403_on_another_lockspace_and_on_admin_operations(string target)
    {
        var client = await fixture.ClientAsync(target);
        await EnsureLockspacesAsync();
        var (leader, _) = await fixture.NodesAsync();

        // A lock in auth-b, made by the admin, that token A tries to reach.
        var adminSession = Str((await Post(leader, "/v1/sessions", new { name = "adm", ttlMs = 600_000 }, Admin)).Body, "sessionId");
        var resource = "theirs-" + target;
        var theirs = await Post(leader, "/v1/lockspaces/auth-b/locks", new { sessionId = adminSession, resource, mode = "EX" }, Admin);
        AssertStatus(theirs, HttpStatusCode.OK);
        var lockId = Str(theirs.Body, "lockId");
        var token = Long(theirs.Body, "fencingToken");
        var mine = Str((await Post(client, "/v1/sessions", new { name = "a", ttlMs = 600_000 }, TokenA)).Body, "sessionId");

        (HttpMethod, string, object?)[] forbidden =
        [
            (HttpMethod.Post, "/v1/lockspaces/auth-b/locks", new { sessionId = mine, resource = "x", mode = "EX" }),
            (HttpMethod.Post, $"/v1/lockspaces/auth-b/locks/{lockId}/convert", new { mode = "NL" }),
            (HttpMethod.Delete, $"/v1/lockspaces/auth-b/locks/{lockId}", null),
            (HttpMethod.Get, $"/v1/lockspaces/auth-b/locks/{lockId}", null),
            (HttpMethod.Get, $"/v1/lockspaces/auth-b/resources/{resource}", null),
            (HttpMethod.Post, "/v1/lockspaces/auth-b/orphans/adopt", new { sessionId = mine, resource, mode = "EX" }),
            (HttpMethod.Post, "/v1/fence/check", new { lockspace = "auth-b", resource, fencingToken = token, mode = "EX" }),
            (HttpMethod.Post, "/v1/lockspaces/no-such-space/locks", new { sessionId = mine, resource = "x", mode = "EX" }),
            // Admin operations, even on its own lockspace.
            (HttpMethod.Put, "/v1/lockspaces/auth-a", new { lvbBytes = 8, lockDelayMs = 0 }),
            (HttpMethod.Put, "/v1/lockspaces/auth-new", new { lvbBytes = 8, lockDelayMs = 0 }),
            (HttpMethod.Delete, "/v1/lockspaces/auth-a", null),
            (HttpMethod.Delete, "/v1/lockspaces/auth-a?force=true", null),
            (HttpMethod.Delete, "/v1/lockspaces/auth-a/orphans?resource=x", null),
            (HttpMethod.Delete, "/v1/lockspaces/auth-b/orphans?resource=x", null),
            // A node's snapshot holds every lockspace.
            (HttpMethod.Get, "/v1/cluster/snapshot", null),
        ];
        foreach (var (method, path, body) in forbidden)
        {
            var reply = await CallAsync(client, method, path, body is null ? null : body, TokenA);
            Assert.True(
                reply.Status == HttpStatusCode.Forbidden && reply.MediaType == "application/problem+json" && Api.Code(reply.Body) == "Forbidden",
                $"{method} {path} with a token of auth-a via {target}: {reply}");
        }

        // Nothing of that happened.
        var still = await Get(leader, $"/v1/lockspaces/auth-b/locks/{lockId}", Admin);
        AssertStatus(still, HttpStatusCode.OK);
        Assert.Equal("EX", Str(still.Body, "mode"));
        Assert.Equal("granted", Str(still.Body, "state"));
        var spaces = await Get(client, "/v1/lockspaces", TokenA);
        Assert.DoesNotContain(spaces.Body!["lockspaces"]!.AsArray(), item => Str(item, "name") == "auth-new");
        Assert.Contains(spaces.Body!["lockspaces"]!.AsArray(), item => Str(item, "name") == "auth-a");
        AssertStatus(await Delete(leader, $"/v1/sessions/{adminSession}", null, Admin), HttpStatusCode.NoContent);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Admin_token_may_do_everything(string target)
    {
        var client = await fixture.ClientAsync(target);
        var ls = "auth-admin-" + target;
        AssertStatus(await Put(client, $"/v1/lockspaces/{ls}", new { lvbBytes = 8, lockDelayMs = 0 }, Admin), HttpStatusCode.Created);
        var session = await Post(client, "/v1/sessions", new { name = "adm", ttlMs = 600_000 }, Admin);
        AssertStatus(session, HttpStatusCode.Created);
        var sessionId = Str(session.Body, "sessionId");
        var locked = await Post(client, $"/v1/lockspaces/{ls}/locks", new { sessionId, resource = "r", mode = "EX", flags = new[] { "persistent" } }, Admin);
        AssertStatus(locked, HttpStatusCode.OK);
        AssertStatus(await Get(client, $"/v1/lockspaces/{ls}/resources/r", Admin), HttpStatusCode.OK);
        var fence = await Post(client, "/v1/fence/check", new { lockspace = ls, resource = "r", fencingToken = Long(locked.Body, "fencingToken"), mode = "EX" }, Admin);
        Assert.True(fence.Body!["valid"]!.GetValue<bool>());
        AssertStatus(await Delete(client, $"/v1/sessions/{sessionId}", null, Admin), HttpStatusCode.NoContent);
        Assert.Equal("orphan", Str((await Get(client, $"/v1/lockspaces/{ls}/locks/{Str(locked.Body, "lockId")}", Admin)).Body, "state"));
        AssertStatus(await Delete(client, $"/v1/lockspaces/{ls}/orphans?resource=r", null, Admin), HttpStatusCode.NoContent);
        AssertProblem(await Get(client, $"/v1/lockspaces/{ls}/resources/r", Admin), HttpStatusCode.NotFound, "NotFound");
        AssertStatus(await Get(client, "/v1/cluster", Admin), HttpStatusCode.OK);
        // No snapshot has been taken yet in this cluster: a plain 404, not a refusal.
        AssertProblem(await Get(client, "/v1/cluster/snapshot", Admin), HttpStatusCode.NotFound, "NotFound");
        AssertStatus(await Delete(client, $"/v1/lockspaces/{ls}?force=true", null, Admin), HttpStatusCode.NoContent);
        // Lockspaces that lockspace tokens are scoped to are open to the admin as well.
        AssertProblem(await Get(client, "/v1/lockspaces/auth-a/resources/none", Admin), HttpStatusCode.NotFound, "NotFound");
    }

    internal static async Task EnsureLockspacesAsync(AuthClusterFixture fixture)
    {
        var (leader, _) = await fixture.NodesAsync();
        foreach (var ls in new[] { "auth-a", "auth-b", "auth-c" })
        {
            var reply = await Put(leader, $"/v1/lockspaces/{ls}", new { lvbBytes = 8, lockDelayMs = 0 }, Admin);
            Assert.True(reply.Status is HttpStatusCode.Created or HttpStatusCode.OK, reply.ToString());
        }
    }

    private async Task EnsureLockspacesAsync()
    {
        var (leader, _) = await fixture.NodesAsync();
        foreach (var ls in new[] { "auth-a", "auth-b", "auth-c" })
        {
            var reply = await Put(leader, $"/v1/lockspaces/{ls}", new { lvbBytes = 8, lockDelayMs = 0 }, Admin);
            Assert.True(reply.Status is HttpStatusCode.Created or HttpStatusCode.OK, reply.ToString());
        }
    }

    /// <summary>One call of every /v1 path of the contract.</summary>
    private static IEnumerable<(HttpMethod Method, string Path, object? Body)> EveryV1Call(string ls, string sessionId, string lockId) =>
    [
        (HttpMethod.Post, "/v1/sessions", new { name = "x", ttlMs = 10_000 }),
        (HttpMethod.Get, "/v1/sessions", null),
        (HttpMethod.Post, $"/v1/sessions/{sessionId}/keepalive", "{}"),
        (HttpMethod.Get, $"/v1/sessions/{sessionId}", null),
        (HttpMethod.Delete, $"/v1/sessions/{sessionId}", null),
        (HttpMethod.Get, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0", null),
        (HttpMethod.Put, $"/v1/lockspaces/{ls}", new { lvbBytes = 8, lockDelayMs = 0 }),
        (HttpMethod.Get, "/v1/lockspaces", null),
        (HttpMethod.Delete, $"/v1/lockspaces/{ls}", null),
        (HttpMethod.Post, $"/v1/lockspaces/{ls}/locks", new { sessionId, resource = "r", mode = "EX" }),
        (HttpMethod.Post, $"/v1/lockspaces/{ls}/locks/{lockId}/convert", new { mode = "NL" }),
        (HttpMethod.Delete, $"/v1/lockspaces/{ls}/locks/{lockId}", null),
        (HttpMethod.Get, $"/v1/lockspaces/{ls}/locks/{lockId}", null),
        (HttpMethod.Post, $"/v1/lockspaces/{ls}/orphans/adopt", new { sessionId, resource = "r", mode = "EX" }),
        (HttpMethod.Delete, $"/v1/lockspaces/{ls}/orphans?resource=r", null),
        (HttpMethod.Get, $"/v1/lockspaces/{ls}/resources/r", null),
        (HttpMethod.Get, $"/v1/lockspaces/{ls}/resources", null),
        (HttpMethod.Get, $"/v1/lockspaces/{ls}/waitfor", null),
        (HttpMethod.Post, "/v1/fence/check", new { lockspace = ls, resource = "r", fencingToken = 1, mode = "EX" }),
        (HttpMethod.Get, "/v1/cluster", null),
        (HttpMethod.Get, "/v1/cluster/state", null),
        (HttpMethod.Get, "/v1/cluster/snapshot", null),
    ];
}
