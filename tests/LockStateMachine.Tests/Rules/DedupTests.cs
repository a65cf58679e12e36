namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class DedupTests
{
    [Fact]
    public void Retried_lock_request_returns_the_first_reply_and_acts_once()
    {
        var harness = new Harness();
        var a = harness.Session();
        var first = harness.TryLock(a, "r", LockMode.PR, requestId: 7);
        var retry = harness.TryLock(a, "r", LockMode.PR, requestId: 7);
        Assert.Same(first, retry);
        Assert.Single(harness.Machine.GetSession(a)!.Locks);
    }

    [Fact]
    public void Retried_unlock_after_success_returns_released_again()
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "r", LockMode.EX);
        var first = harness.Apply(new Unlock(a, 9, Harness.Space, held.LockId, null, LockFlags.None, false));
        var retry = harness.Apply(new Unlock(a, 9, Harness.Space, held.LockId, null, LockFlags.None, false));
        Assert.Equal(LockViewState.Released, Assert.IsType<LockResult>(retry).Lock.State);
        Assert.Same(first, retry);
    }

    [Fact]
    public void Retried_conversion_does_not_convert_twice()
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "r", LockMode.EX);
        var first = harness.TryConvert(held.LockId, LockMode.PR, requestId: 3);
        harness.TryConvert(held.LockId, LockMode.EX, requestId: 4);
        Assert.Same(first, harness.TryConvert(held.LockId, LockMode.PR, requestId: 3));
        Assert.Equal(LockMode.EX, harness.Get(held.LockId).Mode);
    }

    [Fact]
    public void Request_id_zero_is_never_deduplicated()
    {
        var harness = new Harness();
        var a = harness.Session();
        harness.TryLock(a, "r", LockMode.PR, requestId: 0);
        harness.TryLock(a, "r", LockMode.PR, requestId: 0);
        Assert.Equal(2, harness.Machine.GetSession(a)!.Locks.Count);
    }

    [Fact]
    public void Request_ids_are_per_session()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.TryLock(a, "r", LockMode.PR, requestId: 1);
        harness.TryLock(b, "r", LockMode.PR, requestId: 1);
        Assert.Single(harness.Machine.GetSession(b)!.Locks);
    }

    [Fact]
    public void Reply_window_is_bounded_and_forgets_the_oldest()
    {
        var harness = new Harness(new LockLimits { MaxRepliesPerSession = 2 });
        var a = harness.Session();
        harness.TryLock(a, "r1", LockMode.PR, requestId: 1);
        harness.TryLock(a, "r2", LockMode.PR, requestId: 2);
        harness.TryLock(a, "r3", LockMode.PR, requestId: 3);
        harness.TryLock(a, "r1", LockMode.PR, requestId: 1);
        harness.TryLock(a, "r3", LockMode.PR, requestId: 3);
        Assert.Equal(4, harness.Machine.GetSession(a)!.Locks.Count);
    }

    [Fact]
    public void Replayed_entry_at_an_applied_index_is_ignored()
    {
        var harness = new Harness();
        var a = harness.Session();
        var entry = new LogEntry(harness.LastIndex + 1, harness.NowMs, new RequestLock(a, 0, Harness.Space, "r", LockMode.PR, 0, LockFlags.None));
        harness.Machine.Apply(entry);
        Assert.Equal(ErrorCode.AlreadyApplied, Assert.IsType<ErrorResult>(harness.Machine.Apply(entry)).Code);
        Assert.Single(harness.Machine.GetSession(a)!.Locks);
    }
}
