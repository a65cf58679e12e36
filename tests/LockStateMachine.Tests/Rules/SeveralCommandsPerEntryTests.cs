using MessagePack;

namespace RaftDlm.LockStateMachine.Tests.Rules;

/// <summary>
/// A leader may pack several proposals into one log entry (docs/semantics.md, "Fencing tokens"): they share the
/// entry's index, so fencing tokens come from a counter in the table, never below the index.
/// </summary>
public sealed class SeveralCommandsPerEntryTests
{
    [Fact]
    public void Each_command_of_an_entry_gets_its_own_token_and_the_next_entry_goes_on_above_them()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());

        var results = harness.ApplyEntry(
            new RequestLock(a, 0, Harness.Space, "r1", LockMode.EX, 0, LockFlags.None),
            new RequestLock(b, 0, Harness.Space, "r2", LockMode.EX, 0, LockFlags.None),
            new RequestLock(c, 0, Harness.Space, "r3", LockMode.EX, 0, LockFlags.None));
        var index = harness.LastIndex;
        var tokens = results.Select(result => Assert.IsType<LockResult>(result).Lock.FencingToken).ToArray();

        Assert.Equal([index, index + 1, index + 2], tokens);
        // The next entry's index is index + 1, a token already issued: the counter goes on above it.
        var next = harness.Lock(a, "r4", LockMode.EX);
        Assert.Equal(index + 3, next.FencingToken);
    }

    [Fact]
    public void Tokens_on_one_resource_strictly_increase_when_hand_offs_share_an_entry()
    {
        var harness = new Harness();
        var (a, b, c) = (harness.Session(), harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.EX);
        var queued = Assert.IsType<LockResult>(harness.TryLock(b, "r", LockMode.EX)).Lock;
        Assert.Equal(LockViewState.Waiting, queued.State);

        // One entry: a's unlock hands r to b, then c queues, then b's unlock hands r to c.
        harness.ApplyEntry(
            new Unlock(0, 0, Harness.Space, first.LockId, null, LockFlags.None, false),
            new RequestLock(c, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.None),
            new Unlock(0, 0, Harness.Space, queued.LockId, null, LockFlags.None, false));

        var grants = harness.Events(b, EventType.Granted).Concat(harness.Events(c, EventType.Granted))
            .Select(item => item.FencingToken!.Value).ToArray();
        Assert.Equal(2, grants.Length);
        Assert.True(first.FencingToken < grants[0] && grants[0] < grants[1], $"tokens {first.FencingToken}, {grants[0]}, {grants[1]}");
        Assert.Equal(grants[1], harness.Resource("r")!.Granted.Single().FencingToken);
    }

    [Fact]
    public void A_command_of_an_entry_is_applied_once()
    {
        var harness = new Harness();
        var a = harness.Session();
        var index = harness.LastIndex + 1;
        harness.ApplyEntry(new KeepAlive(a), new RequestLock(a, 0, Harness.Space, "r", LockMode.EX, 0, LockFlags.None));
        var hash = harness.Machine.StateHash();

        foreach (var position in new[] { 0, 1 })
        {
            var again = harness.Machine.Apply(new LogEntry(index, harness.NowMs, new RequestLock(a, 0, Harness.Space, "s", LockMode.EX, 0, LockFlags.None), position));
            Assert.Equal(ErrorCode.AlreadyApplied, Assert.IsType<ErrorResult>(again).Code);
        }
        Assert.Equal(hash, harness.Machine.StateHash());
        // A restored table holds the whole entry at its index: no later command of it is applied again.
        var restored = LockMachine.Restore(harness.Machine.WriteSnapshot());
        var late = restored.Apply(new LogEntry(index, harness.NowMs, new KeepAlive(a), 2));
        Assert.Equal(ErrorCode.AlreadyApplied, Assert.IsType<ErrorResult>(late).Code);
    }

    [Fact]
    public void The_token_counter_survives_a_snapshot_when_it_is_above_the_index()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.ApplyEntry(
            new RequestLock(a, 0, Harness.Space, "r1", LockMode.EX, 0, LockFlags.None),
            new RequestLock(b, 0, Harness.Space, "r2", LockMode.EX, 0, LockFlags.None));
        var index = harness.LastIndex;
        var snapshot = harness.Machine.WriteSnapshot();
        Assert.Equal(3, SnapshotVersion(snapshot));

        var restored = LockMachine.Restore(snapshot);
        Assert.Equal(snapshot, restored.WriteSnapshot());
        var next = Assert.IsType<LockResult>(restored.Apply(new LogEntry(index + 1, harness.NowMs,
            new RequestLock(a, 0, Harness.Space, "r3", LockMode.EX, 0, LockFlags.None)))).Lock;
        Assert.Equal(index + 2, next.FencingToken);
    }

    [Fact]
    public void Without_entries_of_several_commands_tokens_are_entry_indexes_and_snapshots_stay_version_2()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        var first = harness.Lock(a, "r", LockMode.PR);
        Assert.Equal(harness.LastIndex, first.FencingToken);
        var second = harness.Lock(b, "r", LockMode.PR);
        Assert.Equal(harness.LastIndex, second.FencingToken);
        var snapshot = harness.Machine.WriteSnapshot();

        // Version 2 is what the releases before entries of several commands read.
        Assert.Equal(2, SnapshotVersion(snapshot));
        var restored = LockMachine.Restore(snapshot);
        Assert.Equal(snapshot, restored.WriteSnapshot());
        var third = Assert.IsType<LockResult>(restored.Apply(new LogEntry(harness.LastIndex + 1, harness.NowMs,
            new RequestLock(a, 0, Harness.Space, "s", LockMode.EX, 0, LockFlags.None)))).Lock;
        Assert.Equal(harness.LastIndex + 1, third.FencingToken);
    }

    [Fact]
    public void A_replica_restored_from_a_version_2_snapshot_writes_the_same_bytes_as_one_that_applied_every_entry()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.EX);
        harness.Ok<SessionResult>(new KeepAlive(b));
        harness.Ok<SessionResult>(new KeepAlive(b));
        var restored = LockMachine.Restore(harness.Machine.WriteSnapshot());

        // The restored replica derives its counter from the index (above the true last token); both agree from here.
        Command[][] entries =
        [
            [new KeepAlive(a)],
            [new RequestLock(a, 0, Harness.Space, "s", LockMode.EX, 0, LockFlags.None), new RequestLock(b, 0, Harness.Space, "t", LockMode.EX, 0, LockFlags.None)],
            [new RequestLock(b, 0, Harness.Space, "u", LockMode.PR, 0, LockFlags.None)],
        ];
        foreach (var commands in entries)
        {
            var index = harness.LastIndex + 1;
            harness.ApplyEntry(commands);
            for (var position = 0; position < commands.Length; position++) restored.Apply(new LogEntry(index, harness.NowMs, commands[position], position));
            Assert.Equal(harness.Machine.StateHash(), restored.StateHash());
        }
    }

    private static int SnapshotVersion(byte[] snapshot)
    {
        var reader = new MessagePackReader(snapshot);
        reader.ReadString();
        return reader.ReadInt32();
    }
}
