using System.Net;
using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

public sealed class SmokeTests
{
    [Fact]
    public async Task Three_node_cluster_elects_a_leader_and_every_node_serves_a_lock()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var follower = await cluster.FollowerAsync();
        var client = cluster.Client(follower);
        await Api.CreateLockspaceAsync(client, "smoke");
        var session = await Api.OpenSessionAsync(client);
        var (status, body) = await Api.LockAsync(client, "smoke", new { sessionId = session, resource = "r", mode = "EX" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("granted", body!["state"]!.GetValue<string>());
        await cluster.WaitForSameStateAsync();
    }
}
