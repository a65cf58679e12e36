using System.Net;
using static RaftDlm.HttpApi.Tests.EndpointCalls;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The session paths of the HTTP API (docs/api.md; src/HttpApi/Api/SessionEndpoints.cs): create, keep-alive,
/// view, close, events, with their fields and status codes, through followers (which forward to the leader)
/// and on the leader.
/// </summary>
[Collection(EndpointCluster.Name)]
public sealed class SessionEndpointTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Session_create_keepalive_get_delete_and_expired_answers()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);

        var created = await Post(follower, "/v1/sessions", new { name = "node-a", ttlMs = 10_000 });
        AssertStatus(created, HttpStatusCode.Created);
        var sessionId = Str(created.Body, "sessionId");
        Assert.False(string.IsNullOrEmpty(sessionId));
        Assert.Equal(10_000, Long(created.Body, "ttlMs"));

        foreach (var client in new[] { follower, leader })
        {
            var alive = await Post(client, $"/v1/sessions/{sessionId}/keepalive");
            AssertStatus(alive, HttpStatusCode.OK);
            Assert.Equal(10_000, Long(alive.Body, "ttlMs"));
        }

        var locked = await Lock(follower, ls, sessionId, "r1", "EX");
        AssertStatus(locked, HttpStatusCode.OK);
        var lockId = Str(locked.Body, "lockId");

        foreach (var client in new[] { follower, leader })
        {
            var view = await Get(client, $"/v1/sessions/{sessionId}");
            AssertStatus(view, HttpStatusCode.OK);
            Assert.Equal(sessionId, Str(view.Body, "sessionId"));
            Assert.Equal("node-a", Str(view.Body, "name"));
            Assert.Equal(10_000, Long(view.Body, "ttlMs"));
            var locks = view.Body!["locks"]!.AsArray();
            var only = Assert.Single(locks);
            Assert.Equal(lockId, Str(only, "lockId"));
            Assert.Equal("r1", Str(only, "resource"));
            Assert.Equal(ls, Str(only, "lockspace"));
            Assert.Equal("granted", Str(only, "state"));
            Assert.Equal("EX", Str(only, "mode"));
        }

        var closed = await Delete(follower, $"/v1/sessions/{sessionId}");
        AssertStatus(closed, HttpStatusCode.NoContent);
        Assert.Equal("", closed.Text);

        // Its non-persistent lock is released with it.
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{lockId}"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Get(follower, $"/v1/lockspaces/{ls}/resources/r1"), HttpStatusCode.NotFound, "NotFound");

        foreach (var client in new[] { follower, leader })
        {
            AssertProblem(await Post(client, $"/v1/sessions/{sessionId}/keepalive"), HttpStatusCode.NotFound, "SessionExpired");
            AssertProblem(await Get(client, $"/v1/sessions/{sessionId}"), HttpStatusCode.NotFound, "SessionExpired");
            AssertProblem(await Get(client, $"/v1/sessions/{sessionId}/events?after=0&waitMs=0"), HttpStatusCode.NotFound, "SessionExpired");
            AssertProblem(await Lock(client, ls, sessionId, "r2", "EX"), HttpStatusCode.NotFound, "SessionExpired");
        }
        AssertProblem(await Post(leader, "/v1/sessions/987654321/keepalive"), HttpStatusCode.NotFound, "SessionExpired");
        AssertProblem(await Get(follower, "/v1/sessions/987654321"), HttpStatusCode.NotFound, "SessionExpired");
    }

    [Fact]
    public async Task Session_events_report_blocking_and_granted_with_their_fields()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader, lvbBytes: 16);
        var holder = await OpenSession(follower, "holder");
        var waiter = await OpenSession(leader, "waiter");

        var held = await Lock(follower, ls, holder, "ev", "EX");
        AssertStatus(held, HttpStatusCode.OK);
        var queued = await Lock(leader, ls, waiter, "ev", "PR");
        AssertStatus(queued, HttpStatusCode.Accepted);
        var waitingId = Str(queued.Body, "lockId");

        var blocking = await Get(follower, $"/v1/sessions/{holder}/events?after=0&waitMs=5000");
        AssertStatus(blocking, HttpStatusCode.OK);
        var blockEvent = Assert.Single(blocking.Body!["events"]!.AsArray());
        Assert.Equal("blocking", Str(blockEvent, "type"));
        Assert.Equal(ls, Str(blockEvent, "lockspace"));
        Assert.Equal(Str(held.Body, "lockId"), Str(blockEvent, "lockId"));
        Assert.Equal("ev", Str(blockEvent, "resource"));
        Assert.Equal("PR", Str(blockEvent, "blockedMode"));
        Assert.Equal(Long(blockEvent, "seq"), Long(blocking.Body, "lastSeq"));

        var released = await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}");
        AssertStatus(released, HttpStatusCode.OK);

        var granted = await Get(follower, $"/v1/sessions/{waiter}/events?after=0&waitMs=5000");
        AssertStatus(granted, HttpStatusCode.OK);
        var grant = Assert.Single(granted.Body!["events"]!.AsArray());
        Assert.Equal("granted", Str(grant, "type"));
        Assert.Equal(waitingId, Str(grant, "lockId"));
        Assert.Equal("PR", Str(grant, "mode"));
        Assert.True(Long(grant, "fencingToken") > Long(held.Body, "fencingToken"));
        Assert.Equal(16, Convert.FromBase64String(Str(grant, "lvb")).Length);
        Assert.Equal(0, Long(grant, "lvbSeq"));
        Assert.True(grant!["lvbValid"]!.GetValue<bool>());
        Assert.Null(grant["blockedMode"]);

        // Nothing newer than the last event: an empty list with the same lastSeq.
        var lastSeq = Long(granted.Body, "lastSeq");
        var none = await Get(leader, $"/v1/sessions/{waiter}/events?after={lastSeq}&waitMs=0");
        AssertStatus(none, HttpStatusCode.OK);
        Assert.Empty(none.Body!["events"]!.AsArray());
        Assert.Equal(lastSeq, Long(none.Body, "lastSeq"));
    }
}
