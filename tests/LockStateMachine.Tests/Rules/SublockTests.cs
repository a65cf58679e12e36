namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class SublockTests
{
    [Fact]
    public void Same_child_name_under_two_parents_is_two_resources()
    {
        var harness = new Harness();
        var a = harness.Session();
        var p1 = harness.Lock(a, "volume-1", LockMode.PR);
        var p2 = harness.Lock(a, "volume-2", LockMode.PR);
        var c1 = harness.Lock(a, "block-0", LockMode.EX, parent: p1.LockId);
        var c2 = harness.Lock(a, "block-0", LockMode.EX, parent: p2.LockId);
        Assert.Equal(LockViewState.Granted, c1.State);
        Assert.Equal(LockViewState.Granted, c2.State);
        Assert.Equal(p1.LockId, c1.ParentLockId);
        Assert.Null(harness.Resource("block-0"));
    }

    [Fact]
    public void Children_under_one_parent_resource_share_it_across_sessions()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var pa = harness.Lock(a, "volume", LockMode.CR);
        var pb = harness.Lock(b, "volume", LockMode.CR);
        harness.Lock(a, "block", LockMode.EX, parent: pa.LockId);
        Assert.Equal(LockViewState.Waiting, harness.Lock(b, "block", LockMode.EX, parent: pb.LockId).State);
    }

    [Fact]
    public void Parent_must_be_granted_above_NL_and_owned_by_the_same_session()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var nl = harness.Lock(a, "p", LockMode.NL);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryLock(a, "c", LockMode.EX, parent: nl.LockId)).Code);
        var mine = harness.Lock(a, "q", LockMode.PR);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryLock(b, "c", LockMode.EX, parent: mine.LockId)).Code);
        Assert.Equal(ErrorCode.NotFound, Assert.IsType<ErrorResult>(harness.TryLock(a, "c", LockMode.EX, parent: 999_999)).Code);
        harness.Lock(b, "w", LockMode.EX);
        var waiting = harness.Lock(a, "w", LockMode.EX);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryLock(a, "c", LockMode.EX, parent: waiting.LockId)).Code);
    }

    [Fact]
    public void Lock_with_children_cannot_be_unlocked_unless_forced()
    {
        var harness = new Harness();
        var a = harness.Session();
        var parent = harness.Lock(a, "p", LockMode.PR);
        var child = harness.Lock(a, "c", LockMode.EX, parent: parent.LockId);
        var grandchild = harness.Lock(a, "g", LockMode.EX, parent: child.LockId);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryUnlock(parent.LockId)).Code);
        Assert.True(harness.Exists(child.LockId));
        Assert.Equal(LockViewState.Released, harness.Unlock(parent.LockId, force: true).State);
        Assert.False(harness.Exists(child.LockId));
        Assert.False(harness.Exists(grandchild.LockId));
        Assert.Equal(0, harness.Machine.ResourceCount);
    }

    [Fact]
    public void Unlocking_children_first_then_the_parent_works()
    {
        var harness = new Harness();
        var a = harness.Session();
        var parent = harness.Lock(a, "p", LockMode.PR);
        var child = harness.Lock(a, "c", LockMode.EX, parent: parent.LockId);
        harness.Unlock(child.LockId);
        Assert.Equal(LockViewState.Released, harness.Unlock(parent.LockId).State);
    }

    [Fact]
    public void Session_expiry_releases_children_before_parents()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var parent = harness.Lock(a, "p", LockMode.EX);
        var child = harness.Lock(a, "c", LockMode.EX, parent: parent.LockId);
        harness.Lock(a, "g", LockMode.EX, parent: child.LockId);
        var waiter = harness.Lock(b, "p", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(a));
        Assert.Equal(LockViewState.Granted, harness.Get(waiter.LockId).State);
        Assert.Equal(1, harness.Machine.ResourceCount);
        Assert.Equal(1, harness.Machine.LockCount);
    }

    [Fact]
    public void Persistent_sublock_needs_a_persistent_parent()
    {
        var harness = new Harness();
        var a = harness.Session();
        var parent = harness.Lock(a, "p", LockMode.PR);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryLock(a, "c", LockMode.EX, LockFlags.Persistent, parent.LockId)).Code);
    }
}
