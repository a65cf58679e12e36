using System.Net;
using System.Net.Http.Json;
using System.Security.Authentication;
using System.Text.Json.Nodes;
using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// TLS at both ports: HTTPS for the API (Kestrel's certificate settings), HTTPS between nodes trusting the
/// cluster's CA only, and mutual TLS on Raft, where a peer without a certificate from the cluster's CA is cut off
/// before it can say anything.
/// </summary>
public sealed class TlsTests
{
    [Fact]
    public async Task A_node_with_a_certificate_serves_https_to_clients_that_trust_its_ca_and_nothing_over_plain_http()
    {
        await using var cluster = await ServerCluster.StartAsync(1, tls: true);
        var client = cluster.Client("node1");
        Assert.StartsWith("https://", client.BaseAddress!.ToString(), StringComparison.Ordinal);
        await Api.CreateLockspaceAsync(client, "tls");
        var (status, body) = await Api.GetAsync(client, "/v1/lockspaces");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Contains("tls", body!.ToJsonString(), StringComparison.Ordinal);

        // The same port spoken to in plain HTTP gives no answer of the API.
        var plainUrl = new Uri("http://127.0.0.1:" + cluster.Member("node1").HttpPort);
        using (var plain = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = plainUrl, Timeout = TimeSpan.FromSeconds(10) })
        {
            try
            {
                using var response = await plain.GetAsync("/v1/lockspaces");
                Assert.False(response.IsSuccessStatusCode, $"plain HTTP was answered {(int)response.StatusCode}");
            }
            catch (HttpRequestException)
            {
                // Closed without an answer: as good as a refusal.
            }
        }

        // HTTPS that trusts only the system's store refuses the node's certificate.
        using var untrusting = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = client.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("/v1/lockspaces"));
        Assert.IsType<AuthenticationException>(refused.InnerException);
    }

    [Fact]
    public async Task Three_nodes_with_mutual_tls_elect_a_leader_and_a_follower_forwards_writes_over_https()
    {
        await using var cluster = await ServerCluster.StartAsync(3, tls: true);
        var follower = await cluster.FollowerAsync();
        var client = cluster.Client(follower);
        await Api.CreateLockspaceAsync(client, "mtls");
        var session = await Api.OpenSessionAsync(client);
        var (status, body) = await Api.LockAsync(client, "mtls", new { sessionId = session, resource = "r", mode = "EX" });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("granted", body!["state"]!.GetValue<string>());
        await cluster.WaitForSameStateAsync();
    }

    [Fact]
    public async Task A_follower_that_does_not_trust_the_leaders_certificate_does_not_forward_and_says_nothing_was_applied()
    {
        var otherDirectory = Path.Combine(Path.GetTempPath(), "raftdlm-tests", "other-ca-" + Guid.NewGuid().ToString("N"));
        using var otherCa = TestCertificates.Create(otherDirectory, "another CA");
        try
        {
            // Every node serves the cluster's certificates but trusts, for calls to its peers, a CA that did not issue them.
            await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string> { ["TlsCaPath"] = otherCa.CaPath }, tls: true);
            var follower = await cluster.FollowerAsync();
            var reply = await Http.Put(cluster.Client(follower), "/v1/lockspaces/refused", new { lvbBytes = 8 });
            Http.AssertProblem(reply, HttpStatusCode.ServiceUnavailable, "Unavailable");
            var (_, spaces) = await Api.GetAsync(cluster.Client(await cluster.WaitForLeaderAsync()), "/v1/lockspaces");
            Assert.DoesNotContain("refused", spaces!.ToJsonString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(otherDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task A_wiped_node_of_a_tls_cluster_fetches_a_peers_snapshot_over_https()
    {
        await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string> { ["SnapshotEveryEntries"] = "40" }, tls: true);
        var client = cluster.Client(await cluster.WaitForLeaderAsync());
        for (var i = 0; i < 60; i++) await Api.CreateLockspaceAsync(client, "seeded-" + i);
        var follower = await cluster.FollowerAsync();
        cluster.Kill(follower);
        cluster.Wipe(follower);
        cluster.Start(follower);
        await cluster.WaitForLeaderAsync();
        await cluster.WaitForSameStateAsync(TimeSpan.FromSeconds(60));
        Assert.Contains("Seeded the snapshot at index", cluster.Node(follower).Output(), StringComparison.Ordinal);
    }

    /// <summary>
    /// node1 and node2 form the cluster (a majority of three); node3's place is taken by a process with the right
    /// member list but no cluster certificate. It must never lead, never receive an entry, and never move the
    /// cluster's leader or term, while the cluster keeps committing.
    /// </summary>
    [Theory]
    [InlineData("no certificate")]
    [InlineData("another CA")]
    public async Task A_raft_peer_without_a_cluster_certificate_cannot_join_or_disturb_the_cluster(string rogueKind)
    {
        await using var cluster = await ServerCluster.StartAsync(3, tls: true, startOnly: ["node1", "node2"]);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = cluster.RunningIds.First(id => id != leader);
        var before = await ClusterViewAsync(cluster.Client(leader));
        await Api.CreateLockspaceAsync(cluster.Client(follower), "before-rogue");

        using var rogueCa = rogueKind == "another CA" ? TestCertificates.Create(cluster.Folder("rogue-ca"), "rogue CA") : null;
        var rogueMember = cluster.Member("node3") with { Scheme = rogueCa is null ? "http" : "https" };
        var members = cluster.Members.Select(member => member.Id == "node3" ? rogueMember : member).ToList();
        var arguments = new List<string> { "--ElectionTimeoutMinMs", "600", "--ElectionTimeoutMaxMs", "1200" };
        if (rogueCa is not null)
        {
            foreach (var (key, value) in rogueCa.HttpSettings("node3").Concat(rogueCa.RaftSettings("node3"))) arguments.AddRange(["--" + key, value]);
        }
        using var rogue = ServerNode.Start(rogueMember, members, cluster.Folder("rogue-data"), cluster.Folder("logs/rogue.log"), arguments);
        var rogueHandler = new SocketsHttpHandler { UseProxy = false };
        using var rogueClient = new HttpClient(rogueCa?.Trusting(rogueHandler) ?? rogueHandler) { BaseAddress = new Uri(rogueMember.HttpUrl), Timeout = TimeSpan.FromSeconds(10) };

        // Several of the rogue's election timeouts, with the cluster committing all along.
        var rogueAnswered = false;
        for (var round = 0; round < 40; round++)
        {
            await Api.CreateLockspaceAsync(cluster.Client(follower), "during-rogue-" + round);
            foreach (var id in cluster.RunningIds)
            {
                var view = await ClusterViewAsync(cluster.Client(id));
                Assert.True(view.LeaderId == leader && view.Term == before.Term,
                    $"{id} saw leader {view.LeaderId} in term {view.Term}, was {leader} in term {before.Term}\n{cluster.Diagnostics()}");
            }
            var rogueView = await TryClusterViewAsync(rogueClient);
            if (rogueView is not null)
            {
                rogueAnswered = true;
                Assert.True(rogueView.CommitIndex == 0 && rogueView.AppliedIndex == 0 && rogueView.LeaderId != "node3",
                    $"the rogue got in: {rogueView}\n{rogue.Output()}");
            }
            await Task.Delay(200);
        }

        Assert.True(rogue.Running, "the rogue exited:\n" + rogue.Output());
        Assert.True(rogueAnswered, "the rogue never answered its own HTTP API, so nothing was observed:\n" + rogue.Output());
        var after = await ClusterViewAsync(cluster.Client(leader));
        Assert.True(after.CommitIndex > before.CommitIndex, $"the cluster did not commit: {before} then {after}");
        var rogueAfter = await TryClusterViewAsync(rogueClient);
        Assert.True(rogueAfter is { CommitIndex: 0, AppliedIndex: 0 }, $"the rogue's log is not empty: {rogueAfter}");
        // The members cut the rogue off in the handshake (DotNext logs it), not later in the Raft protocol.
        Assert.Contains(cluster.RunningIds, id => cluster.Node(id).Output().Contains("TLS handshake with", StringComparison.Ordinal));
    }

    private sealed record ClusterView(string? LeaderId, long Term, long CommitIndex, long AppliedIndex);

    private static async Task<ClusterView> ClusterViewAsync(HttpClient client)
    {
        var reply = await Http.Get(client, "/v1/cluster?stale=true");
        Http.AssertStatus(reply, HttpStatusCode.OK);
        return Parse(reply.Body!);
    }

    private static async Task<ClusterView?> TryClusterViewAsync(HttpClient client)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var response = await client.GetAsync("/v1/cluster?stale=true", timeout.Token);
            return response.IsSuccessStatusCode ? Parse((await response.Content.ReadFromJsonAsync<JsonNode>(timeout.Token))!) : null;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static ClusterView Parse(JsonNode body) => new(
        body["leaderId"]?.GetValue<string>(), body["term"]!.GetValue<long>(),
        body["commitIndex"]!.GetValue<long>(), body["appliedIndex"]!.GetValue<long>());
}
