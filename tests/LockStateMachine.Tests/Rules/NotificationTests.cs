namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class NotificationTests
{
    [Fact]
    public void Granted_event_for_a_queued_request_carries_mode_token_and_value_block()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var waiter = harness.Lock(b, "r", LockMode.PR);
        harness.Unlock(holder.LockId, Harness.Lvb(41));
        var granted = Assert.Single(harness.Events(b, EventType.Granted));
        Assert.Equal(waiter.LockId, granted.LockId);
        Assert.Equal(LockMode.PR, granted.Mode);
        Assert.Equal(harness.LastIndex, granted.FencingToken);
        Assert.Equal(41UL, Harness.Counter(granted.Lvb));
        Assert.Equal(1, granted.LvbSeq);
        Assert.True(granted.LvbValid);
    }

    [Fact]
    public void Immediate_grant_sends_no_event()
    {
        var harness = new Harness();
        var a = harness.Session();
        harness.Lock(a, "r", LockMode.EX);
        Assert.Empty(harness.Events(a));
    }

    [Fact]
    public void Blocking_event_names_the_blocked_mode_and_is_sent_once_per_episode()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.PW);
        harness.Lock(b, "r", LockMode.PR);
        harness.Lock(c, "r", LockMode.PR);
        var blocking = Assert.Single(harness.Events(a, EventType.Blocking));
        Assert.Equal(holder.LockId, blocking.LockId);
        Assert.Equal(LockMode.PW, blocking.Mode);
        Assert.Equal(LockMode.PR, blocking.BlockedMode);
    }

    [Fact]
    public void Blocking_event_is_sent_again_when_a_stronger_mode_blocks()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.PW);
        harness.Lock(b, "r", LockMode.PR);
        harness.Lock(c, "r", LockMode.EX);
        Assert.Equal([LockMode.PR, LockMode.EX], harness.Events(a, EventType.Blocking).Select(item => item.BlockedMode!.Value));
    }

    [Fact]
    public void Blocking_episode_restarts_after_the_holder_converts()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var holder = harness.Lock(a, "r", LockMode.EX);
        var waiter = harness.Lock(b, "r", LockMode.EX);
        harness.Convert(holder.LockId, LockMode.PW);
        Assert.Equal(2, harness.Events(a, EventType.Blocking).Count);
        _ = waiter;
    }

    [Fact]
    public void Converting_holder_gets_no_blocking_event()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var converter = harness.Lock(a, "r", LockMode.PR);
        var reader = harness.Lock(b, "r", LockMode.PR);
        harness.Convert(converter.LockId, LockMode.EX);
        harness.Lock(c, "r", LockMode.PW);
        Assert.Empty(harness.Events(a, EventType.Blocking));
        Assert.Equal(reader.LockId, Assert.Single(harness.Events(b, EventType.Blocking)).LockId);
    }

    [Fact]
    public void Cancelling_a_waiting_request_sends_cancelled()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        var waiter = harness.Lock(b, "r", LockMode.EX);
        Assert.Equal(LockViewState.Cancelled, harness.Unlock(waiter.LockId).State);
        Assert.Equal(waiter.LockId, Assert.Single(harness.Events(b, EventType.Cancelled)).LockId);
        Assert.False(harness.Exists(waiter.LockId));
    }

    [Fact]
    public void Cancelling_a_conversion_returns_the_lock_to_its_granted_mode()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.PR);
        var mine = harness.Lock(b, "r", LockMode.PR);
        harness.Convert(mine.LockId, LockMode.EX);
        Assert.Equal(LockViewState.Cancelled, harness.Unlock(mine.LockId).State);
        var after = harness.Get(mine.LockId);
        Assert.Equal(LockViewState.Granted, after.State);
        Assert.Equal(LockMode.PR, after.Mode);
    }

    [Fact]
    public void Events_are_numbered_per_session_without_gaps()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        for (var i = 0; i < 5; i++)
        {
            var holder = harness.Lock(a, "r" + i, LockMode.EX);
            harness.Lock(b, "r" + i, LockMode.EX);
            harness.Unlock(holder.LockId);
        }
        Assert.Equal([1L, 2, 3, 4, 5], harness.Events(b).Select(item => item.Seq));
        var page = harness.Machine.GetEvents(b, 3, 100)!;
        Assert.Equal([4L, 5], page.Events.Select(item => item.Seq));
        Assert.Equal(5, page.LastSeq);
    }
}
