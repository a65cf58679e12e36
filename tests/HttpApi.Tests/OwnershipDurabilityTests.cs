using System.Net;
using RaftDlm.Testing;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// A session's owner, the per-token counts and the replies of retried unlocks are replicated state: they hold
/// through a leader kill, a restart of every node (from their snapshots) and on a node wiped and seeded from a
/// peer's snapshot, which answers stale reads from what it restored.
/// </summary>
public sealed class OwnershipDurabilityTests
{
    private const string Admin = "durable-admin";
    private const string Owner = "durable-a";
    private const string Stranger = "durable-b";
    private const string Space = "durable";

    [Fact]
    public async Task Owners_quota_counts_and_unlock_replies_survive_failover_restart_and_a_seeded_node()
    {
        await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string>
        {
            ["AdminTokens:0"] = Admin,
            ["LockspaceTokens:" + Owner] = Space,
            ["LockspaceTokens:" + Stranger] = Space,
            ["TokenMaxSessions"] = "2",
            ["SnapshotEveryEntries"] = "20",
        }, probeToken: Admin);
        var client = cluster.Client(await cluster.WaitForLeaderAsync());
        AssertStatus(await Put(client, $"/v1/lockspaces/{Space}", new { lvbBytes = 8, lockDelayMs = 0 }, Admin), HttpStatusCode.Created);
        var session = Str((await Post(client, "/v1/sessions", new { name = "kept", ttlMs = 600_000 }, Owner)).Body, "sessionId");
        AssertStatus(await Post(client, "/v1/sessions", new { name = "second", ttlMs = 600_000 }, Owner), HttpStatusCode.Created);
        var held = await Post(client, $"/v1/lockspaces/{Space}/locks", new { sessionId = session, resource = "kept", mode = "EX" }, Owner);
        AssertStatus(held, HttpStatusCode.OK);
        var lockId = Str(held.Body, "lockId");
        var released = await Post(client, $"/v1/lockspaces/{Space}/locks", new { sessionId = session, resource = "released", mode = "EX" }, Owner);
        AssertStatus(released, HttpStatusCode.OK);
        // The unlock names no session; its retry after the faults must get this very reply.
        var unlock = new { requestId = 7 };
        var first = await Delete(client, $"/v1/lockspaces/{Space}/locks/{Str(released.Body, "lockId")}", unlock, Owner);
        AssertStatus(first, HttpStatusCode.OK);

        // Enough entries for every node to take snapshots.
        var churn = Str((await Post(client, "/v1/sessions", new { name = "churn", ttlMs = 600_000 }, Admin)).Body, "sessionId");
        for (var i = 0; i < 25; i++)
        {
            var taken = await Post(client, $"/v1/lockspaces/{Space}/locks", new { sessionId = churn, resource = "churn", mode = "EX" }, Admin);
            AssertStatus(taken, HttpStatusCode.OK);
            AssertStatus(await Delete(client, $"/v1/lockspaces/{Space}/locks/{Str(taken.Body, "lockId")}", null, Admin), HttpStatusCode.OK);
        }
        await cluster.WaitForSameStateAsync();
        await AssertOwnedAsync(client, "before the faults");

        var oldLeader = await cluster.WaitForLeaderAsync();
        cluster.Kill(oldLeader);
        client = cluster.Client(await cluster.WaitForLeaderAsync());
        await AssertOwnedAsync(client, "after a leader kill");
        var retried = await Delete(client, $"/v1/lockspaces/{Space}/locks/{Str(released.Body, "lockId")}", unlock, Owner);
        Assert.True(retried.Status == HttpStatusCode.OK && retried.Text == first.Text, $"a retried unlock without sessionId after a failover: {retried}, first {first}");
        AssertProblem(await Delete(client, $"/v1/lockspaces/{Space}/locks/{Str(released.Body, "lockId")}", unlock, Stranger), HttpStatusCode.NotFound, "NotFound");

        cluster.Start(oldLeader);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
        foreach (var id in cluster.Ids) cluster.Kill(id);
        foreach (var id in cluster.Ids) cluster.Start(id);
        client = cluster.Client(await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(60)));
        await AssertOwnedAsync(client, "after a restart of every node");
        retried = await Delete(client, $"/v1/lockspaces/{Space}/locks/{Str(released.Body, "lockId")}", unlock, Owner);
        Assert.True(retried.Status == HttpStatusCode.OK && retried.Text == first.Text, $"a retried unlock without sessionId after a restart: {retried}, first {first}");

        // A wiped follower comes back from a peer's snapshot and answers stale reads from it alone.
        var follower = await cluster.FollowerAsync();
        cluster.Kill(follower);
        cluster.Wipe(follower);
        cluster.Start(follower);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
        var seeded = cluster.Client(follower);
        AssertProblem(await Get(seeded, $"/v1/sessions/{session}?stale=true", Stranger), HttpStatusCode.NotFound, "SessionExpired");
        var own = await Get(seeded, $"/v1/sessions/{session}?stale=true", Owner);
        AssertStatus(own, HttpStatusCode.OK);
        Assert.Equal(lockId, Str(Assert.Single(own.Body!["locks"]!.AsArray()), "lockId"));
        AssertProblem(await Get(seeded, $"/v1/lockspaces/{Space}/locks/{lockId}?stale=true", Stranger), HttpStatusCode.NotFound, "NotFound");
        Assert.Equal(2, (await Get(seeded, "/v1/sessions?stale=true", Owner)).Body!["sessions"]!.AsArray().Count);
        Assert.Empty((await Get(seeded, "/v1/sessions?stale=true", Stranger)).Body!["sessions"]!.AsArray());
    }

    /// <summary>The owner's session and lock: the owner and the admin see them, the stranger as if they did not exist, and the owner's quota is still full.</summary>
    private static async Task AssertOwnedAsync(HttpClient client, string when)
    {
        var (sessionId, lockId) = await OwnedAsync(client);
        (string Path, string Unknown, string Id, string Code)[] reads =
        [
            ($"/v1/sessions/{sessionId}", "/v1/sessions/987654", sessionId, "SessionExpired"),
            ($"/v1/lockspaces/{Space}/locks/{lockId}", $"/v1/lockspaces/{Space}/locks/987654", lockId, "NotFound"),
        ];
        foreach (var (path, unknownPath, id, code) in reads)
        {
            var refused = await Get(client, path, Stranger);
            Assert.True(refused.Status == HttpStatusCode.NotFound && Api.Code(refused.Body) == code, $"{when}: {path} by another token: {refused}");
            var unknown = await Get(client, unknownPath, Stranger);
            Assert.Equal(unknown.Body?["detail"]?.GetValue<string>().Replace("987654", "ID"), refused.Body?["detail"]?.GetValue<string>().Replace(id, "ID"));
            AssertStatus(await Get(client, path, Owner), HttpStatusCode.OK);
            AssertStatus(await Get(client, path, Admin), HttpStatusCode.OK);
        }
        AssertProblem(await Post(client, $"/v1/sessions/{sessionId}/keepalive", "{}", Stranger), HttpStatusCode.NotFound, "SessionExpired");
        AssertProblem(await Delete(client, $"/v1/lockspaces/{Space}/locks/{lockId}", null, Stranger), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Delete(client, $"/v1/sessions/{sessionId}", null, Stranger), HttpStatusCode.NotFound, "SessionExpired");
        var over = await Post(client, "/v1/sessions", new { name = "third", ttlMs = 600_000 }, Owner);
        Assert.True(over.Status == HttpStatusCode.TooManyRequests && Api.Code(over.Body) == "QuotaExceeded", $"{when}: a third session of a token with a quota of 2: {over}");
    }

    /// <summary>The owner's first session (by id) and its one lock, as the owner lists them.</summary>
    private static async Task<(string SessionId, string LockId)> OwnedAsync(HttpClient client)
    {
        var listed = await Get(client, "/v1/sessions", Owner);
        AssertStatus(listed, HttpStatusCode.OK);
        var sessionId = Str(listed.Body!["sessions"]!.AsArray()[0], "sessionId");
        var view = await Get(client, $"/v1/sessions/{sessionId}", Owner);
        return (sessionId, Str(Assert.Single(view.Body!["locks"]!.AsArray()), "lockId"));
    }
}
