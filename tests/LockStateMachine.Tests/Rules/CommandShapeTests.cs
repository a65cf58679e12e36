namespace RaftDlm.LockStateMachine.Tests.Rules;

/// <summary>
/// CommandShape is the one home of the checks that need no state. The server calls it before proposing; the
/// machine calls it too, after the session and request-id lookup, so a malformed command applied directly
/// (bypassing the front end) gets exactly the front end's reply, and a retry still gets its first reply.
/// </summary>
public sealed class CommandShapeTests
{
    private static readonly string?[] Names = [null, "", "ok", new string('n', 64), new string('n', 65), "bad\ud800", "sp ace"];
    private static readonly LockFlags[] FlagSets =
    [
        LockFlags.None, LockFlags.NoQueueBast, LockFlags.NoQueue | LockFlags.NoQueueBast, LockFlags.Expedite,
        LockFlags.Expedite | LockFlags.NoQueueBast, LockFlags.QueCvt, LockFlags.IvValBlk, LockFlags.Persistent, (LockFlags)0x8000,
    ];

    /// <summary>What the front end refuses before logging, the machine refuses with the same code and message.</summary>
    [Fact]
    public void The_machine_refuses_every_malformed_command_with_the_reply_of_CommandShape()
    {
        var checkedCount = 0;
        foreach (var command in Commands())
        {
            var (harness, bound) = Prepared(command);
            var reason = CommandShape.Check(bound, harness.Machine.Limits);
            var result = harness.Apply(bound);
            if (reason is null) continue;
            checkedCount++;
            Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, reason), result);

            // Nothing changed but the applied index: the state is that of a twin that applied a Tick instead.
            var (twin, _) = Prepared(command);
            twin.Apply(new Tick());
            Assert.Equal(twin.Machine.StateHash(), harness.Machine.StateHash());
        }
        Assert.True(checkedCount > 300, $"only {checkedCount} malformed commands were generated");
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
        Assert.Null(CommandShape.Check(new KeepAlive(1), limits));
        Assert.Null(CommandShape.Check(new Tick(), limits));
    }

    /// <summary>The messages the HTTP API answers with (400 InvalidRequest); the machine gives the same ones.</summary>
    [Fact]
    public void The_machine_applied_directly_gives_the_messages_of_the_front_end()
    {
        foreach (var (command, message) in Refusals)
        {
            var (harness, bound) = Prepared(command);
            Assert.Equal(message, CommandShape.Check(bound, harness.Machine.Limits));
            Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, message), harness.Apply(bound));
        }
    }

    private static readonly (Command Command, string Message)[] Refusals =
    [
        (new OpenSession("", 10_000), "session name is empty"),
        (new OpenSession("s", 499), "ttlMs must be from 500 to 3600000"),
        (new CreateLockspace("bad name", 8, 0), "lockspace name may hold only A-Z a-z 0-9 . _ -"),
        (new CreateLockspace("x", 12, 0), "lvbBytes must be a multiple of 8 from 8 to 256"),
        (new CreateLockspace("x", 8, -1), "lockDelayMs must be from 0 to 600000"),
        (new DeleteLockspace(new string('l', 65), false), "lockspace name is 65 bytes, more than 64"),
        (new RequestLock(0, 0, Harness.Space, new string('r', 65), LockMode.EX, 0, LockFlags.None), "resource name is longer than 64 bytes"),
        (new RequestLock(0, 0, Harness.Space, "r", (LockMode)7, 0, LockFlags.None), "unknown mode 7"),
        (new RequestLock(0, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.QueCvt), "flags QueCvt are not valid for a lock request"),
        (new RequestLock(0, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.NoQueueBast), "noQueueBast is only valid with noQueue"),
        (new RequestLock(0, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.Expedite), "expedite is only valid for NL requests"),
        (new ConvertLock(0, 0, Harness.Space, 0, LockMode.NL, new byte[8], LockFlags.IvValBlk), "an LVB and ivValBlk together are contradictory"),
        (new ConvertLock(0, 0, Harness.Space, 0, LockMode.NL, null, LockFlags.Persistent), "flags Persistent are not valid for a conversion"),
        (new Unlock(0, 0, Harness.Space, 0, null, LockFlags.ConvDeadlk, false), "flags ConvDeadlk are not valid for an unlock"),
        (new Unlock(0, 0, Harness.Space, 0, new byte[8], LockFlags.IvValBlk, false), "an LVB and ivValBlk together are contradictory"),
        (new AdoptOrphan(0, 0, Harness.Space, "r", (LockMode)6), "unknown mode 6"),
        (new PurgeOrphans(Harness.Space, ""), "resource name is empty"),
    ];

    /// <summary>A malformed command is refused for its shape even where a lookup would fail too: the server never logs it.</summary>
    [Fact]
    public void Shape_is_refused_before_a_lookup_fails()
    {
        var harness = new Harness();
        var a = harness.Session();
        var b = harness.Session();
        var held = harness.Lock(a, "held", LockMode.EX);
        var emptyResource = new ErrorResult(ErrorCode.InvalidRequest, "resource name is empty");

        Assert.Equal(emptyResource, harness.Apply(new RequestLock(a, 0, "nowhere", "", LockMode.EX, 0, LockFlags.None)));
        Assert.Equal(emptyResource, harness.Apply(new AdoptOrphan(a, 0, "nowhere", "", LockMode.EX)));
        Assert.Equal(emptyResource, harness.Apply(new PurgeOrphans("nowhere", "")));
        Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, "unknown mode 9"),
            harness.Apply(new ConvertLock(0, 0, Harness.Space, 999_999, (LockMode)9, null, LockFlags.None)));
        Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, "flags QueCvt are not valid for an unlock"),
            harness.Apply(new Unlock(b, 0, Harness.Space, held.LockId, null, LockFlags.QueCvt, false)));
        Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, "lockspace name is empty"),
            harness.Apply(new Unlock(0, 0, "", held.LockId, null, LockFlags.None, false)));

        // A session's own command looks the session up first: a dead session answers SessionExpired.
        harness.Ok<DoneResult>(new CloseSession(b));
        Assert.Equal(ErrorCode.SessionExpired, harness.Fails(new RequestLock(b, 0, Harness.Space, "", LockMode.EX, 0, LockFlags.None)));
        Assert.Equal(LockMode.EX, harness.Get(held.LockId).Mode);
    }

    [Fact]
    public void A_retried_request_gets_its_first_reply_even_when_the_retry_is_malformed()
    {
        var harness = new Harness();
        var a = harness.Session();
        var first = harness.TryLock(a, "r", LockMode.PR, requestId: 7);
        Assert.IsType<LockResult>(first);
        Assert.Same(first, harness.Apply(new RequestLock(a, 7, Harness.Space, "r", (LockMode)9, 0, LockFlags.None)));
        Assert.Same(first, harness.Apply(new RequestLock(a, 7, Harness.Space, "", LockMode.PR, 0, LockFlags.QueCvt)));
        Assert.Single(harness.Machine.GetSession(a)!.Locks);
    }

    [Fact]
    public void A_retried_conversion_or_unlock_gets_its_first_reply_even_when_the_retry_is_malformed()
    {
        var harness = new Harness();
        var a = harness.Session();
        var held = harness.Lock(a, "r", LockMode.EX);
        var converted = harness.TryConvert(held.LockId, LockMode.PR, requestId: 3);
        Assert.IsType<LockResult>(converted);
        Assert.Same(converted, harness.TryConvert(held.LockId, (LockMode)9, requestId: 3));

        // The first unlock ended the lock; the retry names the session, which keeps the reply.
        var released = harness.Apply(new Unlock(a, 4, Harness.Space, held.LockId, null, LockFlags.None, false));
        Assert.Equal(LockViewState.Released, Assert.IsType<LockResult>(released).Lock.State);
        Assert.Same(released, harness.Apply(new Unlock(a, 4, Harness.Space, held.LockId, Harness.Lvb(1), LockFlags.IvValBlk, false)));
        Assert.Same(released, harness.Apply(new Unlock(a, 4, "", held.LockId, null, LockFlags.None, false)));
    }

    [Fact]
    public void A_refused_malformed_request_keeps_its_refusal_for_its_retry()
    {
        var harness = new Harness();
        var a = harness.Session();
        var refused = harness.Apply(new RequestLock(a, 5, Harness.Space, "r", LockMode.EX, 0, LockFlags.Expedite));
        Assert.Equal(new ErrorResult(ErrorCode.InvalidRequest, "expedite is only valid for NL requests"), refused);
        Assert.Same(refused, harness.TryLock(a, "r", LockMode.EX, requestId: 5));
        Assert.Null(harness.Resource("r"));
    }

    /// <summary>A machine with a session holding EX on "held", and the command pointed at them.</summary>
    private static (Harness Harness, Command Bound) Prepared(Command command)
    {
        var harness = new Harness();
        var session = harness.Session();
        var held = harness.Lock(session, "held", LockMode.EX);
        return (harness, Bind(command, session, held.LockId));
    }

    private static IEnumerable<Command> Commands()
    {
        foreach (var name in Names)
        {
            yield return new OpenSession(name!, 1_000);
            yield return new CreateLockspace(name!, 8, 0);
            yield return new DeleteLockspace(name!, false);
            yield return new AdoptOrphan(0, 0, Harness.Space, name!, LockMode.EX);
            yield return new AdoptOrphan(0, 0, name == "ok" ? Harness.Space : name!, "r", (LockMode)9);
            yield return new PurgeOrphans(name!, "r");
            yield return new PurgeOrphans(Harness.Space, name!);
            foreach (var flags in FlagSets)
            {
                foreach (var mode in new[] { LockMode.NL, LockMode.EX, (LockMode)9 })
                {
                    yield return new RequestLock(0, 0, name == "ok" ? Harness.Space : name!, name!, mode, 0, flags);
                    yield return new ConvertLock(0, 0, Harness.Space, 0, mode, name is null ? null : new byte[8], flags);
                    yield return new ConvertLock(0, 0, name!, 0, mode, null, flags);
                }
                yield return new Unlock(0, 0, Harness.Space, 0, name is null ? null : new byte[8], flags, false);
                yield return new Unlock(0, 0, name!, 0, null, flags, false);
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
