using System.Diagnostics;
using System.Net;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Long-polls (events with waitMs, lock requests with waitMs) are answered as soon as the apply that grants
/// happens, on the leader and through a follower; with nothing to report they answer after waitMs.
/// </summary>
public sealed class LongPollTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private const int LongTtlMs = 600_000;

    /// <summary>How long the holder keeps the lock while the poll is pending.</summary>
    private const int HoldMs = 700;

    /// <summary>The poll waits this long at most; it must answer far sooner.</summary>
    private const int WaitMs = 10_000;

    private const int PromptMs = 5_000;
    private static int _names;

    [Theory]
    [InlineData("leader")]
    [InlineData("follower")]
    public async Task Events_long_poll_answers_when_another_sessions_unlock_grants_the_queued_lock(string target)
    {
        var (leader, _) = await fixture.NodesAsync();
        var client = await fixture.ClientAsync(target);
        var ls = await CreateLockspace(leader);
        var holder = await OpenSession(leader);
        var waiter = await OpenSession(client);
        var held = await EndpointCalls.Lock(leader, ls, holder, "lp", "EX");
        AssertStatus(held, HttpStatusCode.OK);
        var queued = await EndpointCalls.Lock(client, ls, waiter, "lp", "EX");
        AssertStatus(queued, HttpStatusCode.Accepted);

        var clock = Stopwatch.StartNew();
        var poll = Get(client, $"/v1/sessions/{waiter}/events?after=0&waitMs={WaitMs}", bound: TimeSpan.FromMilliseconds(WaitMs + 10_000));
        await Task.Delay(HoldMs);
        Assert.False(poll.IsCompleted, "the long-poll answered before any event existed");
        var released = clock.ElapsedMilliseconds;
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}"), HttpStatusCode.OK);

        var reply = await poll;
        var answered = clock.ElapsedMilliseconds;
        Assert.True(answered - released < PromptMs, $"the long-poll answered {answered - released} ms after the unlock (waitMs {WaitMs})");
        AssertStatus(reply, HttpStatusCode.OK);
        var granted = Assert.Single(reply.Body!["events"]!.AsArray());
        Assert.Equal("granted", Str(granted, "type"));
        Assert.Equal(Str(queued.Body, "lockId"), Str(granted, "lockId"));
        Assert.Equal("EX", Str(granted, "mode"));
        Assert.Equal(Long(granted, "seq"), Long(reply.Body, "lastSeq"));
    }

    [Theory]
    [InlineData("leader")]
    [InlineData("follower")]
    public async Task Events_long_poll_with_no_events_answers_an_empty_list_after_waitMs(string target)
    {
        var client = await fixture.ClientAsync(target);
        var session = await OpenSession(client);
        const int wait = 1_500;

        var clock = Stopwatch.StartNew();
        var reply = await Get(client, $"/v1/sessions/{session}/events?after=0&waitMs={wait}", bound: TimeSpan.FromMilliseconds(wait + 10_000));
        var elapsed = clock.ElapsedMilliseconds;

        AssertStatus(reply, HttpStatusCode.OK);
        Assert.Empty(reply.Body!["events"]!.AsArray());
        Assert.Equal(0, Long(reply.Body, "lastSeq"));
        Assert.True(elapsed >= wait - 100, $"answered after {elapsed} ms of a {wait} ms wait");
        Assert.True(elapsed < wait + PromptMs, $"answered after {elapsed} ms of a {wait} ms wait");
    }

    [Fact]
    public async Task Events_long_poll_answers_at_once_when_a_newer_event_exists_and_ignores_older_ones()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var holder = await OpenSession(follower);
        var other = await OpenSession(leader);
        AssertStatus(await EndpointCalls.Lock(leader, ls, holder, "old", "EX"), HttpStatusCode.OK);
        AssertStatus(await EndpointCalls.Lock(leader, ls, other, "old", "EX"), HttpStatusCode.Accepted);

        // The blocking event exists already: answered at once.
        var clock = Stopwatch.StartNew();
        var first = await Get(follower, $"/v1/sessions/{holder}/events?after=0&waitMs={WaitMs}", bound: TimeSpan.FromMilliseconds(WaitMs + 10_000));
        Assert.True(clock.ElapsedMilliseconds < PromptMs, $"answered after {clock.ElapsedMilliseconds} ms although an event existed");
        var blocking = Assert.Single(first.Body!["events"]!.AsArray());
        Assert.Equal("blocking", Str(blocking, "type"));

        // Asking after that event waits: the old event is not repeated.
        const int wait = 800;
        clock.Restart();
        var second = await Get(follower, $"/v1/sessions/{holder}/events?after={Long(blocking, "seq")}&waitMs={wait}", bound: TimeSpan.FromSeconds(15));
        Assert.True(clock.ElapsedMilliseconds >= wait - 100, $"answered after {clock.ElapsedMilliseconds} ms of a {wait} ms wait");
        Assert.Empty(second.Body!["events"]!.AsArray());
        Assert.Equal(Long(blocking, "seq"), Long(second.Body, "lastSeq"));
    }

    [Theory]
    [InlineData("leader")]
    [InlineData("follower")]
    public async Task Lock_request_with_waitMs_is_answered_200_as_soon_as_the_grant_happens(string target)
    {
        var (leader, _) = await fixture.NodesAsync();
        var client = await fixture.ClientAsync(target);
        var ls = await CreateLockspace(leader);
        var holder = await OpenSession(leader);
        var waiter = await OpenSession(client);
        var held = await EndpointCalls.Lock(leader, ls, holder, "lw", "PW");
        AssertStatus(held, HttpStatusCode.OK);

        var clock = Stopwatch.StartNew();
        var request = Post(
            client,
            $"/v1/lockspaces/{ls}/locks",
            new { sessionId = waiter, resource = "lw", mode = "PW", waitMs = WaitMs },
            bound: TimeSpan.FromMilliseconds(WaitMs + 10_000));
        await Task.Delay(HoldMs);
        Assert.False(request.IsCompleted, "the lock request answered while the lock was still held");
        var released = clock.ElapsedMilliseconds;
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}"), HttpStatusCode.OK);

        var reply = await request;
        var answered = clock.ElapsedMilliseconds;
        Assert.True(answered - released < PromptMs, $"the lock request answered {answered - released} ms after the unlock (waitMs {WaitMs})");
        AssertStatus(reply, HttpStatusCode.OK);
        Assert.Equal("granted", Str(reply.Body, "state"));
        Assert.Equal("PW", Str(reply.Body, "mode"));
        Assert.Equal(waiter, Str(reply.Body, "sessionId"));
    }

    [Fact]
    public async Task Convert_with_waitMs_is_answered_200_as_soon_as_the_conversion_is_granted()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var a = await OpenSession(leader);
        var b = await OpenSession(follower);
        var reader = await EndpointCalls.Lock(leader, ls, a, "cv", "PR");
        var converter = await EndpointCalls.Lock(follower, ls, b, "cv", "PR");
        AssertStatus(converter, HttpStatusCode.OK);

        var clock = Stopwatch.StartNew();
        var convert = Post(
            follower,
            $"/v1/lockspaces/{ls}/locks/{Str(converter.Body, "lockId")}/convert",
            new { mode = "EX", waitMs = WaitMs },
            bound: TimeSpan.FromMilliseconds(WaitMs + 10_000));
        await Task.Delay(HoldMs);
        Assert.False(convert.IsCompleted, "the conversion answered while a reader still held the resource");
        var released = clock.ElapsedMilliseconds;
        AssertStatus(await Delete(leader, $"/v1/lockspaces/{ls}/locks/{Str(reader.Body, "lockId")}"), HttpStatusCode.OK);

        var reply = await convert;
        Assert.True(clock.ElapsedMilliseconds - released < PromptMs, $"the conversion answered {clock.ElapsedMilliseconds - released} ms after the unlock");
        AssertStatus(reply, HttpStatusCode.OK);
        Assert.Equal("granted", Str(reply.Body, "state"));
        Assert.Equal("EX", Str(reply.Body, "mode"));
    }

    private static async Task<string> CreateLockspace(HttpClient client)
    {
        var name = $"lp-{Interlocked.Increment(ref _names)}";
        AssertStatus(await Put(client, $"/v1/lockspaces/{name}", new { lvbBytes = 8, lockDelayMs = 0 }), HttpStatusCode.Created);
        return name;
    }

    private static async Task<string> OpenSession(HttpClient client)
    {
        var reply = await Post(client, "/v1/sessions", new { name = "lp", ttlMs = LongTtlMs });
        AssertStatus(reply, HttpStatusCode.Created);
        return Str(reply.Body, "sessionId");
    }
}
