namespace RaftDlm.LockStateMachine.Tests.Rules;

/// <summary>
/// A session belongs to the principal that opened it: another principal's commands on it, or on its locks,
/// are answered exactly as commands on a session or lock that does not exist. No principal (authentication
/// off, or an admin) may act on every session.
/// </summary>
public sealed class OwnershipTests
{
    private const string Alice = "token:alice";
    private const string Bob = "token:bob";

    [Fact]
    public void Another_principals_session_answers_as_one_that_does_not_exist()
    {
        var h = new Harness();
        var session = h.Ok<SessionResult>(new OpenSession("a", 10_000, Alice)).SessionId;
        var unknown = session + 1_000;

        var refused = Assert.IsType<ErrorResult>(h.Apply(new RequestLock(session, 1, Harness.Space, "r", LockMode.EX, 0, LockFlags.None, Caller: Bob)));
        var missing = Assert.IsType<ErrorResult>(h.Apply(new RequestLock(unknown, 1, Harness.Space, "r", LockMode.EX, 0, LockFlags.None, Caller: Bob)));
        Assert.Equal(ErrorCode.SessionExpired, refused.Code);
        Assert.Equal(missing.Message.Replace(unknown.ToString(), "ID"), refused.Message.Replace(session.ToString(), "ID"));
        Assert.Equal(ErrorCode.SessionExpired, h.Fails(new CloseSession(session, Bob)));
        Assert.Equal(ErrorCode.SessionExpired, h.Fails(new AdoptOrphan(session, 2, Harness.Space, "r", LockMode.EX, Bob)));
        Assert.False(h.Machine.SessionPermits(session, Bob));

        // The owner and an admin (no principal) may.
        Assert.IsType<LockResult>(h.Apply(new RequestLock(session, 3, Harness.Space, "r", LockMode.EX, 0, LockFlags.None, Caller: Alice)));
        Assert.IsType<LockResult>(h.Apply(new RequestLock(session, 4, Harness.Space, "s", LockMode.EX, 0, LockFlags.None)));
        Assert.True(h.Machine.SessionPermits(session, Alice));
        Assert.True(h.Machine.SessionPermits(session, null));
        Assert.IsType<DoneResult>(h.Apply(new CloseSession(session, Alice)));
    }

    [Fact]
    public void Another_principals_lock_answers_as_one_that_does_not_exist()
    {
        var h = new Harness();
        var session = h.Ok<SessionResult>(new OpenSession("a", 10_000, Alice)).SessionId;
        var held = Assert.IsType<LockResult>(h.Apply(new RequestLock(session, 1, Harness.Space, "r", LockMode.EX, 0, LockFlags.None, Caller: Alice))).Lock;
        var unknown = held.LockId + 1_000;

        var convert = Assert.IsType<ErrorResult>(h.Apply(new ConvertLock(0, 0, Harness.Space, held.LockId, LockMode.NL, null, LockFlags.None, Caller: Bob)));
        var unlock = Assert.IsType<ErrorResult>(h.Apply(new Unlock(0, 0, Harness.Space, held.LockId, null, LockFlags.None, false, Bob)));
        var missing = Assert.IsType<ErrorResult>(h.Apply(new Unlock(0, 0, Harness.Space, unknown, null, LockFlags.None, false, Bob)));
        Assert.Equal(ErrorCode.NotFound, convert.Code);
        Assert.Equal(ErrorCode.NotFound, unlock.Code);
        Assert.Equal(missing.Message.Replace(unknown.ToString(), "ID"), unlock.Message.Replace(held.LockId.ToString(), "ID"));
        Assert.Equal(LockViewState.Granted, h.Get(held.LockId).State); // nothing happened to it

        Assert.IsType<LockResult>(h.Apply(new Unlock(0, 0, Harness.Space, held.LockId, null, LockFlags.None, false, Alice)));
    }

    [Fact]
    public void Owners_survive_a_snapshot()
    {
        var h = new Harness();
        var session = h.Ok<SessionResult>(new OpenSession("a", 10_000, Alice)).SessionId;
        var restored = LockMachine.Restore(h.Machine.WriteSnapshot());
        Assert.Equal(h.Machine.StateHash(), restored.StateHash());
        Assert.True(restored.SessionPermits(session, Alice));
        Assert.False(restored.SessionPermits(session, Bob));
        Assert.Equal(Alice, restored.GetSession(session)!.Owner);
    }

    [Fact]
    public void A_retried_unlock_without_a_session_id_gets_its_first_reply()
    {
        var h = new Harness();
        var session = h.Session();
        var held = h.Lock(session, "r", LockMode.EX);
        var unlock = new Unlock(0, 77, Harness.Space, held.LockId, Harness.Lvb(5), LockFlags.None, false);

        var first = Assert.IsType<LockResult>(h.Apply(unlock));
        var retried = h.Apply(unlock);
        Assert.Equal(LockViewState.Released, first.Lock.State);
        Assert.Equal(CommandCodec.EncodeResult(first), CommandCodec.EncodeResult(retried));
        Assert.Equal(1, h.Resource("r") is null ? 1 : 0); // released once, nothing left

        // Through a snapshot too.
        var restored = LockMachine.Restore(h.Machine.WriteSnapshot());
        Assert.Equal(CommandCodec.EncodeResult(first), CommandCodec.EncodeResult(restored.Apply(new LogEntry(h.LastIndex + 1, h.NowMs, unlock))));

        // Another principal's retry learns nothing.
        var owned = h.Ok<SessionResult>(new OpenSession("a", 10_000, Alice)).SessionId;
        var lockB = Assert.IsType<LockResult>(h.Apply(new RequestLock(owned, 1, Harness.Space, "q", LockMode.EX, 0, LockFlags.None, Caller: Alice))).Lock;
        var ownUnlock = new Unlock(0, 78, Harness.Space, lockB.LockId, null, LockFlags.None, false, Alice);
        Assert.IsType<LockResult>(h.Apply(ownUnlock));
        Assert.Equal(ErrorCode.NotFound, h.Fails(ownUnlock with { Caller = Bob }));
        Assert.IsType<LockResult>(h.Apply(ownUnlock));
    }

    private static string Json(object? value) => System.Text.Json.JsonSerializer.Serialize(value);

    [Fact]
    public void A_snapshot_and_commands_of_the_format_before_owners_are_still_read()
    {
        var fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        var restored = LockMachine.Restore(File.ReadAllBytes(Path.Combine(fixtures, "snapshot-v1.bin")));
        var r1 = restored.GetResource("vol", "r1")!;
        Assert.Equal(42UL, Harness.Counter(r1.Lvb));
        Assert.Equal(1, r1.LvbSeq);
        var holder = Assert.Single(r1.Granted);
        Assert.Equal(LockMode.PR, holder.Mode);
        Assert.Null(restored.GetSession(holder.SessionId)!.Owner);
        Assert.True(restored.SessionPermits(holder.SessionId, null));
        Assert.False(restored.SessionPermits(holder.SessionId, Bob));

        // The same log, written by the old format, replayed into a fresh machine gives the same state.
        using var file = new BinaryReader(File.OpenRead(Path.Combine(fixtures, "commands-v1.bin")));
        var replayed = new LockMachine();
        long now = 1_000_000;
        var count = file.ReadInt32();
        for (var index = 1; index <= count; index++)
        {
            var command = CommandCodec.TryDecode(file.ReadBytes(file.ReadInt32()), out var error);
            Assert.True(command is not null, error);
            replayed.Apply(new LogEntry(index, now += 10, command));
        }
        // The replay also remembers the unlock it applied (which the old format did not keep): compare what
        // both show of the table.
        foreach (var resource in new[] { "r1", "r2" })
        {
            Assert.Equal(Json(restored.GetResource("vol", resource)), Json(replayed.GetResource("vol", resource)));
        }
        foreach (var id in new long[] { 1, 2 }) Assert.Equal(Json(restored.GetSession(id)), Json(replayed.GetSession(id)));
        Assert.Equal(restored.StateHash(), LockMachine.Restore(restored.WriteSnapshot()).StateHash());
    }
}
