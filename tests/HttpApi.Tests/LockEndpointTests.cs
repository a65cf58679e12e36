using System.Diagnostics;
using System.Net;
using static RaftDlm.HttpApi.Tests.EndpointCalls;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The lock paths of the HTTP API (docs/api.md; src/HttpApi/Api/LockEndpoints.cs): requests, conversions,
/// unlocks, orphans, resource views and the fence check, with their fields and status codes, through
/// followers (which forward to the leader) and on the leader.
/// </summary>
[Collection(EndpointCluster.Name)]
public sealed class LockEndpointTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Lock_request_granted_waiting_wouldblock_get_and_delete()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(follower, "b");

        var granted = await Lock(follower, ls, a, "vol-7", "EX", requestId: 42);
        AssertStatus(granted, HttpStatusCode.OK);
        var g = granted.Body!;
        Assert.Equal("granted", Str(g, "state"));
        Assert.Equal(ls, Str(g, "lockspace"));
        Assert.Equal("vol-7", Str(g, "resource"));
        Assert.Equal(a, Str(g, "sessionId"));
        Assert.Equal("EX", Str(g, "mode"));
        Assert.True(Long(g, "fencingToken") > 0);
        Assert.Equal(8, Convert.FromBase64String(Str(g, "lvb")).Length);
        Assert.Equal(0, Long(g, "lvbSeq"));
        Assert.True(g["lvbValid"]!.GetValue<bool>());
        Assert.False(g["persistent"]!.GetValue<bool>());
        Assert.Null(g["parentLockId"]);

        // The same requestId from the same session is answered with the first reply and does nothing.
        var retried = await Lock(leader, ls, a, "vol-7", "EX", requestId: 42);
        AssertStatus(retried, HttpStatusCode.OK);
        Assert.Equal(Str(g, "lockId"), Str(retried.Body, "lockId"));
        Assert.Single((await Get(leader, $"/v1/sessions/{a}")).Body!["locks"]!.AsArray());

        AssertProblem(await Lock(follower, ls, b, "vol-7", "PR", flags: ["noQueue"]), HttpStatusCode.Conflict, "WouldBlock");
        var nl = await Lock(leader, ls, b, "vol-7", "NL", flags: ["noQueue"]);
        AssertStatus(nl, HttpStatusCode.OK);
        AssertProblem(await Lock(leader, ls, b, "vol-7", "CR", flags: ["noQueue"]), HttpStatusCode.Conflict, "WouldBlock");

        var waiting = await Lock(leader, ls, b, "vol-7", "PR");
        AssertStatus(waiting, HttpStatusCode.Accepted);
        Assert.Equal("waiting", Str(waiting.Body, "state"));
        Assert.Equal("PR", Str(waiting.Body, "requestedMode"));
        Assert.Null(waiting.Body!["mode"]);
        var waitingId = Str(waiting.Body, "lockId");

        foreach (var client in new[] { follower, leader })
        {
            var view = await Get(client, $"/v1/lockspaces/{ls}/locks/{waitingId}");
            AssertStatus(view, HttpStatusCode.OK);
            Assert.Equal("waiting", Str(view.Body, "state"));
            Assert.Equal(b, Str(view.Body, "sessionId"));
            var grantedView = await Get(client, $"/v1/lockspaces/{ls}/locks/{Str(g, "lockId")}");
            Assert.Equal("granted", Str(grantedView.Body, "state"));
            Assert.Equal(Long(g, "fencingToken"), Long(grantedView.Body, "fencingToken"));
        }

        var cancelled = await Delete(follower, $"/v1/lockspaces/{ls}/locks/{waitingId}");
        AssertStatus(cancelled, HttpStatusCode.OK);
        Assert.Equal(waitingId, Str(cancelled.Body, "lockId"));
        Assert.Equal("cancelled", Str(cancelled.Body, "state"));
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{waitingId}"), HttpStatusCode.NotFound, "NotFound");

        var released = await Delete(follower, $"/v1/lockspaces/{ls}/locks/{Str(g, "lockId")}", new { lvb = Api.Lvb(7) });
        AssertStatus(released, HttpStatusCode.OK);
        Assert.Equal("released", Str(released.Body, "state"));
        AssertProblem(await Delete(follower, $"/v1/lockspaces/{ls}/locks/{Str(g, "lockId")}"), HttpStatusCode.NotFound, "NotFound");

        // The LVB written by the unlock (kept by b's NL lock) is what the next grant reads.
        var next = await Lock(leader, ls, b, "vol-7", "PR");
        AssertStatus(next, HttpStatusCode.OK);
        Assert.Equal(7UL, Api.Counter(next.Body!["lvb"]));
        Assert.Equal(1, Long(next.Body, "lvbSeq"));
        Assert.True(Long(next.Body, "fencingToken") > Long(g, "fencingToken"));
    }

    [Fact]
    public async Task Lock_request_with_waitMs_is_answered_200_when_granted_during_the_wait_and_202_when_not()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(leader, "a");
        var b = await OpenSession(follower, "b");
        var held = await Lock(leader, ls, a, "w", "EX");
        AssertStatus(held, HttpStatusCode.OK);

        var clock = Stopwatch.StartNew();
        var stillQueued = await Lock(follower, ls, b, "w", "EX", waitMs: 600);
        Assert.True(clock.ElapsedMilliseconds >= 500, $"a 600 ms wait answered after {clock.ElapsedMilliseconds} ms");
        AssertStatus(stillQueued, HttpStatusCode.Accepted);
        Assert.Equal("waiting", Str(stillQueued.Body, "state"));
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(stillQueued.Body, "lockId")}"), HttpStatusCode.OK);

        clock.Restart();
        var pending = Lock(follower, ls, b, "w", "EX", waitMs: 20_000);
        await Task.Delay(500);
        Assert.False(pending.IsCompleted, "the lock request answered before the holder released");
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}"), HttpStatusCode.OK);
        var reply = await pending;
        Assert.True(clock.ElapsedMilliseconds < 8_000, $"answered after {clock.ElapsedMilliseconds} ms of a 20000 ms wait");
        AssertStatus(reply, HttpStatusCode.OK);
        Assert.Equal("granted", Str(reply.Body, "state"));
        Assert.Equal("EX", Str(reply.Body, "mode"));
        Assert.True(Long(reply.Body, "fencingToken") > Long(held.Body, "fencingToken"));
    }

    [Fact]
    public async Task Lock_request_closing_a_two_session_cycle_is_a_Deadlock()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(follower);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(leader, "b");
        AssertStatus(await Lock(follower, ls, a, "r1", "EX"), HttpStatusCode.OK);
        AssertStatus(await Lock(leader, ls, b, "r2", "EX"), HttpStatusCode.OK);
        var aWaits = await Lock(follower, ls, a, "r2", "EX");
        AssertStatus(aWaits, HttpStatusCode.Accepted);

        AssertProblem(await Lock(follower, ls, b, "r1", "EX"), HttpStatusCode.Conflict, "Deadlock");

        var events = await Get(leader, $"/v1/sessions/{b}/events?after=0&waitMs=2000");
        Assert.Contains(events.Body!["events"]!.AsArray(), item => Str(item, "type") == "deadlock");
        var r1 = await Get(follower, $"/v1/lockspaces/{ls}/resources/r1");
        Assert.Empty(r1.Body!["waiting"]!.AsArray());
        Assert.Equal("waiting", Str((await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(aWaits.Body, "lockId")}")).Body, "state"));
    }

    [Fact]
    public async Task Lock_request_with_a_parent_and_unlock_of_a_parent_with_children()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower);
        var parent = await Lock(follower, ls, a, "table", "PR");
        AssertStatus(parent, HttpStatusCode.OK);
        var parentId = Str(parent.Body, "lockId");
        var child = await Lock(follower, ls, a, "row-1", "EX", parent: parentId);
        AssertStatus(child, HttpStatusCode.OK);
        Assert.Equal(parentId, Str(child.Body, "parentLockId"));

        AssertProblem(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{parentId}"), HttpStatusCode.Conflict, "Conflict");
        var forced = await Delete(follower, $"/v1/lockspaces/{ls}/locks/{parentId}", new { force = true });
        AssertStatus(forced, HttpStatusCode.OK);
        Assert.Equal("released", Str(forced.Body, "state"));
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(child.Body, "lockId")}"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Lock(leader, ls, a, "row-2", "EX", parent: "999999999"), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Convert_granted_converting_cancel_and_lvb_rules()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(leader, "b");

        // Up-conversion granted in place (200) with a new token; down-conversion writing the LVB from EX (200).
        var lockA = await Lock(follower, ls, a, "c", "PR");
        var idA = Str(lockA.Body, "lockId");
        var up = await Post(follower, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "EX", requestId = 43 });
        AssertStatus(up, HttpStatusCode.OK);
        Assert.Equal("granted", Str(up.Body, "state"));
        Assert.Equal("EX", Str(up.Body, "mode"));
        Assert.True(Long(up.Body, "fencingToken") > Long(lockA.Body, "fencingToken"));
        var down = await Post(leader, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "PR", lvb = Api.Lvb(99) });
        AssertStatus(down, HttpStatusCode.OK);
        Assert.Equal("PR", Str(down.Body, "mode"));
        Assert.Equal(Long(up.Body, "fencingToken"), Long(down.Body, "fencingToken"));
        var resource = await Get(follower, $"/v1/lockspaces/{ls}/resources/c");
        Assert.Equal(99UL, Api.Counter(resource.Body!["lvb"]));
        Assert.Equal(1, Long(resource.Body, "lvbSeq"));
        Assert.True(resource.Body!["lvbValid"]!.GetValue<bool>());

        // LVB write from PR: Conflict, and nothing changes.
        AssertProblem(await Post(follower, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "NL", lvb = Api.Lvb(5) }), HttpStatusCode.Conflict, "Conflict");
        Assert.Equal("PR", Str((await Get(leader, $"/v1/lockspaces/{ls}/locks/{idA}")).Body, "mode"));
        Assert.Equal(1, Long((await Get(leader, $"/v1/lockspaces/{ls}/resources/c")).Body, "lvbSeq"));

        // A conversion that has to queue answers 202 converting, keeping its old mode; DELETE cancels it.
        var lockB = await Lock(leader, ls, b, "c", "PR");
        AssertStatus(lockB, HttpStatusCode.OK);
        var idB = Str(lockB.Body, "lockId");
        var converting = await Post(follower, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "EX" });
        AssertStatus(converting, HttpStatusCode.Accepted);
        Assert.Equal("converting", Str(converting.Body, "state"));
        Assert.Equal("PR", Str(converting.Body, "mode"));
        Assert.Equal("EX", Str(converting.Body, "requestedMode"));
        AssertProblem(await Post(leader, $"/v1/lockspaces/{ls}/locks/{idB}/convert", new { mode = "EX", flags = new[] { "noQueue" } }), HttpStatusCode.Conflict, "WouldBlock");

        var cancelled = await Delete(leader, $"/v1/lockspaces/{ls}/locks/{idA}");
        AssertStatus(cancelled, HttpStatusCode.OK);
        Assert.Equal("cancelled", Str(cancelled.Body, "state"));
        var back = await Get(follower, $"/v1/lockspaces/{ls}/locks/{idA}");
        Assert.Equal("granted", Str(back.Body, "state"));
        Assert.Equal("PR", Str(back.Body, "mode"));

        AssertProblem(await Post(leader, $"/v1/lockspaces/{ls}/locks/999999999/convert", new { mode = "NL" }), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Convert_closing_a_cycle_is_a_Deadlock_and_with_convDeadlk_is_demoted()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(leader, "b");

        // Without convDeadlk: the conversion closing the cycle is refused and keeps its granted mode.
        var a1 = Str((await Lock(follower, ls, a, "d1", "PR")).Body, "lockId");
        var b1 = Str((await Lock(leader, ls, b, "d1", "PR")).Body, "lockId");
        AssertStatus(await Post(follower, $"/v1/lockspaces/{ls}/locks/{a1}/convert", new { mode = "EX" }), HttpStatusCode.Accepted);
        AssertProblem(await Post(follower, $"/v1/lockspaces/{ls}/locks/{b1}/convert", new { mode = "EX" }), HttpStatusCode.Conflict, "Deadlock");
        var bView = await Get(leader, $"/v1/lockspaces/{ls}/locks/{b1}");
        Assert.Equal("granted", Str(bView.Body, "state"));
        Assert.Equal("PR", Str(bView.Body, "mode"));

        // With convDeadlk: the victim is demoted to NL and stays queued; the other conversion is granted.
        var a2 = Str((await Lock(follower, ls, a, "d2", "PR")).Body, "lockId");
        var b2 = Str((await Lock(leader, ls, b, "d2", "PR")).Body, "lockId");
        AssertStatus(await Post(leader, $"/v1/lockspaces/{ls}/locks/{a2}/convert", new { mode = "EX" }), HttpStatusCode.Accepted);
        var demoted = await Post(follower, $"/v1/lockspaces/{ls}/locks/{b2}/convert", new { mode = "EX", flags = new[] { "convDeadlk" } });
        AssertStatus(demoted, HttpStatusCode.Accepted);
        Assert.True(demoted.Body!["demoted"]?.GetValue<bool>() == true, "no demoted:true in " + demoted);
        Assert.Equal("converting", Str(demoted.Body, "state"));
        Assert.Equal("NL", Str(demoted.Body, "mode"));
        Assert.Equal("EX", Str(demoted.Body, "requestedMode"));
        var aView = await Get(follower, $"/v1/lockspaces/{ls}/locks/{a2}");
        Assert.Equal("granted", Str(aView.Body, "state"));
        Assert.Equal("EX", Str(aView.Body, "mode"));
        var bEvents = await Get(leader, $"/v1/sessions/{b}/events?after=0&waitMs=2000");
        Assert.Contains(bEvents.Body!["events"]!.AsArray(), item => Str(item, "type") == "demoted" && Str(item, "lockId") == b2);
    }

    [Fact]
    public async Task Lock_request_with_timeoutMs_is_cancelled_by_the_leader_and_a_waiting_call_answers_409_Timeout()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(leader, "a");
        var b = await OpenSession(follower, "b");
        AssertStatus(await Lock(leader, ls, a, "t", "EX"), HttpStatusCode.OK);

        // A waiting call learns of the timeout: 409 Timeout, long before its waitMs, and the request is gone.
        var clock = Stopwatch.StartNew();
        var timedOut = await Post(follower, $"/v1/lockspaces/{ls}/locks", new { sessionId = b, resource = "t", mode = "EX", waitMs = 20_000, timeoutMs = 300 });
        AssertProblem(timedOut, HttpStatusCode.Conflict, "Timeout");
        Assert.True(clock.ElapsedMilliseconds < 15_000, $"the timeout was answered after {clock.ElapsedMilliseconds} ms of a 20000 ms wait");
        var events = await Get(leader, $"/v1/sessions/{b}/events?after=0&waitMs=2000");
        var timeout = Assert.Single(events.Body!["events"]!.AsArray(), item => Str(item, "type") == "timeout");
        Assert.Equal("t", Str(timeout, "resource"));
        Assert.Equal("EX", Str(timeout, "mode"));
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(timeout, "lockId")}"), HttpStatusCode.NotFound, "NotFound");
        Assert.Empty((await Get(follower, $"/v1/lockspaces/{ls}/resources/t")).Body!["waiting"]!.AsArray());

        // Without waitMs the call answers 202 at once and the event tells the rest.
        var queued = await Post(leader, $"/v1/lockspaces/{ls}/locks", new { sessionId = b, resource = "t", mode = "PR", timeoutMs = 300 });
        AssertStatus(queued, HttpStatusCode.Accepted);
        var queuedId = Str(queued.Body, "lockId");
        var seen = await Get(leader, $"/v1/sessions/{b}/events?after={Long(timeout, "seq")}&waitMs=20000");
        Assert.Contains(seen.Body!["events"]!.AsArray(), item => Str(item, "type") == "timeout" && Str(item, "lockId") == queuedId);
    }

    [Fact]
    public async Task Convert_with_timeoutMs_times_out_back_to_its_granted_mode()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(leader, "b");
        var lockA = await Lock(follower, ls, a, "tc", "PR");
        AssertStatus(await Lock(leader, ls, b, "tc", "PR"), HttpStatusCode.OK);
        var idA = Str(lockA.Body, "lockId");

        var timedOut = await Post(follower, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "EX", waitMs = 20_000, timeoutMs = 300 });
        AssertProblem(timedOut, HttpStatusCode.Conflict, "Timeout");
        var back = await Get(leader, $"/v1/lockspaces/{ls}/locks/{idA}");
        Assert.Equal("granted", Str(back.Body, "state"));
        Assert.Equal("PR", Str(back.Body, "mode"));
        Assert.Equal(Long(lockA.Body, "fencingToken"), Long(back.Body, "fencingToken"));
        var events = await Get(leader, $"/v1/sessions/{a}/events?after=0&waitMs=2000");
        Assert.Contains(events.Body!["events"]!.AsArray(), item => Str(item, "type") == "timeout" && Str(item, "lockId") == idA && Str(item, "mode") == "PR");

        // A conversion granted within its timeout answers 200 as before.
        var lockB = (await Get(leader, $"/v1/lockspaces/{ls}/resources/tc")).Body!["granted"]!.AsArray().First(item => Str(item, "sessionId") == b);
        var pending = Post(follower, $"/v1/lockspaces/{ls}/locks/{idA}/convert", new { mode = "EX", waitMs = 20_000, timeoutMs = 600_000 });
        await Task.Delay(300);
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(lockB, "lockId")}"), HttpStatusCode.OK);
        var granted = await pending;
        AssertStatus(granted, HttpStatusCode.OK);
        Assert.Equal("EX", Str(granted.Body, "mode"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(3_600_001)]
    public async Task TimeoutMs_out_of_range_is_InvalidRequest(int timeoutMs)
    {
        var (leader, _) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(leader, "a");
        var held = await Lock(leader, ls, a, "tv", "PR");
        var refused = await Post(leader, $"/v1/lockspaces/{ls}/locks", new { sessionId = a, resource = "tv2", mode = "EX", timeoutMs });
        AssertProblem(refused, HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains("timeoutMs", Str(refused.Body, "detail"), StringComparison.Ordinal);
        AssertProblem(await Post(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}/convert", new { mode = "EX", timeoutMs }),
            HttpStatusCode.BadRequest, "InvalidRequest");
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/resources/tv2"), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task NoDlckWt_is_left_out_of_deadlock_detection_and_noDlckBlk_is_not_implemented()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower, "a");
        var b = await OpenSession(leader, "b");
        AssertStatus(await Lock(follower, ls, a, "n1", "EX"), HttpStatusCode.OK);
        AssertStatus(await Lock(leader, ls, b, "n2", "EX"), HttpStatusCode.OK);
        AssertStatus(await Lock(follower, ls, a, "n2", "EX"), HttpStatusCode.Accepted);
        // Without noDlckWt this request closes the cycle and is a Deadlock.
        var closing = await Lock(leader, ls, b, "n1", "EX", flags: ["noDlckWt"]);
        AssertStatus(closing, HttpStatusCode.Accepted);
        Assert.Equal("waiting", Str(closing.Body, "state"));

        var refused = await Lock(leader, ls, b, "n3", "EX", flags: ["noDlckBlk"]);
        AssertProblem(refused, HttpStatusCode.BadRequest, "InvalidRequest");
        Assert.Contains("not implemented", Str(refused.Body, "detail"), StringComparison.Ordinal);
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/resources/n3"), HttpStatusCode.NotFound, "NotFound");
    }

    [Fact]
    public async Task Orphans_adopt_and_purge()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var dying = await OpenSession(follower, "dying");
        var heir = await OpenSession(follower, "heir");

        var persistent = await Lock(follower, ls, dying, "orph", "EX", flags: ["persistent"]);
        AssertStatus(persistent, HttpStatusCode.OK);
        Assert.True(persistent.Body!["persistent"]!.GetValue<bool>());
        var orphanId = Str(persistent.Body, "lockId");
        var pw = await Lock(follower, ls, dying, "orph2", "PW", flags: ["persistent"]);
        AssertStatus(pw, HttpStatusCode.OK);
        AssertStatus(await Delete(leader, $"/v1/sessions/{dying}"), HttpStatusCode.NoContent);

        var orphan = await Get(follower, $"/v1/lockspaces/{ls}/locks/{orphanId}");
        Assert.Equal("orphan", Str(orphan.Body, "state"));
        Assert.Null(orphan.Body!["sessionId"]);
        AssertProblem(await Delete(follower, $"/v1/lockspaces/{ls}/locks/{orphanId}"), HttpStatusCode.Conflict, "Conflict");

        AssertProblem(await Post(follower, $"/v1/lockspaces/{ls}/orphans/adopt", new { sessionId = heir, resource = "orph", mode = "PR" }), HttpStatusCode.NotFound, "NotFound");
        var adopted = await Post(follower, $"/v1/lockspaces/{ls}/orphans/adopt", new { sessionId = heir, resource = "orph", mode = "EX" });
        AssertStatus(adopted, HttpStatusCode.OK);
        Assert.Equal(orphanId, Str(adopted.Body, "lockId"));
        Assert.Equal(heir, Str(adopted.Body, "sessionId"));
        Assert.Equal("granted", Str(adopted.Body, "state"));
        Assert.Equal("EX", Str(adopted.Body, "mode"));
        Assert.Equal(Long(persistent.Body, "fencingToken"), Long(adopted.Body, "fencingToken"));
        AssertProblem(await Post(leader, $"/v1/lockspaces/{ls}/orphans/adopt", new { sessionId = heir, resource = "orph", mode = "EX" }), HttpStatusCode.NotFound, "NotFound");

        // A waiter queued behind an orphan is granted when the operator purges it; the PW purge leaves the LVB invalid.
        var waiter = await Lock(leader, ls, heir, "orph2", "EX");
        AssertStatus(waiter, HttpStatusCode.Accepted);
        var purged = await Delete(follower, $"/v1/lockspaces/{ls}/orphans?resource=orph2");
        AssertStatus(purged, HttpStatusCode.NoContent);
        AssertProblem(await Get(leader, $"/v1/lockspaces/{ls}/locks/{Str(pw.Body, "lockId")}"), HttpStatusCode.NotFound, "NotFound");
        var now = await Get(follower, $"/v1/lockspaces/{ls}/locks/{Str(waiter.Body, "lockId")}");
        Assert.Equal("granted", Str(now.Body, "state"));
        Assert.False(now.Body!["lvbValid"]!.GetValue<bool>());
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/orphans?resource=nothing-here"), HttpStatusCode.NoContent);
    }

    [Theory]
    [InlineData("leader")]
    [InlineData("follower")]
    public async Task Resource_view_with_percent_encoded_names(string target)
    {
        var client = await fixture.ClientAsync(target);
        var ls = await CreateLockspace(client);
        var a = await OpenSession(client, "a");
        var b = await OpenSession(client, "b");

        AssertProblem(await Get(client, $"/v1/lockspaces/{ls}/resources/none"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Get(client, $"/v1/lockspaces/no-such-space/resources/none"), HttpStatusCode.NotFound, "NotFound");

        string[] names = ["dir/sub/file", "a b", "50%", "a%2Fb", "q?x=1#frag", "é/ü+", "/lead", "trail/"];
        foreach (var name in names)
        {
            var held = await Lock(client, ls, a, name, "PR");
            AssertStatus(held, HttpStatusCode.OK);
            Assert.Equal(name, Str(held.Body, "resource"));
            var view = await Get(client, $"/v1/lockspaces/{ls}/resources/{Uri.EscapeDataString(name)}");
            Assert.True(view.Status == HttpStatusCode.OK, $"resource '{name}' via {target}: {view}");
            Assert.Equal(name, Str(view.Body, "resource"));
            Assert.Equal(Str(held.Body, "lockId"), Str(Assert.Single(view.Body!["granted"]!.AsArray()), "lockId"));
        }
        // "dir" and "a" are other resources than "dir/sub/file" and "a%2Fb".
        AssertProblem(await Get(client, $"/v1/lockspaces/{ls}/resources/dir"), HttpStatusCode.NotFound, "NotFound");
        AssertProblem(await Get(client, $"/v1/lockspaces/{ls}/resources/a"), HttpStatusCode.NotFound, "NotFound");

        // A full view: granted, converting and waiting in order, with the LVB.
        var g = await Lock(client, ls, a, "full", "PR");
        var c = await Lock(client, ls, b, "full", "PR");
        var conv = await Post(client, $"/v1/lockspaces/{ls}/locks/{Str(c.Body, "lockId")}/convert", new { mode = "EX" });
        AssertStatus(conv, HttpStatusCode.Accepted);
        var w = await Lock(client, ls, await OpenSession(client, "c"), "full", "CW");
        AssertStatus(w, HttpStatusCode.Accepted);
        var full = await Get(client, $"/v1/lockspaces/{ls}/resources/full");
        AssertStatus(full, HttpStatusCode.OK);
        Assert.Equal("full", Str(full.Body, "resource"));
        Assert.Equal(8, Convert.FromBase64String(Str(full.Body, "lvb")).Length);
        Assert.Equal(0, Long(full.Body, "lvbSeq"));
        Assert.True(full.Body!["lvbValid"]!.GetValue<bool>());
        Assert.Equal(Str(g.Body, "lockId"), Str(Assert.Single(full.Body["granted"]!.AsArray()), "lockId"));
        Assert.Equal(Str(c.Body, "lockId"), Str(Assert.Single(full.Body["converting"]!.AsArray()), "lockId"));
        Assert.Equal(Str(w.Body, "lockId"), Str(Assert.Single(full.Body["waiting"]!.AsArray()), "lockId"));
    }

    [Fact]
    public async Task Fence_check_is_valid_while_the_token_is_held_in_a_covering_mode()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(follower);
        var held = await Lock(follower, ls, a, "fenced/x", "PW");
        AssertStatus(held, HttpStatusCode.OK);
        var token = Long(held.Body, "fencingToken");

        foreach (var client in new[] { follower, leader })
        {
            Assert.True(await Fence(client, ls, "fenced/x", token, "PW"));
            Assert.True(await Fence(client, ls, "fenced/x", token, "PR"));
            Assert.False(await Fence(client, ls, "fenced/x", token, "EX"));
            Assert.False(await Fence(client, ls, "fenced/x", token + 1000, "PW"));
            Assert.False(await Fence(client, ls, "other", token, "PW"));
            Assert.False(await Fence(client, "no-such-space", "fenced/x", token, "PW"));
        }
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}"), HttpStatusCode.OK);
        Assert.False(await Fence(follower, ls, "fenced/x", token, "PW"));
        Assert.False(await Fence(leader, ls, "fenced/x", token, "NL"));
    }
}
