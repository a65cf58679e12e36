using System.Net;
using RaftDlm.Testing;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Quotas per lockspace token: live sessions, locks its sessions own, and requests per second. Over a quota
/// the answer is 429 with Retry-After and nothing is applied; admins have no quota; another token's use does
/// not count against it.
/// </summary>
public sealed class QuotaTests
{
    private const string Admin = "quota-admin";
    private const string Tenant = "quota-tenant";
    private const string Neighbour = "quota-neighbour";

    private static Dictionary<string, string> Settings(int sessions, int locks, int perSecond) => new()
    {
        ["AdminTokens:0"] = Admin,
        ["LockspaceTokens:" + Tenant] = "q",
        ["LockspaceTokens:" + Neighbour] = "q",
        ["TokenMaxSessions"] = sessions.ToString(),
        ["TokenMaxLocks"] = locks.ToString(),
        ["TokenRequestsPerSecond"] = perSecond.ToString(),
    };

    [Fact]
    public async Task A_token_over_its_session_or_lock_quota_gets_429_and_nothing_is_applied()
    {
        await using var cluster = await ServerCluster.StartAsync(1, Settings(sessions: 2, locks: 3, perSecond: 0), probeToken: Admin);
        var client = cluster.Client(cluster.Ids[0]);
        AssertStatus(await Put(client, "/v1/lockspaces/q", new { lvbBytes = 8, lockDelayMs = 0 }, Admin), HttpStatusCode.Created);

        var first = Str((await Post(client, "/v1/sessions", new { name = "a", ttlMs = 600_000 }, Tenant)).Body, "sessionId");
        var second = Str((await Post(client, "/v1/sessions", new { name = "b", ttlMs = 600_000 }, Tenant)).Body, "sessionId");
        var refused = await Post(client, "/v1/sessions", new { name = "c", ttlMs = 600_000 }, Tenant);
        AssertProblem(refused, HttpStatusCode.TooManyRequests, "QuotaExceeded");
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        // The neighbour and the admin are not bound by the tenant's use.
        AssertStatus(await Post(client, "/v1/sessions", new { name = "n", ttlMs = 600_000 }, Neighbour), HttpStatusCode.Created);
        AssertStatus(await Post(client, "/v1/sessions", new { name = "adm", ttlMs = 600_000 }, Admin), HttpStatusCode.Created);

        // Locks: granted and waiting ones count, over both sessions.
        AssertStatus(await Post(client, "/v1/lockspaces/q/locks", new { sessionId = first, resource = "r1", mode = "EX" }, Tenant), HttpStatusCode.OK);
        AssertStatus(await Post(client, "/v1/lockspaces/q/locks", new { sessionId = second, resource = "r2", mode = "EX" }, Tenant), HttpStatusCode.OK);
        var waiting = await Post(client, "/v1/lockspaces/q/locks", new { sessionId = second, resource = "r1", mode = "EX", waitMs = 0 }, Tenant);
        AssertStatus(waiting, HttpStatusCode.Accepted);
        var over = await Post(client, "/v1/lockspaces/q/locks", new { sessionId = first, resource = "r3", mode = "EX" }, Tenant);
        AssertProblem(over, HttpStatusCode.TooManyRequests, "QuotaExceeded");
        Assert.Contains("quota is 3", over.Body!["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        AssertProblem(await Get(client, "/v1/lockspaces/q/resources/r3", Admin), HttpStatusCode.NotFound, "NotFound");

        // Room comes back when a lock or a session goes.
        AssertStatus(await Delete(client, $"/v1/lockspaces/q/locks/{Str(waiting.Body, "lockId")}", null, Tenant), HttpStatusCode.OK);
        AssertStatus(await Post(client, "/v1/lockspaces/q/locks", new { sessionId = first, resource = "r3", mode = "EX" }, Tenant), HttpStatusCode.OK);
        AssertStatus(await Delete(client, $"/v1/sessions/{second}", null, Tenant), HttpStatusCode.NoContent);
        AssertStatus(await Post(client, "/v1/sessions", new { name = "c", ttlMs = 600_000 }, Tenant), HttpStatusCode.Created);
    }

    [Fact]
    public async Task A_token_over_its_request_rate_gets_429_with_retry_after_and_others_do_not()
    {
        await using var cluster = await ServerCluster.StartAsync(1, Settings(sessions: 0, locks: 0, perSecond: 20), probeToken: Admin);
        var client = cluster.Client(cluster.Ids[0]);
        var statuses = new List<HttpStatusCode>();
        Reply? limited = null;
        for (var i = 0; i < 60 && limited is null; i++)
        {
            var reply = await Get(client, "/v1/lockspaces", Tenant);
            statuses.Add(reply.Status);
            if (reply.Status == HttpStatusCode.TooManyRequests) limited = reply;
        }
        Assert.True(limited is not null, $"60 requests at once, none refused: {string.Join(",", statuses)}");
        Assert.Equal("TooManyRequests", Api.Code(limited.Body));
        Assert.Equal("1", limited.Headers.RetryAfter?.ToString());
        // The bucket is the token's: the neighbour and the admin still get through at once.
        AssertStatus(await Get(client, "/v1/lockspaces", Neighbour), HttpStatusCode.OK);
        AssertStatus(await Get(client, "/v1/lockspaces", Admin), HttpStatusCode.OK);
    }
    [Fact]
    public async Task An_address_over_its_request_rate_gets_429_until_its_bucket_refills()
    {
        // No tokens at all: the flood guard per client address is the only bound.
        await using var cluster = await ServerCluster.StartAsync(1, new Dictionary<string, string> { ["RequestsPerSecondPerClient"] = "20" });
        var client = cluster.Client(cluster.Ids[0]);
        var statuses = new List<HttpStatusCode>();
        Reply? limited = null;
        for (var i = 0; i < 60 && limited is null; i++)
        {
            var reply = await Get(client, "/v1/lockspaces");
            statuses.Add(reply.Status);
            if (reply.Status == HttpStatusCode.TooManyRequests) limited = reply;
        }
        Assert.True(limited is not null, $"60 requests at once from one address, none refused: {string.Join(",", statuses)}");
        Assert.Equal("TooManyRequests", Api.Code(limited.Body));
        Assert.Contains("request rate bound", (string?)limited.Body?["detail"]);
        // A second later the address's bucket holds 20 requests again.
        await Task.Delay(TimeSpan.FromSeconds(1.2));
        AssertStatus(await Get(client, "/v1/lockspaces"), HttpStatusCode.OK);
    }
}
