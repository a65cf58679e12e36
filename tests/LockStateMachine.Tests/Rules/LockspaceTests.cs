namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class LockspaceTests
{
    [Fact]
    public void Create_is_idempotent_with_the_same_settings_and_conflicts_with_others()
    {
        var harness = new Harness();
        Assert.True(harness.Ok<LockspaceResult>(new CreateLockspace("x", 32, 0)).Created);
        Assert.False(harness.Ok<LockspaceResult>(new CreateLockspace("x", 32, 0)).Created);
        Assert.Equal(ErrorCode.Conflict, harness.Fails(new CreateLockspace("x", 64, 0)));
        Assert.Equal(["ls", "x"], harness.Machine.GetLockspaces().Select(space => space.Name));
    }

    [Fact]
    public void Delete_of_a_lockspace_with_locks_needs_force_and_cancels_them()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var held = harness.Lock(a, "r", LockMode.EX);
        var waiting = harness.Lock(b, "r", LockMode.EX);
        Assert.Equal(ErrorCode.Conflict, harness.Fails(new DeleteLockspace(Harness.Space, false)));
        Assert.Equal(2, harness.Ok<DoneResult>(new DeleteLockspace(Harness.Space, true)).Count);
        Assert.Empty(harness.Machine.GetLockspaces());
        Assert.Empty(harness.Machine.GetSession(a)!.Locks);
        Assert.Contains(harness.Events(a, EventType.Cancelled), item => item.LockId == held.LockId);
        Assert.Contains(harness.Events(b, EventType.Cancelled), item => item.LockId == waiting.LockId);
        Assert.Equal(0, harness.Machine.ResourceCount);
        Assert.Equal(ErrorCode.NotFound, harness.Fails(new DeleteLockspace(Harness.Space, false)));
    }

    [Fact]
    public void Empty_lockspace_is_deleted_without_force()
    {
        var harness = new Harness();
        harness.Ok<DoneResult>(new DeleteLockspace(Harness.Space, false));
        Assert.Empty(harness.Machine.GetLockspaces());
    }

    [Fact]
    public void Request_in_a_missing_lockspace_is_not_found()
    {
        var harness = new Harness();
        var a = harness.Session();
        Assert.Equal(ErrorCode.NotFound, harness.Fails(new RequestLock(a, 0, "missing", "r", LockMode.EX, 0, LockFlags.None)));
    }
}
