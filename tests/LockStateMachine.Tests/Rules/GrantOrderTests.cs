namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class GrantOrderTests
{
    [Fact]
    public void New_request_compatible_with_holders_is_granted_at_once()
    {
        var harness = new Harness();
        var a = harness.Session();
        var b = harness.Session();
        harness.Lock(a, "r", LockMode.PR);
        Assert.Equal(LockViewState.Granted, harness.Lock(b, "r", LockMode.PR).State);
    }

    [Fact]
    public void New_request_waits_behind_a_waiter_even_when_compatible_with_holders()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.PR);
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "r", LockMode.EX).State);
        var late = harness.Lock(c, "r", LockMode.PR);
        Assert.Equal(LockViewState.Waiting, late.State);
    }

    [Fact]
    public void New_request_waits_while_a_conversion_is_queued()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.PR);
        Assert.Equal(LockViewState.Converting, harness.Convert(first.LockId, LockMode.EX).Lock.State);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "r", LockMode.CR).State);
    }

    [Fact]
    public void Conversion_compatible_with_other_holders_is_granted_in_place_even_when_new_requests_wait()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.CR);
        harness.Lock(b, "r", LockMode.EX);
        var converted = harness.Convert(holder.LockId, LockMode.PR).Lock;
        Assert.Equal(LockViewState.Granted, converted.State);
        Assert.Equal(LockMode.PR, converted.Mode);
    }

    [Fact]
    public void Down_conversion_always_succeeds_at_once()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        harness.Lock(b, "r", LockMode.PR);
        var down = harness.Convert(holder.LockId, LockMode.NL).Lock;
        Assert.Equal(LockViewState.Granted, down.State);
        Assert.Equal(LockMode.NL, down.Mode);
    }

    [Fact]
    public void Blocked_conversion_queues_and_keeps_its_old_mode()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        harness.Lock(b, "r", LockMode.PR);
        var converting = harness.Convert(first.LockId, LockMode.EX).Lock;
        Assert.Equal(LockViewState.Converting, converting.State);
        Assert.Equal(LockMode.PR, converting.Mode);
        Assert.Equal(LockMode.EX, converting.RequestedMode);
        Assert.Equal(ErrorCode.WouldBlock, Assert.IsType<ErrorResult>(harness.TryLock(b, "r", LockMode.PW, LockFlags.NoQueue)).Code);
    }

    [Fact]
    public void Release_serves_the_converting_queue_before_the_waiting_queue()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var blocker = harness.Lock(a, "r", LockMode.EX);
        var converter = harness.Lock(b, "r", LockMode.NL);
        var waiter = harness.Lock(c, "r", LockMode.CR);
        Assert.Equal(LockViewState.Waiting, waiter.State);
        Assert.Equal(LockViewState.Converting, harness.Convert(converter.LockId, LockMode.PR).Lock.State);

        harness.Unlock(blocker.LockId);
        var granted = harness.Resource("r")!.Granted.Select(item => (item.LockId, item.Mode)).ToList();
        Assert.Equal([(converter.LockId, (LockMode?)LockMode.PR), (waiter.LockId, LockMode.CR)], granted);
    }

    [Fact]
    public void Waiting_queue_is_not_served_while_a_conversion_is_blocked()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var pr1 = harness.Lock(a, "r", LockMode.PR);
        var pr2 = harness.Lock(b, "r", LockMode.PR);
        harness.Convert(pr1.LockId, LockMode.EX);
        var waiter = harness.Lock(c, "r", LockMode.CR);
        var noop = harness.Lock(c, "other", LockMode.EX);
        harness.Unlock(noop.LockId);
        Assert.Equal(LockViewState.Waiting, harness.Get(waiter.LockId).State);
        harness.Unlock(pr2.LockId);
        Assert.Equal(LockMode.EX, harness.Get(pr1.LockId).Mode);
        Assert.Equal(LockViewState.Waiting, harness.Get(waiter.LockId).State);
    }

    [Fact]
    public void Converting_queue_stops_at_the_first_request_that_cannot_be_granted()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var holderA = harness.Lock(a, "r", LockMode.CR);
        var holderB = harness.Lock(b, "r", LockMode.CR);
        var holderC = harness.Lock(c, "r", LockMode.NL);
        var blocker = harness.Lock(harness.Session(), "r", LockMode.PR);
        Assert.Equal(LockViewState.Converting, harness.Convert(holderA.LockId, LockMode.EX).Lock.State);
        Assert.Equal(LockViewState.Converting, harness.Convert(holderC.LockId, LockMode.PW).Lock.State);
        harness.Unlock(blocker.LockId);
        // A (EX) is still blocked by B's CR; C's PW would now fit but must not overtake A.
        Assert.Equal(LockViewState.Converting, harness.Get(holderA.LockId).State);
        Assert.Equal(LockViewState.Converting, harness.Get(holderC.LockId).State);
        harness.Unlock(holderB.LockId);
        Assert.Equal(LockMode.EX, harness.Get(holderA.LockId).Mode);
        Assert.Equal(LockViewState.Converting, harness.Get(holderC.LockId).State);
    }

    [Fact]
    public void Waiting_queue_is_granted_in_fifo_order()
    {
        var harness = new Harness();
        var holder = harness.Lock(harness.Session(), "r", LockMode.EX);
        var waiters = Enumerable.Range(0, 5).Select(_ => harness.Lock(harness.Session(), "r", LockMode.EX)).ToList();
        harness.Unlock(holder.LockId);
        foreach (var waiter in waiters)
        {
            var resource = harness.Resource("r")!;
            Assert.Equal(waiter.LockId, Assert.Single(resource.Granted).LockId);
            harness.Unlock(waiter.LockId);
        }
        Assert.Null(harness.Resource("r"));
    }

    [Fact]
    public void Compatible_waiters_are_granted_together_when_the_blocker_leaves()
    {
        var harness = new Harness();
        var holder = harness.Lock(harness.Session(), "r", LockMode.EX);
        var readers = Enumerable.Range(0, 3).Select(_ => harness.Lock(harness.Session(), "r", LockMode.PR)).ToList();
        var writer = harness.Lock(harness.Session(), "r", LockMode.EX);
        var lastReader = harness.Lock(harness.Session(), "r", LockMode.PR);
        harness.Unlock(holder.LockId);
        var resource = harness.Resource("r")!;
        Assert.Equal(readers.Select(item => item.LockId), resource.Granted.Select(item => item.LockId));
        Assert.Equal([writer.LockId, lastReader.LockId], resource.Waiting.Select(item => item.LockId));
    }
}
