namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class CommandShapeTests
{
    private static readonly string?[] Names = [null, "", "ok", new string('n', 64), new string('n', 65), "bad\ud800", "sp ace"];
    private static readonly LockFlags[] FlagSets =
    [
        LockFlags.None, LockFlags.NoQueueBast, LockFlags.NoQueue | LockFlags.NoQueueBast, LockFlags.Expedite,
        LockFlags.QueCvt, LockFlags.IvValBlk, LockFlags.Persistent, (LockFlags)0x8000,
    ];

    /// <summary>What the front end refuses before logging, the machine refuses too: no command slips between them.</summary>
    [Fact]
    public void Every_command_refused_by_shape_is_refused_by_the_machine()
    {
        var checkedCount = 0;
        foreach (var command in Commands())
        {
            var harness = new Harness();
            var session = harness.Session();
            var held = harness.Lock(session, "held", LockMode.EX);
            var bound = Bind(command, session, held.LockId);
            var reason = CommandShape.Check(bound, harness.Machine.Limits);
            var result = harness.Apply(bound);
            if (reason is null) continue;
            checkedCount++;
            Assert.True(result is ErrorResult, $"{bound} was refused by shape ({reason}) but applied: {result}");
        }
        Assert.True(checkedCount > 100, $"only {checkedCount} malformed commands were generated");
    }

    [Fact]
    public void Well_formed_commands_pass_the_shape_check()
    {
        var limits = LockLimits.Default;
        Assert.Null(CommandShape.Check(new OpenSession("client", 10_000), limits));
        Assert.Null(CommandShape.Check(new CreateLockspace("vol.1-a_b", 256, 0), limits));
        Assert.Null(CommandShape.Check(new RequestLock(1, 1, "vol", new string('é', 32), LockMode.NL, 0, LockFlags.Expedite), limits));
        Assert.Null(CommandShape.Check(new ConvertLock(0, 1, "vol", 5, LockMode.NL, new byte[8], LockFlags.None), limits));
        Assert.Null(CommandShape.Check(new Unlock(0, 1, "vol", 5, null, LockFlags.IvValBlk, true), limits));
    }

    private static IEnumerable<Command> Commands()
    {
        foreach (var name in Names)
        {
            yield return new OpenSession(name!, 1_000);
            yield return new CreateLockspace(name!, 8, 0);
            yield return new AdoptOrphan(0, 0, Harness.Space, name!, LockMode.EX);
            yield return new PurgeOrphans(name!, "r");
            foreach (var flags in FlagSets)
            {
                foreach (var mode in new[] { LockMode.NL, LockMode.EX, (LockMode)9 })
                {
                    yield return new RequestLock(0, 0, name == "ok" ? Harness.Space : name!, name!, mode, 0, flags);
                    yield return new ConvertLock(0, 0, Harness.Space, 0, mode, name is null ? null : new byte[8], flags);
                }
                yield return new Unlock(0, 0, Harness.Space, 0, name is null ? null : new byte[8], flags, false);
            }
        }
        foreach (var ttl in new[] { -1, 0, 499, 500, 3_600_000, 3_600_001 }) yield return new OpenSession("s", ttl);
        foreach (var size in new[] { 0, 7, 8, 256, 264 }) yield return new CreateLockspace("x", size, 0);
        foreach (var delay in new[] { -1, 0, 600_001 }) yield return new CreateLockspace("y", 8, delay);
    }

    /// <summary>Points session and lock ids at live ones, so the machine's refusal is about the shape.</summary>
    private static Command Bind(Command command, long session, long lockId) => command switch
    {
        RequestLock c => c with { SessionId = session },
        ConvertLock c => c with { LockId = lockId },
        Unlock c => c with { LockId = lockId },
        AdoptOrphan c => c with { SessionId = session },
        _ => command,
    };
}
