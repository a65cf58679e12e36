namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class DeadlockTests
{
    [Fact]
    public void Conversion_deadlock_on_one_resource_cancels_the_conversion_that_closed_it()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        var second = harness.Lock(b, "r", LockMode.PR);
        Assert.Equal(LockViewState.Converting, harness.Convert(first.LockId, LockMode.EX).Lock.State);
        Assert.Equal(ErrorCode.Deadlock, Assert.IsType<ErrorResult>(harness.TryConvert(second.LockId, LockMode.EX)).Code);
        var victim = harness.Get(second.LockId);
        Assert.Equal(LockViewState.Granted, victim.State);
        Assert.Equal(LockMode.PR, victim.Mode);
        Assert.Single(harness.Events(b, EventType.Deadlock));
        harness.Unlock(second.LockId);
        Assert.Equal(LockMode.EX, harness.Get(first.LockId).Mode);
    }

    [Fact]
    public void ConvDeadlk_demotes_the_victim_to_NL_and_its_conversion_goes_on()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        var second = harness.Lock(b, "r", LockMode.PR);
        harness.Convert(first.LockId, LockMode.EX);
        var result = harness.Convert(second.LockId, LockMode.EX, flags: LockFlags.ConvDeadlk);
        Assert.True(result.Demoted);
        Assert.Equal(LockViewState.Converting, result.Lock.State);
        Assert.Equal(LockMode.NL, result.Lock.Mode);
        Assert.Equal(LockMode.EX, harness.Get(first.LockId).Mode);
        Assert.Single(harness.Events(b, EventType.Demoted));
        harness.Unlock(first.LockId);
        Assert.Equal(LockMode.EX, harness.Get(second.LockId).Mode);
    }

    [Fact]
    public void Two_session_cycle_across_two_resources_fails_the_request_that_closes_it()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(a, "y", LockMode.EX).State);
        Assert.Equal(ErrorCode.Deadlock, Assert.IsType<ErrorResult>(harness.TryLock(b, "x", LockMode.EX)).Code);
        Assert.Single(harness.Resource("x")!.Granted);
        Assert.Empty(harness.Resource("x")!.Waiting);
    }

    [Fact]
    public void Three_session_cycle_across_three_resources_is_detected()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        harness.Lock(c, "z", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(a, "y", LockMode.PR).State);
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "z", LockMode.PW).State);
        Assert.Equal(ErrorCode.Deadlock, Assert.IsType<ErrorResult>(harness.TryLock(c, "x", LockMode.CR)).Code);
        Assert.Equal(2, harness.Machine.GetSession(a)!.Locks.Count);
        Assert.Single(harness.Machine.GetSession(c)!.Locks);
    }

    [Fact]
    public void Chain_without_a_cycle_is_not_a_deadlock()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.EX);
        harness.Lock(b, "y", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "x", LockMode.EX).State);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "y", LockMode.EX).State);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "x", LockMode.EX).State);
    }

    [Fact]
    public void Waiting_behind_a_queued_request_counts_as_waiting_for_its_owner()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        harness.Lock(a, "x", LockMode.PR);
        harness.Lock(b, "y", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(c, "x", LockMode.EX).State);
        // b's PR fits beside a's PR but queues behind c: b waits for c, c waits for a.
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "x", LockMode.PR).State);
        Assert.Equal(ErrorCode.Deadlock, Assert.IsType<ErrorResult>(harness.TryLock(a, "y", LockMode.EX)).Code);
    }

    [Fact]
    public void Session_never_deadlocks_with_itself()
    {
        var harness = new Harness();
        var a = harness.Session();
        harness.Lock(a, "x", LockMode.EX);
        Assert.Equal(LockViewState.Waiting, harness.Lock(a, "x", LockMode.EX).State);
    }

    [Fact]
    public void Victim_choice_is_the_same_on_every_replay()
    {
        static string Run()
        {
            var harness = new Harness();
            var sessions = Enumerable.Range(0, 4).Select(_ => harness.Session()).ToList();
            for (var i = 0; i < 4; i++) harness.Lock(sessions[i], "r" + i, LockMode.EX);
            for (var i = 0; i < 4; i++) harness.TryLock(sessions[i], "r" + ((i + 1) % 4), LockMode.EX);
            return harness.Machine.StateHash();
        }
        Assert.Equal(Run(), Run());
    }
}
