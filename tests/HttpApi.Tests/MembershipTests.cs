using System.Net;
using System.Text.Json.Nodes;
using RaftDlm.Testing;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The membership at run time, on real server processes: a node joins with <c>--join</c> and becomes a voter, the
/// leader removes itself, another node joins, a joined node restarts from its stored membership, and a node that
/// lost its data is readmitted instead of voting with what it forgot.
/// </summary>
public sealed class MembershipTests
{
    private const string Space = "members";

    [Fact]
    public async Task A_joined_node_votes_the_leader_can_remove_itself_and_a_joined_node_restarts_as_a_member()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var leader = await cluster.WaitForLeaderAsync();
        var client = cluster.Client(leader);
        await Api.CreateLockspaceAsync(client, Space);
        var session = await Api.OpenSessionAsync(client, "writer", 60_000);
        // An NL holder keeps the resource, and so its LVB, in the table.
        Assert.Equal(HttpStatusCode.OK, (await Api.LockAsync(client, Space, new { sessionId = session, resource = "r", mode = "NL", requestId = 3 })).Status);
        var (status, granted) = await Api.LockAsync(client, Space, new { sessionId = session, resource = "r", mode = "EX", requestId = 1 });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(client, HttpMethod.Delete, $"/v1/lockspaces/{Space}/locks/{Str(granted, "lockId")}",
            new { lvb = Api.Lvb(42), requestId = 2 })).Status);

        cluster.StartJoining("node4", leader);
        await WaitForMembersAsync(cluster, leader, ["node1", "node2", "node3", "node4"]);
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("Joined the cluster as voter node4", cluster.Node("node4").Output(), StringComparison.Ordinal);

        // The leader removes itself: the others elect a new leader, and it says why it serves nothing.
        var removed = await Delete(cluster.Client(FollowerOf(cluster, leader)), "/v1/cluster/members/" + leader);
        AssertStatus(removed, HttpStatusCode.OK);
        Assert.Equal(leader, Str(removed.Body, "id"));
        var survivors = cluster.RunningIds.Where(id => id != leader).ToList();
        var newLeader = await WaitForLeaderAmongAsync(cluster, survivors);
        var ready = await CallOnceAsync(cluster.Client(leader), HttpMethod.Get, "/readyz");
        AssertProblem(ready, HttpStatusCode.ServiceUnavailable, "Unavailable");
        Assert.Contains("removed", Str(ready.Body, "detail"), StringComparison.Ordinal);
        var refused = await CallOnceAsync(cluster.Client(leader), HttpMethod.Post, "/v1/sessions", new { name = "late", ttlMs = 10_000 });
        AssertProblem(refused, HttpStatusCode.ServiceUnavailable, "Unavailable");

        cluster.StartJoining("node5", newLeader);
        var expected = survivors.Append("node5").Order().ToArray();
        await WaitForMembersAsync(cluster, newLeader, expected);

        // A joined node's membership is its data directory's: restarted (without --join), it is a voter again.
        cluster.Kill("node4");
        cluster.Start("node4");
        await WaitForMembersAsync(cluster, newLeader, expected);
        await WaitForReadyAsync(cluster, "node4");
        var (_, resource) = await Api.GetAsync(cluster.Client("node4"), $"/v1/lockspaces/{Space}/resources/r?stale=true");
        Assert.Equal(42UL, Api.Counter(resource!["lvb"]));
        Assert.Equal(expected, (await MembersAsync(cluster, "node4")).Select(m => Str(m, "id")).ToArray());
    }

    [Fact]
    public async Task A_member_may_be_named_by_a_dns_name_resolved_when_connecting()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        var client = cluster.Client("node1");
        cluster.StartJoining("node2", "node1", host: "localhost");
        await WaitForMembersAsync(cluster, "node1", ["node1", "node2"]);
        var node2 = (await MembersAsync(cluster, "node1")).Single(m => Str(m, "id") == "node2");
        Assert.Equal($"localhost:{cluster.Member("node2").RaftPort}", Str(node2, "raftEndpoint"));

        // Two voters: every write now needs node2, which the leader reaches by resolving its name.
        await Api.CreateLockspaceAsync(client, "by-name");
        await cluster.WaitForSameStateAsync();
        Assert.Contains("by-name", (await Get(cluster.Client("node2"), "/v1/lockspaces?stale=true")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_membership_changes_are_refused_and_change_nothing()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var client = cluster.Client(await cluster.WaitForLeaderAsync());
        var node1 = cluster.Member("node1");

        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "bad id", raftEndpoint = "127.0.0.1:1", httpUrl = "http://127.0.0.1:2" }), HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "node9", raftEndpoint = "127.0.0.1", httpUrl = "http://127.0.0.1:2" }), HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "node9", raftEndpoint = "127.0.0.1:1", httpUrl = "ftp://x" }), HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "node9", raftEndpoint = "127.0.0.1:1", httpUrl = "http://127.0.0.1:2", timeoutMs = 0 }), HttpStatusCode.BadRequest, "InvalidRequest");
        // Another member's id at another address, or another id at a member's address.
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "node1", raftEndpoint = "127.0.0.1:1", httpUrl = node1.HttpUrl }), HttpStatusCode.Conflict, "Conflict");
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "node9", raftEndpoint = node1.RaftEndpoint, httpUrl = "http://127.0.0.1:2" }), HttpStatusCode.Conflict, "Conflict");
        AssertProblem(await Delete(client, "/v1/cluster/members/node9"), HttpStatusCode.NotFound, "NotFound");

        // Nothing listens there: the learner never catches up, and is not left in the membership.
        var port = RaftDlm.TestSupport.LocalPorts.Free(1)[0];
        var timedOut = await Post(client, "/v1/cluster/members", new { id = "ghost", raftEndpoint = $"127.0.0.1:{port}", httpUrl = $"http://127.0.0.1:{port}", timeoutMs = 1500 });
        AssertProblem(timedOut, HttpStatusCode.Conflict, "Timeout");
        Assert.Equal(["node1", "node2", "node3"], (await MembersAsync(cluster, cluster.Ids[0])).Select(m => Str(m, "id")).ToArray());
        await cluster.WaitForSameStateAsync();
    }

    [Fact]
    public async Task Changing_the_membership_needs_an_admin_token()
    {
        await using var cluster = await ServerCluster.StartAsync(1, new Dictionary<string, string>
        {
            ["AdminTokens:0"] = "root",
            ["LockspaceTokens:tenant"] = "a",
        }, probeToken: "root");
        var client = cluster.Client("node1");
        Assert.Equal(HttpStatusCode.OK, (await Get(client, "/v1/cluster/members", "tenant")).Status);
        AssertProblem(await Post(client, "/v1/cluster/members", new { id = "n", raftEndpoint = "127.0.0.1:1", httpUrl = "http://127.0.0.1:2" }, "tenant"), HttpStatusCode.Forbidden, "Forbidden");
        AssertProblem(await Delete(client, "/v1/cluster/members/node1", token: "tenant"), HttpStatusCode.Forbidden, "Forbidden");
        AssertProblem(await Delete(client, "/v1/cluster/members/node1", token: "root"), HttpStatusCode.Conflict, "Conflict");
    }

    /// <summary>
    /// A voter that lost its data forgot the entries it acknowledged and how it voted. Here the only other copy of
    /// the newest acknowledged entries is on a node that is down, and the third node missed them (it was paused).
    /// Were the wiped node to vote as before, it would elect the node that missed them, and those acknowledged
    /// writes would be gone. Readmitted through the join path instead, it neither votes nor counts until the
    /// cluster has a leader again and has caught it up: no leader meanwhile, and every acknowledged write survives.
    /// </summary>
    [Fact]
    public async Task A_wiped_voter_neither_votes_nor_counts_until_it_is_readmitted()
    {
        await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string> { ["JoinTimeoutMs"] = "60000" });
        var leader = await cluster.WaitForLeaderAsync();
        var others = cluster.RunningIds.Where(id => id != leader).ToList();
        var (behind, wiped) = (others[0], others[1]);
        var client = cluster.Client(leader);
        await Api.CreateLockspaceAsync(client, "before");
        await cluster.WaitForSameStateAsync();

        Assert.True(cluster.Node(behind).Pause());
        for (var i = 0; i < 5; i++) await Api.CreateLockspaceAsync(client, "acknowledged" + i);
        cluster.Kill(leader);
        cluster.Kill(wiped);
        cluster.Wipe(wiped);
        Assert.True(cluster.Node(behind).Resume());
        cluster.Start(wiped);

        // Several election timeouts (0.6–1.2 s here): the node that missed the writes is never elected (it may
        // still name the killed leader until its first election timeout).
        var deadline = DateTime.UtcNow.AddSeconds(8);
        while (DateTime.UtcNow < deadline)
        {
            foreach (var id in new[] { behind, wiped })
            {
                JsonNode? view;
                try
                {
                    view = (await Get(cluster.Client(id), "/v1/cluster")).Body;
                }
                catch (HttpRequestException) when (id == wiped)
                {
                    continue; // still probing its peers before it serves HTTP
                }
                var seen = view?["leaderId"]?.GetValue<string>();
                Assert.True(seen is null || seen == leader, $"{id} saw {seen} lead without the writes {behind} missed: {view}");
            }
            await Task.Delay(200);
        }
        var joining = await AnswerAsync(cluster, wiped, "/readyz");
        AssertProblem(joining, HttpStatusCode.ServiceUnavailable, "Unavailable");
        Assert.Contains("joining", Str(joining.Body, "detail"), StringComparison.Ordinal);

        cluster.Start(leader);
        try
        {
            await WaitForMembersAsync(cluster, await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(60)), ["node1", "node2", "node3"]);
            await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
            foreach (var id in cluster.RunningIds)
            {
                var names = (await Get(cluster.Client(id), "/v1/lockspaces?stale=true")).Text;
                for (var i = 0; i < 5; i++) Assert.Contains("acknowledged" + i, names, StringComparison.Ordinal);
            }
        }
        catch (Exception error) when (error is HttpRequestException or TimeoutException)
        {
            throw new TimeoutException(error.Message + "\n" + cluster.Diagnostics(), error);
        }
        Assert.Contains("readmitted through the join path", cluster.Node(wiped).Output(), StringComparison.Ordinal);
    }

    /// <summary>The first answer of <paramref name="id"/> to a GET of <paramref name="path"/> (it may not serve HTTP yet).</summary>
    private static async Task<Reply> AnswerAsync(ServerCluster cluster, string id, string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            try
            {
                return await CallOnceAsync(cluster.Client(id), HttpMethod.Get, path);
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }
            catch (HttpRequestException error)
            {
                throw new TimeoutException($"{id} does not answer {path}: {error.Message}\n{cluster.Diagnostics()}", error);
            }
        }
    }

    private static string FollowerOf(ServerCluster cluster, string leader) => cluster.RunningIds.First(id => id != leader);

    private static async Task<List<JsonNode>> MembersAsync(ServerCluster cluster, string id)
    {
        var reply = await Get(cluster.Client(id), "/v1/cluster/members");
        AssertStatus(reply, HttpStatusCode.OK);
        return reply.Body!["members"]!.AsArray().Select(m => m!).ToList();
    }

    /// <summary>Waits until <paramref name="id"/> lists exactly <paramref name="expected"/>, every one a voter.</summary>
    private static async Task WaitForMembersAsync(ServerCluster cluster, string id, string[] expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var members = await MembersAsync(cluster, id);
                last = string.Join(", ", members.Select(m => $"{Str(m, "id")}:{Str(m, "role")}:{Str(m, "status")}"));
                if (members.Select(m => Str(m, "id")).SequenceEqual(expected) && members.All(m => Str(m, "role") == "voter")) return;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
                last = error.Message;
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"{id} lists {last}, not {string.Join(", ", expected)}\n{cluster.Diagnostics()}");
    }

    private static async Task<string> WaitForLeaderAmongAsync(ServerCluster cluster, IReadOnlyList<string> ids)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            var leaders = new HashSet<string?>();
            foreach (var id in ids) leaders.Add((await Get(cluster.Client(id), "/v1/cluster")).Body?["leaderId"]?.GetValue<string>());
            if (leaders.Count == 1 && leaders.First() is { } leader && ids.Contains(leader)) return leader;
            await Task.Delay(100);
        }
        throw new TimeoutException("no leader among " + string.Join(", ", ids) + "\n" + cluster.Diagnostics());
    }

    private static async Task WaitForReadyAsync(ServerCluster cluster, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if ((await CallOnceAsync(cluster.Client(id), HttpMethod.Get, "/readyz")).Status == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException)
            {
                // not serving HTTP yet
            }
            await Task.Delay(100);
        }
        throw new TimeoutException(id + " is not ready\n" + cluster.Diagnostics());
    }
}
