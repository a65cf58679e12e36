namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class BoundTests
{
    [Fact]
    public void Session_bound()
    {
        var harness = new Harness(new LockLimits { MaxSessions = 2 });
        harness.Session();
        var second = harness.Session();
        Assert.Equal(ErrorCode.InvalidRequest, harness.Fails(new OpenSession("third", 1_000)));
        harness.Ok<DoneResult>(new CloseSession(second));
        harness.Session();
    }

    [Fact]
    public void Locks_per_session_bound()
    {
        var harness = new Harness(new LockLimits { MaxLocksPerSession = 2 });
        var a = harness.Session();
        harness.Lock(a, "r1", LockMode.PR);
        harness.Lock(a, "r2", LockMode.PR);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "r3", LockMode.PR)).Code);
        Assert.Null(harness.Resource("r3"));
    }

    [Fact]
    public void Resources_per_lockspace_bound()
    {
        var harness = new Harness(new LockLimits { MaxResourcesPerLockspace = 2 });
        var a = harness.Session();
        harness.Lock(a, "r1", LockMode.PR);
        harness.Lock(a, "r2", LockMode.PR);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "r3", LockMode.PR)).Code);
        Assert.Equal(LockViewState.Granted, harness.Lock(a, "r1", LockMode.PR).State);
    }

    [Fact]
    public void Queued_requests_per_resource_bound()
    {
        var harness = new Harness(new LockLimits { MaxQueuedPerResource = 2 });
        var holder = harness.Lock(harness.Session(), "r", LockMode.EX);
        harness.Lock(harness.Session(), "r", LockMode.EX);
        harness.Lock(harness.Session(), "r", LockMode.EX);
        var late = harness.Session();
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(late, "r", LockMode.EX)).Code);
        var converting = harness.Lock(late, "r", LockMode.NL, LockFlags.Expedite);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryConvert(converting.LockId, LockMode.EX)).Code);
        Assert.Equal(LockMode.NL, harness.Get(converting.LockId).Mode);
        _ = holder;
    }

    [Fact]
    public void Lockspace_bound()
    {
        var harness = new Harness(new LockLimits { MaxLockspaces = 2 });
        harness.Ok<LockspaceResult>(new CreateLockspace("second", 8, 0));
        Assert.Equal(ErrorCode.InvalidRequest, harness.Fails(new CreateLockspace("third", 8, 0)));
    }

    [Fact]
    public void Event_outbox_bound_drops_the_oldest_and_numbers_go_on()
    {
        var harness = new Harness(new LockLimits { MaxEventsPerSession = 3 });
        var (a, b) = (harness.Session(), harness.Session());
        for (var i = 0; i < 5; i++)
        {
            var holder = harness.Lock(a, "r" + i, LockMode.EX);
            harness.Lock(b, "r" + i, LockMode.EX);
            harness.Unlock(holder.LockId);
        }
        var page = harness.Machine.GetEvents(b, 0, 100)!;
        Assert.Equal([3L, 4, 5], page.Events.Select(item => item.Seq));
        Assert.Equal(5, page.LastSeq);
    }

    [Fact]
    public void Ended_session_tombstones_are_bounded()
    {
        var harness = new Harness(new LockLimits { MaxEndedSessions = 2 });
        var sessions = Enumerable.Range(0, 3).Select(_ => harness.Session()).ToList();
        foreach (var session in sessions) harness.Ok<DoneResult>(new ExpireSession(session));
        Assert.Null(harness.Machine.GetSession(sessions[0]));
        Assert.NotNull(harness.Machine.GetSession(sessions[2]));
    }

    [Fact]
    public void Resource_name_of_65_bytes_is_refused_not_truncated()
    {
        var harness = new Harness();
        var a = harness.Session();
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, new string('r', 65), LockMode.EX)).Code);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, new string('é', 33), LockMode.EX)).Code);
        Assert.Equal(LockViewState.Granted, harness.Lock(a, new string('é', 32), LockMode.EX).State);
        Assert.Equal(LockViewState.Granted, harness.Lock(a, new string('r', 64), LockMode.EX).State);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "", LockMode.EX)).Code);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "bad\ud800", LockMode.EX)).Code);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("slash/name")]
    [InlineData("ünï")]
    public void Lockspace_names_outside_the_charset_are_invalid(string name) =>
        Assert.Equal(ErrorCode.InvalidRequest, new Harness().Fails(new CreateLockspace(name, 8, 0)));

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(264)]
    public void Lvb_sizes_must_be_multiples_of_8_from_8_to_256(int lvbBytes) =>
        Assert.Equal(ErrorCode.InvalidRequest, new Harness().Fails(new CreateLockspace("x", lvbBytes, 0)));
}
