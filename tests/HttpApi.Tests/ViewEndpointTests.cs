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

    [Fact]
    public async Task Wait_for_view_shows_an_orphan_holder_and_a_waiter_behind_a_waiter_also_when_stale()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var (gone, b, c) = (await OpenSession(follower, "wf-gone"), await OpenSession(follower, "wf-b"), await OpenSession(follower, "wf-c"));
        var kept = await Lock(follower, ls, gone, "r", "EX", flags: ["persistent"]);
        AssertStatus(kept, HttpStatusCode.OK);
        AssertStatus(await Delete(follower, $"/v1/sessions/{gone}"), HttpStatusCode.NoContent); // the EX lock is an orphan now
        var first = await Lock(follower, ls, b, "r", "PR", waitMs: 0);
        var second = await Lock(follower, ls, c, "r", "PR", waitMs: 0);
        AssertStatus(first, HttpStatusCode.Accepted);
        AssertStatus(second, HttpStatusCode.Accepted);
        var (orphanId, firstId, secondId) = (Str(kept.Body, "lockId"), Str(first.Body, "lockId"), Str(second.Body, "lockId"));

        // Each edge as (waiter lock, holder lock, holder session or "-" for an orphan, holder mode).
        static List<(string, string, string, string)> Edges(Reply reply) => reply.Body!["edges"]!.AsArray()
            .Select(e => (Str(e, "waiterLockId"), Str(e, "holderLockId"), e!["holderSessionId"]?.GetValue<string>() ?? "-", Str(e, "holderMode"))).ToList();
        List<(string, string, string, string)> expected =
        [
            (firstId, orphanId, "-", "EX"),   // b waits for the orphan
            (secondId, orphanId, "-", "EX"),  // c waits for the orphan...
            (secondId, firstId, b, "PR"),     // ...and, FIFO, for b's request queued ahead of it
        ];
        var linearizable = await Get(follower, $"/v1/lockspaces/{ls}/waitfor");
        AssertStatus(linearizable, HttpStatusCode.OK);
        Assert.Equal(expected, Edges(linearizable));
        Assert.All(linearizable.Body!["edges"]!.AsArray(), e => Assert.Equal("PR", Str(e, "waiterMode")));

        // Stale from the leader's own replica (it has applied everything it committed): the same graph.
        var stale = await Get(leader, $"/v1/lockspaces/{ls}/waitfor?stale=true");
        AssertStatus(stale, HttpStatusCode.OK);
        Assert.Equal(expected, Edges(stale));

        // The resources view counts the same queue.
        var resources = await Get(follower, $"/v1/lockspaces/{ls}/resources");
        var r = Assert.Single(resources.Body!["resources"]!.AsArray());
        Assert.Equal((1, 0, 2), (r!["granted"]!.GetValue<int>(), r["converting"]!.GetValue<int>(), r["waiting"]!.GetValue<int>()));
        Assert.Null(resources.Body!["next"]);
    }

    [Fact]
    public async Task A_stale_sessions_view_on_a_follower_leaves_out_time_left_and_bad_paging_is_refused()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var mine = await OpenSession(leader, "stale-view");
        // A linearizable read through the follower is answered with the leader's time left.
        var fresh = await AllSessionsAsync(follower, "&limit=1000");
        Assert.NotNull(fresh.Single(item => Str(item, "sessionId") == mine)!["ttlLeftMs"]);

        // The follower has no keep-alive clock: a stale read from it has no ttlLeftMs (and says live).
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var stale = await Get(follower, "/v1/sessions?stale=true&limit=1000");
            AssertStatus(stale, HttpStatusCode.OK);
            if (stale.Body!["sessions"]!.AsArray().SingleOrDefault(item => Str(item, "sessionId") == mine) is { } seen)
            {
                Assert.Null(seen["ttlLeftMs"]);
                Assert.Equal("live", Str(seen, "state"));
                break;
            }
            Assert.True(attempt < 49, "the follower never applied the session");
            await Task.Delay(100);
        }

        foreach (var query in new[] { "limit=abc", "limit=1.5", "limit=-3", "after=-1" })
        {
            AssertProblem(await Get(follower, $"/v1/sessions?{query}"), HttpStatusCode.BadRequest, "InvalidRequest");
        }
        var ls = await CreateLockspace(leader);
        foreach (var query in new[] { "limit=0", "limit=1001", "limit=x" })
        {
            AssertProblem(await Get(follower, $"/v1/lockspaces/{ls}/resources?{query}"), HttpStatusCode.BadRequest, "InvalidRequest");
        }
        AssertProblem(await Get(follower, "/v1/lockspaces/no-such-space/waitfor?stale=true"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Get(follower, "/v1/lockspaces/no-such-space/resources?stale=true"), HttpStatusCode.NotFound, "NotFound");
        // An empty lockspace: an empty page and no cursor; an empty graph.
        var empty = await Get(follower, $"/v1/lockspaces/{ls}/resources?limit=1000");
        AssertStatus(empty, HttpStatusCode.OK);
        Assert.Empty(empty.Body!["resources"]!.AsArray());
        Assert.Null(empty.Body!["next"]);
        var none = await Get(follower, $"/v1/lockspaces/{ls}/waitfor");
        Assert.Empty(none.Body!["edges"]!.AsArray());
        Assert.False(none.Body!["truncated"]!.GetValue<bool>());
    }

    [Fact]
    public async Task The_views_are_in_the_OpenAPI_document_with_their_operation_ids()
    {
        var (leader, _) = await fixture.NodesAsync();
        var document = await Get(leader, "/openapi/v1.json");
        AssertStatus(document, HttpStatusCode.OK);
        var paths = document.Body!["paths"]!;
        foreach (var (path, operationId) in new[] { ("/v1/sessions", "ListSessions"), ("/v1/lockspaces/{ls}/resources", "ListResources"), ("/v1/lockspaces/{ls}/waitfor", "GetWaitFor") })
        {
            var get = paths[path]?["get"];
            Assert.True(get is not null, $"GET {path} is missing from the OpenAPI document");
            Assert.Equal(operationId, Str(get, "operationId"));
            Assert.False(string.IsNullOrWhiteSpace(get!["summary"]?.GetValue<string>()), $"GET {path} has no summary");
        }
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
