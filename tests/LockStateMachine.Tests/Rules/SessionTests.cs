namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class SessionTests
{
    [Fact]
    public void Open_session_deadline_is_leader_time_plus_ttl()
    {
        var harness = new Harness(startMs: 5_000);
        var opened = harness.Ok<SessionResult>(new OpenSession("n", 2_000));
        Assert.Equal(7_000, opened.DeadlineMs);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(499)]
    [InlineData(3_600_001)]
    [InlineData(-5)]
    public void Ttl_outside_the_bounds_is_invalid(int ttlMs) =>
        Assert.Equal(ErrorCode.InvalidRequest, new Harness().Fails(new OpenSession("n", ttlMs)));

    [Fact]
    public void KeepAlive_moves_the_deadline_from_the_entry_time()
    {
        var harness = new Harness(startMs: 1_000);
        var session = harness.Session(ttlMs: 1_000);
        harness.NowMs = 1_600;
        Assert.Equal(2_600, harness.Ok<SessionResult>(new KeepAlive(session)).DeadlineMs);
    }

    [Fact]
    public void Leader_time_never_goes_backwards()
    {
        var harness = new Harness(startMs: 10_000);
        var session = harness.Session(ttlMs: 1_000);
        harness.NowMs = 2_000;
        Assert.Equal(11_000, harness.Ok<SessionResult>(new KeepAlive(session)).DeadlineMs);
        Assert.Equal(10_000, harness.Machine.LastLeaderTimeMs);
    }

    [Fact]
    public void New_leader_grace_extends_every_deadline_by_a_full_ttl()
    {
        var harness = new Harness(startMs: 1_000);
        var shortLived = harness.Session(ttlMs: 1_000);
        var longLived = harness.Session(ttlMs: 60_000);
        harness.NowMs = 5_000;
        Assert.Equal(2, harness.Ok<DoneResult>(new ExtendDeadlines()).Count);
        var deadlines = harness.Machine.SessionDeadlines().ToDictionary(entry => entry.SessionId, entry => entry.DeadlineMs);
        Assert.Equal(6_000, deadlines[shortLived]);
        Assert.Equal(65_000, deadlines[longLived]);
    }

    [Fact]
    public void Close_releases_the_session_locks_and_cancels_its_requests()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var held = harness.Lock(a, "r", LockMode.EX);
        harness.Lock(b, "s", LockMode.EX);
        var waiting = harness.Lock(a, "s", LockMode.PR);
        Assert.Equal(LockViewState.Waiting, waiting.State);
        var other = harness.Lock(c, "r", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, other.State);
        harness.Ok<DoneResult>(new CloseSession(a));
        Assert.False(harness.Exists(held.LockId));
        Assert.False(harness.Exists(waiting.LockId));
        Assert.Equal(LockViewState.Granted, harness.Get(other.LockId).State);
        Assert.Null(harness.Machine.GetSession(a));
        Assert.Equal(ErrorCode.SessionExpired, harness.Fails(new KeepAlive(a)));
    }

    [Fact]
    public void Expired_session_keeps_a_tombstone_with_an_expired_event_and_refuses_commands()
    {
        var harness = new Harness();
        var a = harness.Session();
        harness.Lock(a, "r", LockMode.PR);
        harness.Ok<DoneResult>(new ExpireSession(a));
        var page = harness.Machine.GetEvents(a, 0, 10)!;
        Assert.True(page.SessionEnded);
        Assert.Equal(EventType.Expired, page.Events[^1].Type);
        Assert.Empty(harness.Machine.GetSession(a)!.Locks);
        Assert.Equal(ErrorCode.SessionExpired, Assert.IsType<ErrorResult>(harness.TryLock(a, "r", LockMode.PR)).Code);
        Assert.Equal(ErrorCode.SessionExpired, harness.Fails(new ExpireSession(a)));
        Assert.Equal(ErrorCode.SessionExpired, harness.Fails(new CloseSession(a)));
    }

    [Fact]
    public void Expiry_hands_the_lock_to_the_next_waiter()
    {
        var harness = new Harness();
        var (dead, next) = (harness.Session(), harness.Session());
        harness.Lock(dead, "r", LockMode.EX);
        var waiter = harness.Lock(next, "r", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(LockViewState.Granted, harness.Get(waiter.LockId).State);
        Assert.Single(harness.Events(next, EventType.Granted));
    }

    [Fact]
    public void Session_names_follow_the_name_rules()
    {
        var harness = new Harness();
        Assert.Equal(ErrorCode.InvalidRequest, harness.Fails(new OpenSession("", 1_000)));
        Assert.Equal(ErrorCode.InvalidRequest, harness.Fails(new OpenSession(new string('x', 65), 1_000)));
        harness.Ok<SessionResult>(new OpenSession(new string('x', 64), 1_000));
    }

    [Fact]
    public void Closing_a_session_reports_it_so_its_waiters_wake()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Ok<DoneResult>(new CloseSession(a));
        Assert.Equal([a], harness.Machine.NotifiedSessions);
        harness.Ok<SessionResult>(new KeepAlive(b));
        Assert.Empty(harness.Machine.NotifiedSessions);
    }
}
