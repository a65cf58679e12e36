using System.Buffers;
using MessagePack;

namespace RaftDlm.LockStateMachine.Tests.Compatibility;

/// <summary>
/// The formats the release with entries of several commands brought (docs/formats.md, rule 1): a log whose
/// entries hold several commands, and the version-3 snapshot that records the fencing-token counter. The
/// fixtures were written by that release's code from the scenario below; every later build must replay the log
/// to the fixture's state, answer with the same bytes, and go on issuing tokens above the counter.
/// </summary>
public sealed class SeveralCommandsFormatTests
{
    private const string FixtureVariable = "RAFTDLM_WRITE_V3_FIXTURE";

    [Fact]
    public void A_log_of_several_commands_per_entry_replays_to_the_state_of_the_version_3_snapshot()
    {
        var log = ReadLog(FixtureFiles.Read("v3-log.bin"));
        var snapshot = FixtureFiles.Read("v3-snapshot.bin");
        Assert.Contains(log, entry => entry.Position > 0);

        var replayed = FixtureFiles.Replay(log);

        var reader = new MessagePackReader(snapshot);
        reader.ReadString();
        Assert.Equal(3, reader.ReadInt32());
        var restored = LockMachine.Restore(snapshot);
        Assert.Equal(replayed.StateHash(), restored.StateHash());
        Assert.Equal(snapshot, restored.WriteSnapshot());

        // The counter is above the last index: the next grant's token is above it, not the next entry's index.
        var maxToken = restored.MaxFencingToken;
        Assert.True(maxToken > restored.LastAppliedIndex, $"max token {maxToken}, last index {restored.LastAppliedIndex}");
        var session = Assert.IsType<SessionResult>(restored.Apply(new LogEntry(restored.LastAppliedIndex + 1, restored.LastLeaderTimeMs, new OpenSession("z", 10_000)))).SessionId;
        var next = Assert.IsType<LockResult>(restored.Apply(new LogEntry(restored.LastAppliedIndex + 1, restored.LastLeaderTimeMs,
            new RequestLock(session, 0, Harness.Space, "fresh", LockMode.EX, 0, LockFlags.None)))).Lock;
        Assert.True(next.FencingToken > maxToken, $"token {next.FencingToken} after {maxToken}");
    }

    /// <summary>Writes the fixtures (run once, by the code whose format they capture, with the variable set).</summary>
    [Fact]
    public void Write_fixture_when_asked() =>
        FixtureFiles.WriteWhenAsked(FixtureVariable, () =>
        {
            var (log, snapshot) = Scenario();
            return [("v3-log.bin", log), ("v3-snapshot.bin", snapshot)];
        });

    /// <summary>Grants, a hand-off and an upward conversion inside entries of several commands, then single ones.</summary>
    private static (byte[] Log, byte[] Snapshot) Scenario()
    {
        var harness = new Harness(lvbBytes: 8);
        var (a, b, c) = (harness.Session("a"), harness.Session("b"), harness.Session("c"));
        harness.ApplyEntry(
            new RequestLock(a, 1, Harness.Space, "r", LockMode.EX, 0, LockFlags.None),
            new RequestLock(b, 1, Harness.Space, "r", LockMode.EX, 0, LockFlags.None),
            new RequestLock(c, 1, Harness.Space, "s", LockMode.PR, 0, LockFlags.None));
        var first = harness.Resource("r")!.Granted.Single();
        harness.ApplyEntry(
            new Unlock(0, 0, Harness.Space, first.LockId, Harness.Lvb(7), LockFlags.None, false),
            new ConvertLock(0, 0, Harness.Space, harness.Resource("s")!.Granted.Single().LockId, LockMode.EX, null, LockFlags.None),
            new KeepAlive(a));
        harness.Apply(new KeepAlive(b));
        harness.ApplyEntry(new RequestLock(a, 2, Harness.Space, "t", LockMode.PW, 0, LockFlags.None), new KeepAlive(c));

        var writer = new ArrayBufferWriter<byte>();
        var log = new MessagePackWriter(writer);
        log.WriteArrayHeader(harness.Log.Count);
        var replay = new LockMachine();
        foreach (var entry in harness.Log)
        {
            var result = replay.Apply(entry);
            log.WriteArrayHeader(5);
            log.Write(entry.Index);
            log.Write(entry.Position);
            log.Write(entry.LeaderTimeMs);
            log.Write(CommandCodec.Encode(entry.Command!));
            log.Write(CommandCodec.EncodeResult(result));
        }
        log.Flush();
        return (writer.WrittenSpan.ToArray(), harness.Machine.WriteSnapshot());
    }

    private static List<(long Index, int Position, long LeaderTimeMs, byte[] Command, byte[] Result)> ReadLog(byte[] bytes)
    {
        var reader = new MessagePackReader(bytes);
        var count = reader.ReadArrayHeader();
        var entries = new List<(long, int, long, byte[], byte[])>(count);
        for (var i = 0; i < count; i++)
        {
            Assert.Equal(5, reader.ReadArrayHeader());
            entries.Add((reader.ReadInt64(), reader.ReadInt32(), reader.ReadInt64(), reader.ReadBytes()!.Value.ToArray(), reader.ReadBytes()!.Value.ToArray()));
        }
        return entries;
    }
}
