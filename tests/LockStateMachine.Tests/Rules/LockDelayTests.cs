namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class LockDelayTests
{
    [Fact]
    public void Lock_delay_after_expiry_refuses_PW_and_EX_until_it_ends()
    {
        var harness = new Harness(lockDelayMs: 5_000, startMs: 100_000);
        var (dead, next) = (harness.Session(), harness.Session());
        harness.Lock(dead, "r", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(105_000, harness.Machine.NextDelayDueMs);

        Assert.Equal(ErrorCode.WouldBlock, Assert.IsType<ErrorResult>(harness.TryLock(next, "r", LockMode.EX, LockFlags.NoQueue)).Code);
        var writer = harness.Lock(next, "r", LockMode.PW);
        Assert.Equal(LockViewState.Waiting, writer.State);
        var reader = harness.Lock(next, "other-reader", LockMode.PR);
        Assert.Equal(LockViewState.Granted, reader.State);

        harness.NowMs = 104_999;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal(LockViewState.Waiting, harness.Get(writer.LockId).State);
        harness.NowMs = 105_000;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal(LockViewState.Granted, harness.Get(writer.LockId).State);
        Assert.Null(harness.Machine.NextDelayDueMs);
    }

    [Fact]
    public void Lock_delay_lets_readers_in()
    {
        var harness = new Harness(lockDelayMs: 5_000);
        var (dead, next) = (harness.Session(), harness.Session());
        harness.Lock(dead, "r", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(LockViewState.Granted, harness.Lock(next, "r", LockMode.PR).State);
    }

    [Fact]
    public void Clean_release_and_close_start_no_lock_delay()
    {
        var harness = new Harness(lockDelayMs: 5_000);
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var held = harness.Lock(a, "r", LockMode.EX);
        harness.Unlock(held.LockId);
        harness.Lock(b, "s", LockMode.EX);
        harness.Ok<DoneResult>(new CloseSession(b));
        Assert.Equal(LockViewState.Granted, harness.Lock(c, "r", LockMode.EX).State);
        Assert.Equal(LockViewState.Granted, harness.Lock(c, "s", LockMode.EX).State);
        Assert.Null(harness.Machine.NextDelayDueMs);
    }

    [Fact]
    public void Expired_reader_starts_no_lock_delay()
    {
        var harness = new Harness(lockDelayMs: 5_000);
        var (dead, next) = (harness.Session(), harness.Session());
        harness.Lock(dead, "r", LockMode.PR);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(LockViewState.Granted, harness.Lock(next, "r", LockMode.EX).State);
    }

    [Fact]
    public void Resource_under_lock_delay_outlives_its_last_lock_and_goes_when_the_delay_ends()
    {
        var harness = new Harness(lockDelayMs: 1_000, startMs: 0);
        var dead = harness.Session();
        harness.Lock(dead, "r", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.Equal(1, harness.Machine.ResourceCount);
        harness.NowMs = 1_000;
        harness.Ok<DoneResult>(new Tick());
        Assert.Equal(0, harness.Machine.ResourceCount);
    }
}
