using System.Net;
using System.Text.Json.Nodes;
using static RaftDlm.HttpApi.Tests.EndpointCalls;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The who-holds-what views (docs/api.md, "Who holds what"; src/HttpApi/Api/ViewEndpoints.cs): sessions,
/// a lockspace's resources and its wait-for graph, through a follower (relayed to the leader) and stale.
/// </summary>
[Collection(EndpointCluster.Name)]
public sealed class ViewEndpointTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Sessions_view_lists_ttl_left_state_locks_and_lockspaces_in_pages()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "view-a");
        var b = await OpenSession(follower, "view-b");
        AssertStatus(await Lock(follower, ls, a, "r1", "EX"), HttpStatusCode.OK);
        AssertStatus(await Lock(follower, ls, a, "r2", "PR"), HttpStatusCode.OK);

        var all = await AllSessionsAsync(follower, "");
        var shownA = all.Single(item => Str(item, "sessionId") == a);
        Assert.Equal("view-a", Str(shownA, "name"));
        Assert.Equal(2, shownA!["locks"]!.GetValue<int>());
        Assert.Equal([ls], shownA["lockspaces"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal("live", Str(shownA, "state"));
        var left = shownA["ttlLeftMs"]!.GetValue<int>();
        Assert.InRange(left, 1, shownA["ttlMs"]!.GetValue<int>());
        Assert.Contains(all, item => Str(item, "sessionId") == b);

        // Pages of one follow each other by id without gaps or repeats.
        var paged = await AllSessionsAsync(follower, "&limit=1");
        Assert.Equal(all.Select(item => Str(item, "sessionId")), paged.Select(item => Str(item, "sessionId")));

        // Stale, on the follower itself: same sessions; it does not know the leader's deadlines.
        var stale = await Get(follower, "/v1/sessions?stale=true&limit=1000");
        AssertStatus(stale, HttpStatusCode.OK);
        Assert.Contains(stale.Body!["sessions"]!.AsArray(), item => Str(item, "sessionId") == a);

        AssertProblem(await Get(follower, "/v1/sessions?limit=0"), HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Get(follower, "/v1/sessions?limit=1001"), HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Get(follower, "/v1/sessions?after=x"), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task Resources_view_lists_queue_lengths_by_name_with_prefix_and_pages()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "res-a");
        var b = await OpenSession(follower, "res-b");
        foreach (var name in new[] { "vol-2", "vol-1", "db" }) AssertStatus(await Lock(follower, ls, a, name, "EX"), HttpStatusCode.OK);
        AssertStatus(await Lock(follower, ls, b, "vol-1", "EX", waitMs: 0), HttpStatusCode.Accepted);

        var first = await Get(follower, $"/v1/lockspaces/{ls}/resources?prefix=vol-&limit=1");
        AssertStatus(first, HttpStatusCode.OK);
        var one = Assert.Single(first.Body!["resources"]!.AsArray());
        Assert.Equal("vol-1", Str(one, "resource"));
        Assert.Equal((1, 0, 1), (one!["granted"]!.GetValue<int>(), one["converting"]!.GetValue<int>(), one["waiting"]!.GetValue<int>()));
        Assert.Equal("vol-1", Str(first.Body, "next"));
        var second = await Get(follower, $"/v1/lockspaces/{ls}/resources?prefix=vol-&limit=1&after=vol-1");
        Assert.Equal("vol-2", Str(Assert.Single(second.Body!["resources"]!.AsArray()), "resource"));

        var everything = await Get(leader, $"/v1/lockspaces/{ls}/resources?stale=true");
        Assert.Equal(["db", "vol-1", "vol-2"], everything.Body!["resources"]!.AsArray().Select(item => Str(item, "resource")));
        Assert.Null(everything.Body!["next"]);
        AssertProblem(await Get(follower, "/v1/lockspaces/no-such-space/resources"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Get(follower, $"/v1/lockspaces/{ls}/resources?limit=-1"), HttpStatusCode.BadRequest, "InvalidRequest");
    }

    [Fact]
    public async Task Wait_for_view_shows_who_waits_for_whom()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "wf-a");
        var b = await OpenSession(follower, "wf-b");
        var held = await Lock(follower, ls, a, "r", "PR");
        var waiting = await Lock(follower, ls, b, "r", "EX", waitMs: 0);
        AssertStatus(waiting, HttpStatusCode.Accepted);

        var graph = await Get(follower, $"/v1/lockspaces/{ls}/waitfor");
        AssertStatus(graph, HttpStatusCode.OK);
        Assert.False(graph.Body!["truncated"]!.GetValue<bool>());
        var edge = Assert.Single(graph.Body!["edges"]!.AsArray());
        Assert.Equal("r", Str(edge, "resource"));
        Assert.Equal((b, Str(waiting.Body, "lockId"), "EX"), (Str(edge, "waiterSessionId"), Str(edge, "waiterLockId"), Str(edge, "waiterMode")));
        Assert.Equal((a, Str(held.Body, "lockId"), "PR"), (Str(edge, "holderSessionId"), Str(edge, "holderLockId"), Str(edge, "holderMode")));
        AssertProblem(await Get(follower, "/v1/lockspaces/no-such-space/waitfor"), HttpStatusCode.NotFound, "NotFound");
    }

    private static async Task<List<JsonNode?>> AllSessionsAsync(HttpClient client, string query)
    {
        var all = new List<JsonNode?>();
        var after = "0";
        for (var page = 0; page < 10_000; page++)
        {
            var reply = await Get(client, $"/v1/sessions?after={after}{query}");
            AssertStatus(reply, HttpStatusCode.OK);
            all.AddRange(reply.Body!["sessions"]!.AsArray());
            if (reply.Body!["next"] is not { } next) return all;
            after = next.GetValue<string>();
        }
        throw new InvalidOperationException("more pages than sessions");
    }
}
