using System.Net;
using static RaftDlm.HttpApi.Tests.EndpointCalls;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The lockspace paths of the HTTP API (docs/api.md; src/HttpApi/Api/LockspaceEndpoints.cs): create, list,
/// delete with and without force, through followers (which forward to the leader) and on the leader.
/// </summary>
[Collection(EndpointCluster.Name)]
public sealed class LockspaceEndpointTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Lockspace_put_list_conflict_and_delete()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = Unique("space");

        var created = await Put(follower, $"/v1/lockspaces/{ls}", new { lvbBytes = 16, lockDelayMs = 0 });
        AssertStatus(created, HttpStatusCode.Created);
        Assert.Equal(ls, Str(created.Body, "name"));
        Assert.Equal(16, Long(created.Body, "lvbBytes"));
        Assert.Equal(0, Long(created.Body, "lockDelayMs"));

        AssertStatus(await Put(leader, $"/v1/lockspaces/{ls}", new { lvbBytes = 16, lockDelayMs = 0 }), HttpStatusCode.OK);
        AssertStatus(await Put(follower, $"/v1/lockspaces/{ls}", new { lvbBytes = 16, lockDelayMs = 0 }), HttpStatusCode.OK);
        AssertProblem(await Put(follower, $"/v1/lockspaces/{ls}", new { lvbBytes = 32, lockDelayMs = 0 }), HttpStatusCode.Conflict, "Conflict");
        AssertProblem(await Put(leader, $"/v1/lockspaces/{ls}", new { lvbBytes = 16, lockDelayMs = 1000 }), HttpStatusCode.Conflict, "Conflict");

        var session = await OpenSession(leader);
        var first = await Lock(follower, ls, session, "a", "EX");
        AssertStatus(first, HttpStatusCode.OK);
        AssertStatus(await Lock(follower, ls, session, "b", "PR"), HttpStatusCode.OK);

        foreach (var client in new[] { follower, leader })
        {
            var list = await Get(client, "/v1/lockspaces");
            AssertStatus(list, HttpStatusCode.OK);
            var entry = list.Body!["lockspaces"]!.AsArray().Single(item => Str(item, "name") == ls);
            Assert.Equal(16, Long(entry, "lvbBytes"));
            Assert.Equal(0, Long(entry, "lockDelayMs"));
            Assert.Equal(2, Long(entry, "resources"));
        }

        AssertProblem(await Delete(follower, $"/v1/lockspaces/{ls}"), HttpStatusCode.Conflict, "Conflict");
        AssertStatus(await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(first.Body, "lockId")}"), HttpStatusCode.OK);

        var forced = await Delete(follower, $"/v1/lockspaces/{ls}?force=true");
        AssertStatus(forced, HttpStatusCode.NoContent);
        var list2 = await Get(follower, "/v1/lockspaces");
        Assert.DoesNotContain(list2.Body!["lockspaces"]!.AsArray(), item => Str(item, "name") == ls);
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(first.Body, "lockId")}"), HttpStatusCode.NotFound, "NotFound");
        var events = await Get(leader, $"/v1/sessions/{session}/events?after=0&waitMs=2000");
        Assert.Contains(events.Body!["events"]!.AsArray(), item => Str(item, "type") == "cancelled" && Str(item, "lockId") == Str(first.Body, "lockId"));
        Assert.Empty((await Get(follower, $"/v1/sessions/{session}")).Body!["locks"]!.AsArray());

        // An empty lockspace is deleted without force; a missing one is NotFound.
        var empty = await CreateLockspace(follower);
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{empty}"), HttpStatusCode.NoContent);
        AssertProblem(await Delete(follower, $"/v1/lockspaces/{empty}"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Lock(follower, empty, session, "x", "EX"), HttpStatusCode.NotFound, "NotFound");
    }
}
