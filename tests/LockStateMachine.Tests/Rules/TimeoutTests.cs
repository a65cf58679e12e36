namespace RaftDlm.LockStateMachine.Tests.Rules;

/// <summary>Wait timeouts (TIMEOUT), noDlckWt and the refused noDlckBlk.</summary>
public sealed class TimeoutTests
{
    private static Result LockWithTimeout(Harness harness, long session, string resource, LockMode mode, int timeoutMs, LockFlags flags = LockFlags.None) =>
        harness.Apply(new RequestLock(session, 0, Harness.Space, resource, mode, 0, flags, timeoutMs));

    private static Result ConvertWithTimeout(Harness harness, long lockId, LockMode mode, int timeoutMs, LockFlags flags = LockFlags.None) =>
        harness.Apply(new ConvertLock(0, 0, Harness.Space, lockId, mode, null, flags, timeoutMs));

    [Fact]
    public void Waiter_still_queued_at_its_deadline_is_cancelled_with_a_timeout_event()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        var waiter = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.PR, 2_000)).Lock;
        Assert.Equal(LockViewState.Waiting, waiter.State);
        Assert.Equal(102_000, harness.Machine.NextTimeoutDueMs);
        Assert.Equal(102_000, harness.Machine.NextTickDueMs);

        harness.NowMs = 101_999;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal(LockViewState.Waiting, harness.Get(waiter.LockId).State);
        harness.NowMs = 102_000;
        harness.Ok<DoneResult>(new Tick());

        Assert.False(harness.Exists(waiter.LockId));
        var timeout = Assert.Single(harness.Events(b, EventType.Timeout));
        Assert.Equal(waiter.LockId, timeout.LockId);
        Assert.Equal(LockMode.PR, timeout.Mode);
        Assert.Equal("r", timeout.Resource);
        Assert.Null(harness.Machine.NextTimeoutDueMs);
        Assert.Empty(harness.Resource("r")!.Waiting);
    }

    [Fact]
    public void Any_entry_past_the_deadline_cancels_before_its_own_command_applies()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var waiter = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, 1_000)).Lock;
        harness.NowMs = 101_000;
        // The unlock frees the resource, but the waiter's deadline came first: it is not granted.
        harness.Unlock(holder.LockId);
        Assert.False(harness.Exists(waiter.LockId));
        Assert.Single(harness.Events(b, EventType.Timeout));
        Assert.Empty(harness.Events(b, EventType.Granted));
    }

    [Fact]
    public void Timed_out_conversion_keeps_its_granted_mode()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        var mine = harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.PR);
        var converting = Assert.IsType<LockResult>(ConvertWithTimeout(harness, mine.LockId, LockMode.EX, 500)).Lock;
        Assert.Equal(LockViewState.Converting, converting.State);

        harness.NowMs = 100_500;
        harness.Ok<DoneResult>(new Tick());

        var after = harness.Get(mine.LockId);
        Assert.Equal(LockViewState.Granted, after.State);
        Assert.Equal(LockMode.PR, after.Mode);
        Assert.Null(after.RequestedMode);
        Assert.Equal(mine.FencingToken, after.FencingToken);
        var timeout = Assert.Single(harness.Events(a, EventType.Timeout));
        Assert.Equal(LockMode.PR, timeout.Mode);
        Assert.Empty(harness.Resource("r")!.Converting);
    }

    [Fact]
    public void Grant_before_the_deadline_cancels_nothing_later()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var waiter = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, 1_000)).Lock;
        harness.NowMs = 100_999;
        harness.Unlock(holder.LockId);
        Assert.Equal(LockViewState.Granted, harness.Get(waiter.LockId).State);
        Assert.Null(harness.Machine.NextTimeoutDueMs);

        harness.NowMs = 200_000;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal(LockViewState.Granted, harness.Get(waiter.LockId).State);
        Assert.Empty(harness.Events(b, EventType.Timeout));
    }

    [Fact]
    public void Request_granted_at_once_keeps_no_deadline()
    {
        var harness = new Harness(startMs: 100_000);
        var a = harness.Session();
        var granted = Assert.IsType<LockResult>(LockWithTimeout(harness, a, "r", LockMode.EX, 1_000)).Lock;
        Assert.Equal(LockViewState.Granted, granted.State);
        Assert.Null(harness.Machine.NextTimeoutDueMs);
    }

    [Fact]
    public void Unlocked_or_expired_waiters_leave_no_deadline_behind()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        var cancelled = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, 1_000)).Lock;
        Assert.IsType<LockResult>(LockWithTimeout(harness, c, "r", LockMode.EX, 2_000));
        harness.Unlock(cancelled.LockId);
        Assert.Equal(102_000, harness.Machine.NextTimeoutDueMs);
        harness.Ok<DoneResult>(new ExpireSession(c));
        Assert.Null(harness.Machine.NextTimeoutDueMs);
    }

    [Fact]
    public void Deadline_survives_a_snapshot_and_fires_the_same_way()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        var waiter = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, 3_000)).Lock;

        var restored = LockMachine.Restore(harness.Machine.WriteSnapshot());
        Assert.Equal(harness.Machine.StateHash(), restored.StateHash());
        Assert.Equal(103_000, restored.NextTimeoutDueMs);

        harness.NowMs = 103_000;
        var tick = new LogEntry(harness.LastIndex + 1, 103_000, new Tick());
        harness.Machine.Apply(tick);
        restored.Apply(tick);
        Assert.Null(restored.GetLock(Harness.Space, waiter.LockId));
        Assert.Equal(harness.Machine.StateHash(), restored.StateHash());
    }

    [Fact]
    public void Timeouts_due_together_cancel_in_deadline_then_lock_order()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        harness.Lock(a, "s", LockMode.EX);
        var late = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, 2_000)).Lock;
        var early = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "s", LockMode.EX, 1_000)).Lock;
        harness.NowMs = 105_000;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal([early.LockId, late.LockId], harness.Events(b, EventType.Timeout).Select(item => item.LockId).ToArray());
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(CommandShape.MaxTimeoutMs + 1)]
    [InlineData(int.MaxValue)]
    public void TimeoutMs_out_of_bounds_is_refused(int timeoutMs)
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "held", LockMode.PR);
        var refused = Assert.IsType<ErrorResult>(LockWithTimeout(harness, a, "r", LockMode.EX, timeoutMs));
        Assert.Equal(ErrorCode.InvalidRequest, refused.Code);
        Assert.Contains("timeoutMs", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(ConvertWithTimeout(harness, held.LockId, LockMode.EX, timeoutMs)).Code);
        Assert.Null(harness.Resource("r"));
        Assert.Equal(LockMode.PR, harness.Get(held.LockId).Mode);
    }

    [Fact]
    public void Largest_timeoutMs_is_accepted()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        Assert.IsType<LockResult>(LockWithTimeout(harness, b, "r", LockMode.EX, CommandShape.MaxTimeoutMs));
        Assert.Equal(100_000 + CommandShape.MaxTimeoutMs, harness.Machine.NextTimeoutDueMs);
    }

    [Fact]
    public void NoDlckWt_request_is_never_the_deadlock_victim()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(a, "y", LockMode.EX).State);
        // Without the flag this request closes the cycle and is refused (see DeadlockTests).
        var closing = harness.Lock(b, "x", LockMode.EX, LockFlags.NoDlckWt);
        Assert.Equal(LockViewState.Waiting, closing.State);
        Assert.Empty(harness.Events(b, EventType.Deadlock));
    }

    [Fact]
    public void NoDlckWt_request_is_no_edge_of_a_cycle_another_request_would_close()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(a, "y", LockMode.EX, LockFlags.NoDlckWt).State);
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "x", LockMode.EX).State);
        Assert.Empty(harness.Events(b, EventType.Deadlock));
    }

    [Fact]
    public void NoDlckWt_conversion_is_left_out_of_detection()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        var second = harness.Lock(b, "r", LockMode.PR);
        harness.Convert(first.LockId, LockMode.EX);
        var result = harness.Convert(second.LockId, LockMode.EX, flags: LockFlags.NoDlckWt);
        Assert.Equal(LockViewState.Converting, result.Lock.State);
        Assert.Empty(harness.Events(b, EventType.Deadlock));
    }

    [Fact]
    public void NoDlckWt_waiter_can_still_time_out_of_a_deadlock()
    {
        var harness = new Harness(startMs: 100_000);
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        var first = harness.Lock(a, "y", LockMode.EX);
        var closing = Assert.IsType<LockResult>(LockWithTimeout(harness, b, "x", LockMode.EX, 1_000, LockFlags.NoDlckWt)).Lock;
        harness.NowMs = 101_000;
        harness.Ok<DoneResult>(new Tick());
        Assert.False(harness.Exists(closing.LockId));
        Assert.Equal(LockViewState.Waiting, harness.Get(first.LockId).State);
    }

    [Fact]
    public void NoDlckBlk_is_refused_as_not_implemented()
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "held", LockMode.PR);
        var refused = Assert.IsType<ErrorResult>(harness.TryLock(a, "r", LockMode.EX, LockFlags.NoDlckBlk));
        Assert.Equal(ErrorCode.InvalidRequest, refused.Code);
        Assert.Contains("not implemented", refused.Message, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryConvert(held.LockId, LockMode.EX, flags: LockFlags.NoDlckBlk)).Code);
        Assert.Null(harness.Resource("r"));
        Assert.Null(CommandShape.Check(new RequestLock(a, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.NoDlckWt), LockLimits.Default));
    }
}
