using System.Net;
using System.Net.Http.Json;
using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

/// <summary>The two fault codes of the contract: 503 Unavailable (not applied) and 504 OutcomeUnknown (retry with the same requestId).</summary>
public sealed class QuorumLossTests
{
    [Fact]
    public async Task Without_a_quorum_writes_answer_503_or_504_and_a_retried_request_id_acts_once()
    {
        await using var cluster = await ServerCluster.StartAsync(3, new Dictionary<string, string> { ["ProposalTimeoutMs"] = "2000", ["LeaderWaitMs"] = "1000" });
        var leader = await cluster.WaitForLeaderAsync();
        var client = cluster.Client(leader);
        await Api.CreateLockspaceAsync(client, "quorum");
        var session = await Api.OpenSessionAsync(client, "survivor", 60_000);
        var followers = cluster.RunningIds.Where(id => id != leader).ToList();
        foreach (var follower in followers) cluster.Kill(follower);

        // Sent once, without the retrying helper: the first answer is the one under test.
        var body = new { sessionId = session, resource = "r", mode = "EX", requestId = 77 };
        using var first = await client.PostAsJsonAsync("/v1/lockspaces/quorum/locks", body);
        var firstProblem = await first.Content.ReadFromJsonAsync<System.Text.Json.Nodes.JsonNode>();
        Assert.True(first.StatusCode is HttpStatusCode.GatewayTimeout or HttpStatusCode.ServiceUnavailable, $"answered {first.StatusCode}");
        Assert.Equal("application/problem+json", first.Content.Headers.ContentType?.MediaType);
        Assert.Equal(first.StatusCode == HttpStatusCode.GatewayTimeout ? "OutcomeUnknown" : "Unavailable", Api.Code(firstProblem));

        // Once the leader knows it has no quorum, calls are refused as not applied, with Retry-After.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        HttpResponseMessage? refused = null;
        while (DateTime.UtcNow < deadline)
        {
            refused?.Dispose();
            refused = await client.PostAsJsonAsync("/v1/lockspaces/quorum/locks", new { sessionId = session, resource = "other", mode = "EX" });
            if (refused.StatusCode == HttpStatusCode.ServiceUnavailable) break;
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused!.StatusCode);
        Assert.True(refused.Headers.RetryAfter is not null, "503 without Retry-After");
        refused.Dispose();

        foreach (var follower in followers) cluster.Start(follower);
        await cluster.WaitForLeaderAsync(TimeSpan.FromSeconds(60));
        var retryClient = cluster.Client(cluster.RunningIds.First());
        var (status, retried) = await Api.LockAsync(retryClient, "quorum", body);
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, view) = await Api.GetAsync(retryClient, $"/v1/sessions/{session}");
        var lockId = retried!["lockId"]!.GetValue<string>();
        Assert.Single(view!["locks"]!.AsArray(), item => item!["resource"]!.GetValue<string>() == "r");
        Assert.Equal(lockId, view["locks"]!.AsArray().Single(item => item!["resource"]!.GetValue<string>() == "r")!["lockId"]!.GetValue<string>());
    }
}
