using System.Net;
using System.Text.Json.Nodes;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Sessions belong to the token that opened them: every call on a session or on its locks, × {no token,
/// another tenant's token, the owner's token, an admin token}. Another tenant is answered exactly as if the
/// session or lock did not exist, so ids reveal nothing; session views and events never show a lockspace the
/// token has no right on. On the leader and through a follower.
/// </summary>
public sealed partial class AuthMatrixTests(AuthClusterFixture fixture) : IClassFixture<AuthClusterFixture>
{
    private const string Admin = AuthClusterFixture.Admin;
    private const string Owner = AuthClusterFixture.TokenA;
    private const string SameSpaceTenant = AuthClusterFixture.TokenA2;
    private const string OtherSpaceTenant = AuthClusterFixture.TokenBc;
    private const string Unknown = "987654321";

    public static TheoryData<string> Targets => new() { "leader", "follower" };

    /// <summary>Every call that names a session or a lock of auth-a, with the ids it acts on.</summary>
    private static (string Name, HttpMethod Method, string Path, object? Body)[] Calls(string sessionId, string lockId, string resource) =>
    [
        ("keepalive", HttpMethod.Post, $"/v1/sessions/{sessionId}/keepalive", "{}"),
        ("get session", HttpMethod.Get, $"/v1/sessions/{sessionId}", null),
        ("events", HttpMethod.Get, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0", null),
        ("lock", HttpMethod.Post, "/v1/lockspaces/auth-a/locks", new { sessionId, resource = resource + "-new", mode = "EX" }),
        ("adopt", HttpMethod.Post, "/v1/lockspaces/auth-a/orphans/adopt", new { sessionId, resource = resource + "-none", mode = "EX" }),
        ("get lock", HttpMethod.Get, $"/v1/lockspaces/auth-a/locks/{lockId}", null),
        ("convert", HttpMethod.Post, $"/v1/lockspaces/auth-a/locks/{lockId}/convert", new { mode = "NL" }),
        ("convert with session", HttpMethod.Post, $"/v1/lockspaces/auth-a/locks/{lockId}/convert", new { mode = "NL", sessionId }),
        ("unlock", HttpMethod.Delete, $"/v1/lockspaces/auth-a/locks/{lockId}", null),
        ("unlock with session", HttpMethod.Delete, $"/v1/lockspaces/auth-a/locks/{lockId}", new { sessionId }),
        ("close", HttpMethod.Delete, $"/v1/sessions/{sessionId}", null),
    ];

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Another_tenants_session_and_locks_answer_as_if_they_did_not_exist(string target)
    {
        var client = await fixture.ClientAsync(target);
        await AuthTests.EnsureLockspacesAsync(fixture);
        var (leader, _) = await fixture.NodesAsync();
        var resource = "matrix-" + target;
        var sessionId = Str((await Post(client, "/v1/sessions", new { name = "owned", ttlMs = 600_000 }, Owner)).Body, "sessionId");
        var locked = await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId, resource, mode = "EX" }, Owner);
        AssertStatus(locked, HttpStatusCode.OK);
        var lockId = Str(locked.Body, "lockId");

        var real = Calls(sessionId, lockId, resource);
        var missing = Calls(Unknown, Unknown, resource);
        for (var i = 0; i < real.Length; i++)
        {
            var (name, method, path, body) = real[i];
            var none = await CallAsync(client, method, path, body);
            Assert.True(none.Status == HttpStatusCode.Unauthorized && Api.Code(none.Body) == "Unauthorized", $"{name} with no token via {target}: {none}");

            // A tenant of the same lockspace: exactly the answer for ids that do not exist.
            var refused = await CallAsync(client, method, path, body, SameSpaceTenant);
            var absent = await CallAsync(client, missing[i].Method, missing[i].Path, missing[i].Body, SameSpaceTenant);
            Assert.True(refused.Status == HttpStatusCode.NotFound, $"{name} by another tenant via {target}: {refused}");
            Assert.Equal(absent.Status, refused.Status);
            Assert.Equal(Api.Code(absent.Body), Api.Code(refused.Body));
            Assert.Equal(Detail(absent.Body, Unknown), Detail(refused.Body, sessionId, lockId));

            // A tenant of another lockspace: the same for the session's own paths; its locks are 403 (the lockspace).
            var outsider = await CallAsync(client, method, path, body, OtherSpaceTenant);
            if (path.StartsWith("/v1/sessions", StringComparison.Ordinal))
            {
                Assert.True(outsider.Status == HttpStatusCode.NotFound && Api.Code(outsider.Body) == "SessionExpired", $"{name} by a tenant of another lockspace via {target}: {outsider}");
            }
            else
            {
                Assert.True(outsider.Status == HttpStatusCode.Forbidden, $"{name} by a tenant of another lockspace via {target}: {outsider}");
            }
        }

        // None of that touched the session or its lock.
        var still = await Get(leader, $"/v1/lockspaces/auth-a/locks/{lockId}", Admin);
        Assert.Equal("granted", Str(still.Body, "state"));
        Assert.Equal("EX", Str(still.Body, "mode"));
        AssertStatus(await Get(leader, $"/v1/sessions/{sessionId}", Admin), HttpStatusCode.OK);
        AssertProblem(await Get(leader, $"/v1/lockspaces/auth-a/resources/{resource}-new", Admin), HttpStatusCode.NotFound, "NotFound");

        // The admin may act on it, and so may the owner.
        foreach (var token in new[] { Admin, Owner })
        {
            AssertStatus(await Post(client, $"/v1/sessions/{sessionId}/keepalive", "{}", token), HttpStatusCode.OK);
            AssertStatus(await Get(client, $"/v1/sessions/{sessionId}", token), HttpStatusCode.OK);
            AssertStatus(await Get(client, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0", token), HttpStatusCode.OK);
            AssertStatus(await Get(client, $"/v1/lockspaces/auth-a/locks/{lockId}", token), HttpStatusCode.OK);
        }
        AssertStatus(await Post(client, $"/v1/lockspaces/auth-a/locks/{lockId}/convert", new { mode = "PR" }, Admin), HttpStatusCode.OK);
        AssertStatus(await Post(client, $"/v1/lockspaces/auth-a/locks/{lockId}/convert", new { mode = "EX" }, Owner), HttpStatusCode.OK);
        var second = await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId, resource = resource + "-2", mode = "EX" }, Owner);
        AssertStatus(second, HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/lockspaces/auth-a/locks/{Str(second.Body, "lockId")}", null, Admin), HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/lockspaces/auth-a/locks/{lockId}", null, Owner), HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/sessions/{sessionId}", null, Owner), HttpStatusCode.NoContent);

        // An admin's session is the admin's: a tenant gets the same 404.
        var adminSession = Str((await Post(client, "/v1/sessions", new { name = "adm", ttlMs = 600_000 }, Admin)).Body, "sessionId");
        AssertProblem(await Get(client, $"/v1/sessions/{adminSession}", Owner), HttpStatusCode.NotFound, "SessionExpired");
        AssertProblem(await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId = adminSession, resource, mode = "EX" }, Owner), HttpStatusCode.NotFound, "SessionExpired");
        AssertStatus(await Delete(client, $"/v1/sessions/{adminSession}", null, Admin), HttpStatusCode.NoContent);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Session_views_and_events_never_show_a_lockspace_the_token_has_no_right_on(string target)
    {
        var client = await fixture.ClientAsync(target);
        await AuthTests.EnsureLockspacesAsync(fixture);
        var resource = "views-" + target;
        // A session of the auth-b/auth-c token that an admin made wait for a lock in auth-a (LVB written there).
        var tenant = Str((await Post(client, "/v1/sessions", new { name = "bc", ttlMs = 600_000 }, OtherSpaceTenant)).Body, "sessionId");
        var adminSession = Str((await Post(client, "/v1/sessions", new { name = "adm", ttlMs = 600_000 }, Admin)).Body, "sessionId");
        var blocker = await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId = adminSession, resource, mode = "EX" }, Admin);
        var waiting = await Post(client, "/v1/lockspaces/auth-a/locks", new { sessionId = tenant, resource, mode = "EX", waitMs = 0 }, Admin);
        AssertStatus(waiting, HttpStatusCode.Accepted);
        AssertStatus(await Delete(client, $"/v1/lockspaces/auth-a/locks/{Str(blocker.Body, "lockId")}", new { lvb = Api.Lvb(42) }, Admin), HttpStatusCode.OK);
        var mine = await Post(client, "/v1/lockspaces/auth-b/locks", new { sessionId = tenant, resource, mode = "EX" }, OtherSpaceTenant);
        AssertStatus(mine, HttpStatusCode.OK);

        // The admin sees both lockspaces, in the session view and in its events.
        var adminView = await Get(client, $"/v1/sessions/{tenant}", Admin);
        Assert.Equal(["auth-a", "auth-b"], Lockspaces(adminView.Body!["locks"]));
        Assert.Contains("auth-a", await EventLockspacesAsync(client, tenant, Admin));

        // The tenant sees only its own.
        var tenantView = await Get(client, $"/v1/sessions/{tenant}", OtherSpaceTenant);
        AssertStatus(tenantView, HttpStatusCode.OK);
        Assert.Equal(["auth-b"], Lockspaces(tenantView.Body!["locks"]));
        Assert.DoesNotContain("auth-a", await EventLockspacesAsync(client, tenant, OtherSpaceTenant));

        // The sessions view: the tenant sees its own session with only auth-b; another tenant does not see it;
        // the admin sees it with both lockspaces.
        var listed = await Get(client, "/v1/sessions?limit=1000", OtherSpaceTenant);
        AssertStatus(listed, HttpStatusCode.OK);
        var own = Assert.Single(listed.Body!["sessions"]!.AsArray(), item => Str(item, "sessionId") == tenant);
        Assert.Equal(["auth-b"], own!["lockspaces"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.DoesNotContain(listed.Body!["sessions"]!.AsArray(), item => Str(item, "sessionId") == adminSession);
        Assert.DoesNotContain((await Get(client, "/v1/sessions?limit=1000", Owner)).Body!["sessions"]!.AsArray(), item => Str(item, "sessionId") == tenant);
        var everything = await Get(client, "/v1/sessions?limit=1000", Admin);
        var seen = Assert.Single(everything.Body!["sessions"]!.AsArray(), item => Str(item, "sessionId") == tenant);
        Assert.Equal(["auth-a", "auth-b"], seen!["lockspaces"]!.AsArray().Select(x => x!.GetValue<string>()));
        AssertStatus(await Get(client, "/v1/sessions"), HttpStatusCode.Unauthorized);
        // The lockspace views follow the lockspace rights.
        AssertStatus(await Get(client, "/v1/lockspaces/auth-a/resources", OtherSpaceTenant), HttpStatusCode.Forbidden);
        AssertStatus(await Get(client, "/v1/lockspaces/auth-a/waitfor", OtherSpaceTenant), HttpStatusCode.Forbidden);
        AssertStatus(await Get(client, "/v1/lockspaces/auth-b/resources", OtherSpaceTenant), HttpStatusCode.OK);
        AssertStatus(await Get(client, "/v1/lockspaces/auth-b/waitfor", OtherSpaceTenant), HttpStatusCode.OK);

        AssertStatus(await Delete(client, $"/v1/sessions/{tenant}", null, Admin), HttpStatusCode.NoContent);
        AssertStatus(await Delete(client, $"/v1/sessions/{adminSession}", null, Admin), HttpStatusCode.NoContent);
    }

    private static async Task<List<string>> EventLockspacesAsync(HttpClient client, string sessionId, string token)
    {
        var events = await Get(client, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0", token);
        AssertStatus(events, HttpStatusCode.OK);
        return events.Body!["events"]!.AsArray().Select(item => item?["lockspace"]?.GetValue<string>()).OfType<string>().Distinct().ToList();
    }

    private static List<string> Lockspaces(JsonNode? locks) =>
        locks!.AsArray().Select(item => Str(item, "lockspace")).Distinct().Order(StringComparer.Ordinal).ToList();

    // A problem's detail with the ids it names replaced, to compare a refusal with the answer for unknown ids.
    private static string Detail(JsonNode? problem, params string[] ids)
    {
        var detail = problem?["detail"]?.GetValue<string>() ?? "";
        foreach (var id in ids) detail = detail.Replace(id, "ID", StringComparison.Ordinal);
        return detail;
    }
}
