namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class OrphanTests
{
    [Fact]
    public void Persistent_lock_of_an_expired_session_becomes_an_orphan_that_still_blocks()
    {
        var harness = new Harness();
        var (dead, other) = (harness.Session(), harness.Session());
        var kept = harness.Lock(dead, "r", LockMode.EX, LockFlags.Persistent);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        var orphan = harness.Get(kept.LockId);
        Assert.Equal(LockViewState.Orphan, orphan.State);
        Assert.Equal(0, orphan.SessionId);
        Assert.True(harness.Resource("r")!.LvbValid);
        Assert.Equal(LockViewState.Waiting, harness.Lock(other, "r", LockMode.PR).State);
    }

    [Fact]
    public void Adopt_takes_an_orphan_by_resource_and_mode()
    {
        var harness = new Harness();
        var (dead, heir) = (harness.Session(), harness.Session());
        var kept = harness.Lock(dead, "r", LockMode.PW, LockFlags.Persistent);
        var child = harness.Lock(dead, "c", LockMode.EX, LockFlags.Persistent, kept.LockId);
        harness.Ok<DoneResult>(new CloseSession(dead));
        Assert.Equal(ErrorCode.NotFound, harness.Fails(new AdoptOrphan(heir, 0, Harness.Space, "r", LockMode.EX)));
        var adopted = harness.Ok<LockResult>(new AdoptOrphan(heir, 0, Harness.Space, "r", LockMode.PW)).Lock;
        Assert.Equal(kept.LockId, adopted.LockId);
        Assert.Equal(heir, adopted.SessionId);
        Assert.Equal(kept.FencingToken, adopted.FencingToken);
        Assert.Equal(heir, harness.Get(child.LockId).SessionId);
        Assert.Equal(2, harness.Machine.GetSession(heir)!.Locks.Count);
        Assert.Equal(LockViewState.Released, harness.Unlock(adopted.LockId, force: true).State);
    }

    [Fact]
    public void Orphan_cannot_be_unlocked_or_converted_but_purge_removes_it_and_invalidates_the_value_block()
    {
        var harness = new Harness();
        var (dead, other) = (harness.Session(), harness.Session());
        var kept = harness.Lock(dead, "r", LockMode.EX, LockFlags.Persistent);
        var waiter = harness.Lock(other, "r", LockMode.PR);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryUnlock(kept.LockId)).Code);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryConvert(kept.LockId, LockMode.NL)).Code);
        Assert.Equal(1, harness.Ok<DoneResult>(new PurgeOrphans(Harness.Space, "r")).Count);
        var granted = harness.Get(waiter.LockId);
        Assert.Equal(LockViewState.Granted, granted.State);
        Assert.False(harness.Resource("r")!.LvbValid);
        Assert.Equal(0, harness.Ok<DoneResult>(new PurgeOrphans(Harness.Space, "r")).Count);
    }

    [Fact]
    public void Waiting_persistent_request_is_cancelled_not_orphaned()
    {
        var harness = new Harness();
        var (dead, holder) = (harness.Session(), harness.Session());
        harness.Lock(holder, "r", LockMode.EX);
        var waiting = harness.Lock(dead, "r", LockMode.EX, LockFlags.Persistent);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.False(harness.Exists(waiting.LockId));
    }
}
