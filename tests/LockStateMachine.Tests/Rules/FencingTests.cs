namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class FencingTests
{
    [Fact]
    public void Fencing_token_is_the_index_of_the_granting_entry()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.EX);
        Assert.Equal(harness.LastIndex, first.FencingToken);
        harness.Lock(b, "r", LockMode.EX);
        harness.Unlock(first.LockId);
        var handedOff = harness.Resource("r")!.Granted.Single();
        Assert.Equal(harness.LastIndex, handedOff.FencingToken);
        Assert.True(handedOff.FencingToken > first.FencingToken);
    }

    [Fact]
    public void Max_fencing_token_is_the_highest_token_held_and_survives_a_snapshot()
    {
        var harness = new Harness();
        Assert.Equal(0, harness.Machine.MaxFencingToken);
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.EX);
        var second = harness.Lock(b, "s", LockMode.PR);
        Assert.Equal(second.FencingToken, harness.Machine.MaxFencingToken);
        harness.Unlock(second.LockId);
        // Only the locks that exist count: the backup's index bounds every token ever issued.
        Assert.Equal(first.FencingToken, harness.Machine.MaxFencingToken);
        Assert.True(harness.Machine.MaxFencingToken <= harness.Machine.LastAppliedIndex);
        Assert.Equal(first.FencingToken, LockMachine.Restore(harness.Machine.WriteSnapshot()).MaxFencingToken);
    }

    [Fact]
    public void Upward_conversion_gets_a_new_token_and_down_conversion_keeps_it()
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "r", LockMode.PR);
        harness.Ok<SessionResult>(new KeepAlive(a));
        var up = harness.Convert(held.LockId, LockMode.EX).Lock;
        Assert.Equal(harness.LastIndex, up.FencingToken);
        Assert.True(up.FencingToken > held.FencingToken);
        var down = harness.Convert(held.LockId, LockMode.CR).Lock;
        Assert.Equal(up.FencingToken, down.FencingToken);
    }

    [Fact]
    public void Fence_check_is_valid_only_while_the_token_is_held_in_a_covering_mode()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var held = harness.Lock(a, "r", LockMode.EX);
        var token = held.FencingToken;
        Assert.True(harness.Machine.CheckFence(Harness.Space, "r", token, LockMode.EX));
        Assert.True(harness.Machine.CheckFence(Harness.Space, "r", token, LockMode.PR));
        Assert.False(harness.Machine.CheckFence(Harness.Space, "r", token + 1, LockMode.EX));
        Assert.False(harness.Machine.CheckFence(Harness.Space, "other", token, LockMode.EX));

        harness.Convert(held.LockId, LockMode.PR);
        Assert.False(harness.Machine.CheckFence(Harness.Space, "r", token, LockMode.EX));
        Assert.True(harness.Machine.CheckFence(Harness.Space, "r", token, LockMode.PR));

        harness.Lock(b, "r", LockMode.NL);
        harness.Unlock(held.LockId);
        Assert.False(harness.Machine.CheckFence(Harness.Space, "r", token, LockMode.NL));
    }

    [Fact]
    public void Tokens_on_a_resource_increase_across_hand_offs()
    {
        var harness = new Harness();
        var sessions = Enumerable.Range(0, 6).Select(_ => harness.Session()).ToList();
        var locks = sessions.Select(session => harness.Lock(session, "r", LockMode.EX)).ToList();
        var tokens = new List<long> { locks[0].FencingToken };
        foreach (var item in locks.Take(locks.Count - 1))
        {
            harness.Unlock(item.LockId);
            tokens.Add(harness.Resource("r")!.Granted.Single().FencingToken);
        }
        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());
    }
}
