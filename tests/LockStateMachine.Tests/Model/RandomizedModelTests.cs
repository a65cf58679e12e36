namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>
/// Long seeded random command sequences applied to the machine and to <see cref="ReferenceModel"/>.
/// Run one seed: <c>RAFTDLM_SEED=7 dotnet test --filter FullyQualifiedName~RandomizedModelTests</c>;
/// <c>RAFTDLM_STEPS</c> changes the length of each run.
/// </summary>
public sealed class RandomizedModelTests
{
    public static IEnumerable<object[]> Seeds()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("RAFTDLM_SEED"), out var only))
        {
            yield return [only];
            yield break;
        }
        for (var seed = 1; seed <= 20; seed++) yield return [seed];
    }

    internal static int Steps => int.TryParse(Environment.GetEnvironmentVariable("RAFTDLM_STEPS"), out var steps) ? steps : 2_000;

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Machine_agrees_with_the_reference_model(int seed) => new ModelRun(seed).Run(Steps);

    /// <summary>
    /// Found by seed 8 at entry 25: a new request that queues behind a blocked noOrder waiter is granted by
    /// the re-examination in the same entry, and its reply must say so (a LockResult is the lock after the command).
    /// </summary>
    [Fact]
    public void Request_granted_by_the_same_entrys_reexamination_is_answered_as_granted()
    {
        var (machine, apply, sessions) = Start(3);
        apply(new RequestLock(sessions[0], 0, "ls", "r", LockMode.PR, 0, LockFlags.None));
        Assert.Equal(LockViewState.Waiting,
            Assert.IsType<LockResult>(apply(new RequestLock(sessions[1], 0, "ls", "r", LockMode.EX, 0, LockFlags.NoOrder))).Lock.State);
        var answer = Assert.IsType<LockResult>(apply(new RequestLock(sessions[2], 0, "ls", "r", LockMode.PR, 0, LockFlags.None))).Lock;
        var after = machine.GetLock("ls", answer.LockId)!;
        Assert.Equal(LockViewState.Granted, after.State);
        Assert.Equal(LockViewState.Granted, answer.State);
    }

    /// <summary>
    /// Found by seeds 1 and 14: an upward conversion with quecvt|headQue queues at the head of the converting
    /// queue and is granted by the re-examination in the same entry; its reply must say granted.
    /// </summary>
    [Fact]
    public void Conversion_granted_by_the_same_entrys_reexamination_is_answered_as_granted()
    {
        var (machine, apply, sessions) = Start(3);
        apply(new RequestLock(sessions[0], 0, "ls", "r", LockMode.PR, 0, LockFlags.None));
        var b = Assert.IsType<LockResult>(apply(new RequestLock(sessions[1], 0, "ls", "r", LockMode.PR, 0, LockFlags.None))).Lock;
        var c = Assert.IsType<LockResult>(apply(new RequestLock(sessions[2], 0, "ls", "r", LockMode.NL, 0, LockFlags.None))).Lock;
        Assert.Equal(LockViewState.Converting,
            Assert.IsType<LockResult>(apply(new ConvertLock(0, 0, "ls", b.LockId, LockMode.EX, null, LockFlags.None))).Lock.State);
        var answer = Assert.IsType<LockResult>(apply(new ConvertLock(0, 0, "ls", c.LockId, LockMode.CR, null, LockFlags.QueCvt | LockFlags.HeadQue))).Lock;
        var after = machine.GetLock("ls", c.LockId)!;
        Assert.Equal(LockViewState.Granted, after.State);
        Assert.Equal(LockMode.CR, after.Mode);
        Assert.Equal(LockViewState.Granted, answer.State);
    }

    private static (LockMachine Machine, Func<Command, Result> Apply, long[] Sessions) Start(int sessionCount)
    {
        var machine = new LockMachine();
        var index = 0L;
        Result Apply(Command command) => machine.Apply(new LogEntry(++index, 1_000_000, command));
        Assert.IsType<LockspaceResult>(Apply(new CreateLockspace("ls", 8, 0)));
        var sessions = Enumerable.Range(0, sessionCount)
            .Select(i => Assert.IsType<SessionResult>(Apply(new OpenSession($"s{i}", 10_000))).SessionId)
            .ToArray();
        return (machine, Apply, sessions);
    }
}
