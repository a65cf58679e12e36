namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class FlagTests
{
    [Fact]
    public void NoQueue_fails_with_WouldBlock_and_creates_nothing()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        Assert.Equal(ErrorCode.WouldBlock, Assert.IsType<ErrorResult>(harness.TryLock(b, "r", LockMode.PR, LockFlags.NoQueue)).Code);
        Assert.Empty(harness.Resource("r")!.Waiting);
        Assert.Empty(harness.Machine.GetSession(b)!.Locks);
    }

    [Fact]
    public void NoQueue_conversion_that_fails_keeps_its_old_mode()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var mine = harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.PR);
        var result = harness.TryConvert(mine.LockId, LockMode.EX, flags: LockFlags.NoQueue);
        Assert.Equal(ErrorCode.WouldBlock, Assert.IsType<ErrorResult>(result).Code);
        var after = harness.Get(mine.LockId);
        Assert.Equal(LockViewState.Granted, after.State);
        Assert.Equal(LockMode.PR, after.Mode);
    }

    [Fact]
    public void NoQueueBast_notifies_the_holders_while_NoQueue_alone_does_not()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        harness.TryLock(b, "r", LockMode.PR, LockFlags.NoQueue);
        Assert.Empty(harness.Events(a, EventType.Blocking));
        harness.TryLock(b, "r", LockMode.PR, LockFlags.NoQueue | LockFlags.NoQueueBast);
        var blocking = Assert.Single(harness.Events(a, EventType.Blocking));
        Assert.Equal(LockMode.PR, blocking.BlockedMode);
    }

    [Fact]
    public void NoQueueBast_alone_is_refused_as_invalid()
    {
        var harness = new Harness();
        var a = harness.Session();
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "r", LockMode.EX, LockFlags.NoQueueBast)).Code);
    }

    [Fact]
    public void QueCvt_upward_conversion_queues_behind_earlier_conversions()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.NL);
        var second = harness.Lock(b, "r", LockMode.NL);
        harness.Lock(c, "r", LockMode.PR);
        Assert.Equal(LockViewState.Converting, harness.Convert(first.LockId, LockMode.EX).Lock.State);
        // NL -> CR fits beside every holder, but quecvt makes it wait behind the earlier conversion.
        Assert.Equal(LockViewState.Converting, harness.Convert(second.LockId, LockMode.CR, flags: LockFlags.QueCvt).Lock.State);
        Assert.Equal([first.LockId, second.LockId], harness.Resource("r")!.Converting.Select(item => item.LockId));
    }

    [Fact]
    public void Without_QueCvt_the_same_conversion_is_granted_in_place()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.NL);
        var second = harness.Lock(b, "r", LockMode.NL);
        harness.Lock(c, "r", LockMode.PR);
        harness.Convert(first.LockId, LockMode.EX);
        Assert.Equal(LockViewState.Granted, harness.Convert(second.LockId, LockMode.CR).Lock.State);
    }

    [Fact]
    public void Expedite_grants_an_NL_request_ignoring_the_queues()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        harness.Lock(b, "r", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "r", LockMode.NL).State);
        Assert.Equal(LockViewState.Granted, harness.Lock(c, "r", LockMode.NL, LockFlags.Expedite).State);
    }

    [Fact]
    public void Expedite_is_only_valid_for_NL()
    {
        var harness = new Harness();
        var a = harness.Session();
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "r", LockMode.PR, LockFlags.Expedite)).Code);
    }

    [Fact]
    public void HeadQue_enqueues_at_the_head_of_the_waiting_queue()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var early = harness.Lock(b, "r", LockMode.EX);
        var urgent = harness.Lock(c, "r", LockMode.EX, LockFlags.HeadQue);
        Assert.Equal([urgent.LockId, early.LockId], harness.Resource("r")!.Waiting.Select(item => item.LockId));
        harness.Unlock(holder.LockId);
        Assert.Equal(urgent.LockId, Assert.Single(harness.Resource("r")!.Granted).LockId);
    }

    [Fact]
    public void HeadQue_request_compatible_with_holders_is_granted_ahead_of_blocked_waiters()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.EX);
        Assert.Equal(LockViewState.Granted, harness.Lock(c, "r", LockMode.PR, LockFlags.HeadQue).State);
    }

    [Fact]
    public void NoOrder_is_granted_as_soon_as_compatible_ignoring_the_queue()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "r", LockMode.PR).State);
        Assert.Equal(LockViewState.Granted, harness.Lock(c, "r", LockMode.CR, LockFlags.NoOrder).State);
    }

    [Fact]
    public void Queued_NoOrder_request_is_granted_past_a_blocked_head()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var exWaiter = harness.Lock(b, "r", LockMode.EX);
        var reader = harness.Lock(c, "r", LockMode.CR, LockFlags.NoOrder);
        Assert.Equal(LockViewState.Waiting, reader.State);
        harness.Convert(holder.LockId, LockMode.PR);
        Assert.Equal(LockViewState.Granted, harness.Get(reader.LockId).State);
        Assert.Equal(LockViewState.Waiting, harness.Get(exWaiter.LockId).State);
    }

    [Theory]
    [InlineData(LockFlags.AltPr, LockMode.PR)]
    [InlineData(LockFlags.AltCw, LockMode.CW)]
    public void Alternate_mode_is_granted_when_the_requested_mode_cannot_be(LockFlags flag, LockMode alternate)
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", alternate);
        var granted = harness.Lock(b, "r", LockMode.EX, flag);
        Assert.Equal(LockViewState.Granted, granted.State);
        Assert.Equal(alternate, granted.Mode);
    }

    [Fact]
    public void Alternate_mode_that_cannot_be_granted_either_queues_the_original_request()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var waiter = harness.Lock(b, "r", LockMode.PW, LockFlags.AltPr);
        Assert.Equal(LockViewState.Waiting, waiter.State);
        Assert.Equal(LockMode.PW, waiter.RequestedMode);
        harness.Convert(holder.LockId, LockMode.PR);
        Assert.Equal(LockMode.PR, harness.Get(waiter.LockId).Mode);
        Assert.Equal(LockMode.PR, Assert.Single(harness.Events(b, EventType.Granted)).Mode);
    }

    [Fact]
    public void Conversion_flags_are_refused_on_new_requests_and_request_flags_on_unlock()
    {
        var harness = new Harness();
        var a = harness.Session();
        foreach (var flag in new[] { LockFlags.QueCvt, LockFlags.ConvDeadlk, LockFlags.IvValBlk, (LockFlags)0x8000 })
        {
            Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "r", LockMode.EX, flag)).Code);
        }
        var mine = harness.Lock(a, "r", LockMode.EX);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryConvert(mine.LockId, LockMode.PR, flags: LockFlags.Persistent)).Code);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryUnlock(mine.LockId, flags: LockFlags.NoQueue)).Code);
        Assert.True(harness.Exists(mine.LockId));
    }
}
