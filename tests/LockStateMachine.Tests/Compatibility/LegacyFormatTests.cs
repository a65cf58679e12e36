using System.Buffers;
using MessagePack;

namespace RaftDlm.LockStateMachine.Tests.Compatibility;

/// <summary>
/// Logs and snapshots written before wait timeouts existed must still be read. The fixtures were written
/// by the code of that time (snapshot format version 1, commands without a timeout field) from the scenario
/// below; a replica of today must decode them, replay the log to the state the old snapshot holds, and
/// answer every command with the bytes the old code answered with.
/// </summary>
public sealed class LegacyFormatTests
{
    private const string FixtureVariable = "RAFTDLM_WRITE_LEGACY_FIXTURE";

    [Fact]
    public void Version_one_log_replays_to_the_state_of_the_version_one_snapshot()
    {
        var log = ReadLog(FixtureFiles.Read("v1-log.bin"));
        var oldSnapshot = FixtureFiles.Read("v1-snapshot.bin");
        Assert.True(log.Count > 20);

        // Version 1 knew one command per entry: every command is at position 0.
        var replayed = FixtureFiles.Replay(log.Select(entry => (entry.Index, 0, entry.LeaderTimeMs, entry.Command, entry.Result)));

        var restored = LockMachine.Restore(oldSnapshot);
        Assert.Equal(replayed.StateHash(), restored.StateHash());
        Assert.Equal(replayed.LastAppliedIndex, restored.LastAppliedIndex);
        Assert.Equal(replayed.LockCount, restored.LockCount);
        // A restored old snapshot carries on: its queued requests have no timeout and are granted as before.
        Assert.Null(restored.NextTimeoutDueMs);
    }

    /// <summary>Writes the fixtures (run once, by the code whose format they capture, with the variable set).</summary>
    [Fact]
    public void Write_fixture_when_asked() =>
        FixtureFiles.WriteWhenAsked(FixtureVariable, () =>
        {
            var (log, snapshot) = Scenario();
            return [("v1-log.bin", log), ("v1-snapshot.bin", snapshot)];
        });

    /// <summary>Sessions, waiters, a conversion, sublocks, LVB writes, events, replies, an orphan and a lock-delay.</summary>
    private static (byte[] Log, byte[] Snapshot) Scenario()
    {
        var harness = new Harness(lvbBytes: 8, lockDelayMs: 30_000);
        var (a, b, c) = (harness.Session("a"), harness.Session("b"), harness.Session("c"));
        var held = harness.Lock(a, "r", LockMode.PW, LockFlags.Persistent);
        harness.Convert(held.LockId, LockMode.PW, Harness.Lvb(42));
        var reader = harness.Lock(b, "r", LockMode.CR);
        harness.Lock(a, "sub", LockMode.EX, parent: held.LockId);
        harness.Convert(reader.LockId, LockMode.EX);
        harness.Apply(new RequestLock(c, 5, Harness.Space, "r", LockMode.PR, 0, LockFlags.HeadQue));
        harness.Apply(new RequestLock(c, 5, Harness.Space, "r", LockMode.PR, 0, LockFlags.HeadQue));
        harness.Apply(new RequestLock(c, 6, Harness.Space, "w", LockMode.EX, 0, LockFlags.None));
        harness.NowMs += 1_000;
        harness.Apply(new KeepAlive(a));
        var d = harness.Session("d");
        harness.Lock(d, "x", LockMode.EX);
        harness.Ok<DoneResult>(new ExpireSession(d));
        harness.Apply(new CreateLockspace("second", 16, 0));
        harness.Apply(new Unlock(0, 0, Harness.Space, 999, null, LockFlags.None, false));
        harness.Apply(new ConvertLock(b, 7, Harness.Space, reader.LockId, LockMode.PW, null, LockFlags.NoQueue));
        harness.Apply(new Tick());
        harness.Apply(new ExtendDeadlines());

        var writer = new ArrayBufferWriter<byte>();
        var log = new MessagePackWriter(writer);
        log.WriteArrayHeader(harness.Log.Count);
        var replay = new LockMachine();
        foreach (var entry in harness.Log)
        {
            var result = replay.Apply(entry);
            log.WriteArrayHeader(4);
            log.Write(entry.Index);
            log.Write(entry.LeaderTimeMs);
            log.Write(CommandCodec.Encode(entry.Command!));
            log.Write(CommandCodec.EncodeResult(result));
        }
        log.Flush();
        return (writer.WrittenSpan.ToArray(), harness.Machine.WriteSnapshot());
    }

    private static List<(long Index, long LeaderTimeMs, byte[] Command, byte[] Result)> ReadLog(byte[] bytes)
    {
        var reader = new MessagePackReader(bytes);
        var count = reader.ReadArrayHeader();
        var entries = new List<(long, long, byte[], byte[])>(count);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(4, reader.ReadArrayHeader());
            entries.Add((reader.ReadInt64(), reader.ReadInt64(), reader.ReadBytes()!.Value.ToArray(), reader.ReadBytes()!.Value.ToArray()));
        }
        return entries;
    }
}
