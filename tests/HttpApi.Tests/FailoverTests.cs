using System.Net;
using System.Text.Json.Nodes;
using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

/// <summary>Faults against real processes: kill -9 of the leader, restart of every node, a wiped follower.</summary>
public sealed class FailoverTests
{
    private const string Space = "failover";

    [Fact]
    public async Task Leader_kill_keeps_acknowledged_lvb_writes_grants_queues_and_sessions()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var entry = cluster.Client(await cluster.FollowerAsync());
        await Api.CreateLockspaceAsync(entry, Space);
        var (a, b, c) = (await Api.OpenSessionAsync(entry, "a", 4_000), await Api.OpenSessionAsync(entry, "b", 4_000), await Api.OpenSessionAsync(entry, "c", 4_000));
        await using var pump = new KeepAlivePump(cluster, a, b, c);

        var writer = await Granted(entry, new { sessionId = a, resource = "counter", mode = "EX", requestId = 1 });
        var (converted, _) = await Api.PostAsync(entry, $"/v1/lockspaces/{Space}/locks/{writer}/convert", new { mode = "EX", lvb = Api.Lvb(42), requestId = 2 });
        Assert.Equal(HttpStatusCode.OK, converted);
        var (bStatus, bLock) = await Api.LockAsync(entry, Space, new { sessionId = b, resource = "counter", mode = "EX", requestId = 1 });
        var (cStatus, cLock) = await Api.LockAsync(entry, Space, new { sessionId = c, resource = "counter", mode = "PR", requestId = 1 });
        Assert.Equal(HttpStatusCode.Accepted, bStatus);
        Assert.Equal(HttpStatusCode.Accepted, cStatus);

        var oldLeader = await cluster.WaitForLeaderAsync();
        cluster.Kill(oldLeader);
        var newLeader = await cluster.WaitForLeaderAsync();
        Assert.NotEqual(oldLeader, newLeader);
        var survivor = cluster.Client(cluster.RunningIds.First(id => id != newLeader));

        // Outlast the TTL on the new leader: the grace period and the pump keep every session alive.
        await Task.Delay(5_000);
        foreach (var session in new[] { a, b, c })
        {
            Assert.Equal(HttpStatusCode.OK, (await Api.GetAsync(survivor, $"/v1/sessions/{session}")).Status);
        }
        var (_, resource) = await Api.GetAsync(survivor, $"/v1/lockspaces/{Space}/resources/counter");
        Assert.Equal(42UL, Api.Counter(resource!["lvb"]));
        Assert.Equal(writer, resource["granted"]![0]!["lockId"]!.GetValue<string>());
        Assert.Equal([bLock!["lockId"]!.GetValue<string>(), cLock!["lockId"]!.GetValue<string>()],
            resource["waiting"]!.AsArray().Select(item => item!["lockId"]!.GetValue<string>()));

        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(survivor, HttpMethod.Delete, $"/v1/lockspaces/{Space}/locks/{writer}", new { lvb = Api.Lvb(43), requestId = 3 })).Status);
        var bGranted = await NextEvent(survivor, b, "granted");
        Assert.Equal(bLock["lockId"]!.GetValue<string>(), bGranted["lockId"]!.GetValue<string>());
        Assert.Equal(43UL, Api.Counter(bGranted["lvb"]));
        Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(survivor, HttpMethod.Delete, $"/v1/lockspaces/{Space}/locks/{bGranted["lockId"]}", new { requestId = 2 })).Status);
        var cGranted = await NextEvent(survivor, c, "granted");
        Assert.Equal("PR", cGranted["mode"]!.GetValue<string>());
        Assert.True(cGranted["fencingToken"]!.GetValue<long>() > bGranted["fencingToken"]!.GetValue<long>());
        Assert.Empty(pump.Expired);

        cluster.Start(oldLeader);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Restart_of_all_nodes_keeps_everything()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var client = cluster.Client(await cluster.WaitForLeaderAsync());
        await Api.CreateLockspaceAsync(client, Space, lvbBytes: 16);
        var session = await Api.OpenSessionAsync(client, "durable", 20_000);
        var holder = await Granted(client, new { sessionId = session, resource = "kept", mode = "PW", requestId = 1 });
        var lvb = Convert.ToBase64String(Enumerable.Range(1, 16).Select(i => (byte)i).ToArray());
        Assert.Equal(HttpStatusCode.OK, (await Api.PostAsync(client, $"/v1/lockspaces/{Space}/locks/{holder}/convert", new { mode = "PW", lvb, requestId = 2 })).Status);
        await cluster.WaitForSameStateAsync();

        foreach (var id in cluster.Ids) cluster.Kill(id);
        foreach (var id in cluster.Ids) cluster.Start(id);
        var leader = await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(60));
        client = cluster.Client(leader);

        var (status, view) = await Api.GetAsync(client, $"/v1/sessions/{session}");
        Assert.True(status == HttpStatusCode.OK, $"{status}: {view}");
        var kept = Assert.Single(view!["locks"]!.AsArray())!;
        Assert.Equal(holder, kept["lockId"]!.GetValue<string>());
        Assert.Equal("PW", kept["mode"]!.GetValue<string>());
        Assert.Equal(lvb, kept["lvb"]!.GetValue<string>());
        var (_, spaces) = await Api.GetAsync(client, "/v1/lockspaces");
        Assert.Equal(16, spaces!["lockspaces"]![0]!["lvbBytes"]!.GetValue<int>());
        await cluster.WaitForSameStateAsync();
    }

    /// <summary>
    /// With seeding (the default) the wiped node fetches a peer's snapshot over HTTP before Raft starts;
    /// without it, Raft installs the leader's snapshot itself. Either way it ends identical to the others.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Wiped_follower_rejoins_from_a_snapshot_with_identical_state(bool seedFromPeers)
    {
        await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string>
        {
            ["SnapshotEveryEntries"] = "40",
            ["SeedFromPeers"] = seedFromPeers ? "true" : "false",
        });
        var client = cluster.Client(await cluster.WaitForLeaderAsync());
        await Api.CreateLockspaceAsync(client, Space);
        var session = await Api.OpenSessionAsync(client, "writer", 30_000);
        var keeper = await Granted(client, new { sessionId = session, resource = "counter", mode = "NL", requestId = 1 });
        for (var i = 1; i <= 60; i++)
        {
            var held = await Granted(client, new { sessionId = session, resource = "counter", mode = "EX", requestId = 10 + (2 * i) });
            Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(client, HttpMethod.Delete, $"/v1/lockspaces/{Space}/locks/{held}", new { lvb = Api.Lvb((ulong)i), requestId = 11 + (2 * i) })).Status);
        }
        var follower = await cluster.FollowerAsync();
        cluster.Kill(follower);
        cluster.Wipe(follower);
        cluster.Start(follower);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
        var (_, resource) = await Api.GetAsync(cluster.Client(follower), $"/v1/lockspaces/{Space}/resources/counter?stale=true");
        Assert.Equal(60UL, Api.Counter(resource!["lvb"]));
        var output = cluster.Node(follower).Output();
        Assert.Contains("restored", output, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(seedFromPeers, output.Contains("Seeded the snapshot at index", StringComparison.Ordinal));
        _ = keeper;
    }

    private static async Task<string> Granted(HttpClient client, object request)
    {
        var (status, body) = await Api.LockAsync(client, Space, request);
        Assert.True(status == HttpStatusCode.OK, $"lock answered {status}: {body}");
        return body!["lockId"]!.GetValue<string>();
    }

    /// <summary>The first event of a type for a session, by long-poll (bounded).</summary>
    private static async Task<JsonNode> NextEvent(HttpClient client, string session, string type)
    {
        var after = 0L;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            var (status, page) = await Api.GetAsync(client, $"/v1/sessions/{session}/events?after={after}&waitMs=5000");
            Assert.Equal(HttpStatusCode.OK, status);
            foreach (var item in page!["events"]!.AsArray())
            {
                if (item!["type"]!.GetValue<string>() == type) return item;
                after = item["seq"]!.GetValue<long>();
            }
        }
        throw new TimeoutException($"no {type} event for session {session}");
    }
}
