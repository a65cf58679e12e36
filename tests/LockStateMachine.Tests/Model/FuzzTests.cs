using Xunit.Sdk;

namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>
/// Garbage in, error results out: no command, however malformed, makes the machine throw or break an
/// invariant, and the codec never throws on bytes that are not a command.
/// </summary>
public sealed class FuzzTests
{
    public static IEnumerable<object[]> Seeds()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("RAFTDLM_SEED"), out var only))
        {
            yield return [only];
            yield break;
        }
        for (var seed = 201; seed <= 205; seed++) yield return [seed];
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Fuzzed_commands_never_throw_and_keep_the_invariants(int seed) => new FuzzRun(seed).Run(3_000);

    [Fact]
    public void Extreme_times_and_indexes_never_throw()
    {
        var machine = new LockMachine();
        var index = 0L;
        Result Apply(long time, Command? command) => Apply2(machine, ++index, time, command);

        Apply(0, new CreateLockspace("ls", 8, 600_000));
        var session = Assert.IsType<SessionResult>(Apply(10, new OpenSession("s", 3_600_000))).SessionId;
        var held = Assert.IsType<LockResult>(Apply(10, new RequestLock(session, 0, "ls", "r", LockMode.EX, 0, LockFlags.None))).Lock;
        Apply(long.MaxValue - 5, new KeepAlive(session));
        Apply(long.MaxValue - 1, new ExtendDeadlines());
        Apply(long.MaxValue, new OpenSession("late", int.MaxValue));
        Apply(long.MaxValue, new OpenSession("late2", 3_600_000));
        Apply(long.MaxValue, new ExpireSession(session));
        Apply(long.MaxValue, new Tick());
        Apply(long.MinValue, new Tick());
        Apply(-1, new RequestLock(session, 0, "ls", "r", LockMode.EX, 0, LockFlags.None));
        Apply(0, new ConvertLock(0, 0, "ls", held.LockId, LockMode.NL, null, LockFlags.None));
        Apply(0, null);
        Apply(0, new UnknownCommand());
        Assert.IsType<ErrorResult>(Apply2(machine, index, 0, new Tick()));
        Assert.IsType<ErrorResult>(Apply2(machine, 0, 0, new Tick()));
        Assert.IsType<ErrorResult>(Apply2(machine, long.MinValue, 0, new Tick()));
        Apply2(machine, long.MaxValue, long.MaxValue, new OpenSession("last", 500));
        _ = machine.WriteSnapshot();
        _ = LockMachine.Restore(machine.WriteSnapshot()).StateHash();
    }

    private static Result Apply2(LockMachine machine, long index, long time, Command? command)
    {
        Result? result;
        try
        {
            result = machine.Apply(new LogEntry(index, time, command));
        }
        catch (Exception error)
        {
            throw new XunitException($"entry {index} at time {time} ({ModelRun.Describe(command)}) threw {error}");
        }
        return result ?? throw new XunitException($"entry {index} ({ModelRun.Describe(command)}) gave no result");
    }

    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    public void TryDecode_never_throws_on_garbage(int seed)
    {
        var random = new Random(seed);
        var machine = new LockMachine();
        var index = 0L;
        machine.Apply(new LogEntry(++index, 0, new CreateLockspace("ls", 8, 0)));
        machine.Apply(new LogEntry(++index, 0, new OpenSession("s", 10_000)));

        void Decode(byte[] bytes, string what)
        {
            Command? command;
            string? error;
            try
            {
                command = CommandCodec.TryDecode(bytes, out error);
            }
            catch (Exception thrown)
            {
                throw new XunitException($"seed {seed}: TryDecode threw on {what} {Convert.ToHexString(bytes)}: {thrown}");
            }
            Assert.True(command is not null || error is not null, $"no command and no reason for {Convert.ToHexString(bytes)}");
            if (command is null) return;
            try
            {
                var result = machine.Apply(new LogEntry(++index, index, command));
                Assert.NotNull(result);
            }
            catch (Exception thrown) when (thrown is not XunitException)
            {
                throw new XunitException($"seed {seed}: applying the decoded {ModelRun.Describe(command)} from {Convert.ToHexString(bytes)} threw {thrown}");
            }
        }

        // Random bytes, short and long, and random bytes behind a plausible union header.
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = new byte[random.Next(0, i % 10 == 0 ? 300 : 24)];
            random.NextBytes(bytes);
            if (bytes.Length > 2 && random.Next(2) == 0)
            {
                bytes[0] = 0x92; // array of 2: [type, body]
                bytes[1] = (byte)random.Next(0, 16);
            }
            Decode(bytes, "random bytes");
        }

        // Every prefix and many mutations of valid encodings.
        foreach (var valid in ValidCommands())
        {
            var encoded = CommandCodec.Encode(valid);
            var decoded = CommandCodec.TryDecode(encoded, out var decodeError);
            Assert.True(decoded is not null, $"a valid {valid} did not decode: {decodeError}");
            for (var length = 0; length < encoded.Length; length++) Decode(encoded[..length], "a prefix of a valid encoding");
            for (var i = 0; i < 1_000; i++)
            {
                var mutated = (byte[])encoded.Clone();
                var flips = random.Next(1, 4);
                for (var f = 0; f < flips; f++)
                {
                    switch (random.Next(3))
                    {
                        case 0:
                            mutated[random.Next(mutated.Length)] = (byte)random.Next(256);
                            break;
                        case 1:
                            mutated[random.Next(mutated.Length)] ^= (byte)(1 << random.Next(8));
                            break;
                        default:
                            var cut = random.Next(mutated.Length);
                            mutated = [.. mutated[..cut], .. mutated[(cut + 1)..]];
                            break;
                    }
                    if (mutated.Length == 0) break;
                }
                Decode(mutated, "a mutated valid encoding");
            }
        }

        // Length prefixes that promise far more than the input holds.
        Decode([0x92, 0x08, 0xdd, 0x7f, 0xff, 0xff, 0xff], "a huge array header");
        Decode([0x92, 0x09, 0x97, 0x01, 0x00, 0xa2, 0x6c, 0x73, 0x01, 0x04, 0xc6, 0x7f, 0xff, 0xff, 0xff], "a huge binary header");
        Decode([0x92, 0x00, 0x92, 0xdb, 0x7f, 0xff, 0xff, 0xff], "a huge string header");
        Decode([.. Enumerable.Repeat((byte)0x91, 10_000)], "deep nesting");
        Decode([], "nothing");
        Decode([0xc0], "nil");
    }

    internal static IEnumerable<Command> ValidCommands() =>
    [
        new OpenSession("client", 10_000),
        new KeepAlive(1),
        new CloseSession(2),
        new ExpireSession(3),
        new ExtendDeadlines(),
        new Tick(),
        new CreateLockspace("ls2", 64, 1_000),
        new DeleteLockspace("ls2", true),
        new RequestLock(1, 7, "ls", "resource", LockMode.PW, 0, LockFlags.NoQueue | LockFlags.Persistent),
        new ConvertLock(1, 8, "ls", 3, LockMode.NL, [1, 2, 3, 4, 5, 6, 7, 8], LockFlags.IvValBlk),
        new Unlock(1, 9, "ls", 3, [1, 2, 3, 4, 5, 6, 7, 8], LockFlags.None, true),
        new AdoptOrphan(1, 10, "ls", "resource", LockMode.EX),
        new PurgeOrphans("ls", "resource"),
    ];
}

internal sealed record UnknownCommand : Command;

/// <summary>Builds a machine with real state, then feeds it commands whose fields are picked to hurt.</summary>
internal sealed class FuzzRun(int seed)
{
    private const string Space = "ls";
    private static readonly string[] Resources = ["r0", "r1", "r2"];

    private readonly Random _random = new(seed);
    private readonly LockMachine _machine = new(new LockLimits { MaxLocksPerSession = 64, MaxQueuedPerResource = 16, MaxEventsPerSession = 32 });
    private readonly InvariantChecker _checker = new(Space);
    private readonly List<long> _sessions = new();
    private readonly List<long> _locks = new();
    private long _index;
    private long _timeMs = 1_000_000;
    private int _step;

    public void Run(int steps)
    {
        Apply(new CreateLockspace(Space, 8, 0));
        Apply(new CreateLockspace("delayed", 32, 1_000));
        for (var i = 0; i < 4; i++)
        {
            if (Apply(new OpenSession($"fuzz{i}", 60_000)) is SessionResult opened) _sessions.Add(opened.SessionId);
        }
        for (var i = 0; i < 12; i++)
        {
            var command = new RequestLock(Pick(_sessions), 0, i % 4 == 3 ? "delayed" : Space, Pick(Resources), (LockMode)_random.Next(Modes.Count), 0,
                i % 5 == 0 ? LockFlags.Persistent : LockFlags.None);
            Remember(command, Apply(command));
            _checker.Check(_machine, _index, Resources, _sessions);
        }

        for (_step = 1; _step <= steps; _step++)
        {
            var command = _random.Next(3) == 0 ? Plausible() : Garbage();
            var result = Apply(command);
            Remember(command, result);
            try
            {
                _checker.Check(_machine, _index, Resources, _sessions);
            }
            catch (InvariantException broken)
            {
                throw new XunitException($"seed {seed}, step {_step}, entry {_index} ({ModelRun.Describe(command)} -> {ModelRun.DescribeResult(result)}): {broken.Message}");
            }
        }

        // The state still snapshots and restores to the same bytes.
        var snapshot = _machine.WriteSnapshot();
        Assert.Equal(snapshot, LockMachine.Restore(snapshot).WriteSnapshot());
    }

    private Result Apply(Command? command)
    {
        _timeMs += _random.Next(0, 30);
        var entry = new LogEntry(++_index, _timeMs, command);
        try
        {
            return _machine.Apply(entry) ?? throw new XunitException($"seed {seed}, entry {_index}: no result");
        }
        catch (Exception error) when (error is not XunitException)
        {
            throw new XunitException($"seed {seed}, step {_step}, entry {_index}: {ModelRun.Describe(command)} threw {error}");
        }
    }

    private void Remember(Command command, Result result)
    {
        if (result is SessionResult opened) _sessions.Add(opened.SessionId);
        if (result is not LockResult locked) return;
        if (!_locks.Contains(locked.Lock.LockId)) _locks.Add(locked.Lock.LockId);
        switch (command)
        {
            case RequestLock { RequestId: 0 } request:
                _checker.NoteFlags(locked.Lock.LockId, request.Flags);
                break;
            case ConvertLock { RequestId: 0 } conversion:
                _checker.NoteFlags(locked.Lock.LockId, conversion.Flags);
                break;
        }
    }

    /// <summary>A well-formed command on the real state, so that the state keeps changing.</summary>
    private Command Plausible()
    {
        var session = Pick(_sessions);
        switch (_random.Next(8))
        {
            case 0:
            case 1:
            case 2:
                var flags = (LockFlags)((ushort)Modes.NewRequestFlags & _random.Next(0, 1 << 11)) & ~LockFlags.Expedite;
                if (_random.Next(2) == 0) flags = LockFlags.None;
                return new RequestLock(session, 0, Space, Pick(Resources), (LockMode)_random.Next(Modes.Count), 0, flags);
            case 3:
            case 4:
                var convertFlags = _random.Next(2) == 0 ? LockFlags.None : (LockFlags)((ushort)Modes.ConvertFlags & _random.Next(0, 1 << 11));
                return new ConvertLock(0, 0, Space, LockId(), (LockMode)_random.Next(Modes.Count), null, convertFlags);
            case 5:
                return new Unlock(0, 0, Space, LockId(), null, LockFlags.None, _random.Next(4) == 0);
            case 6:
                return _random.Next(3) switch
                {
                    0 => new OpenSession($"more{_index}", 60_000),
                    1 => new AdoptOrphan(session, 0, Space, Pick(Resources), (LockMode)_random.Next(Modes.Count)),
                    _ => new KeepAlive(session),
                };
            default:
                return _random.Next(4) == 0 ? new ExpireSession(session) : new CloseSession(session);
        }
    }

    /// <summary>A command with fields chosen to be wrong in as many ways as we can think of.</summary>
    private Command Garbage() => _random.Next(13) switch
    {
        0 => new OpenSession(Name(), Ttl()),
        1 => new KeepAlive(SessionId()),
        2 => new CloseSession(SessionId()),
        3 => new ExpireSession(SessionId()),
        4 => new CreateLockspace(Name(), Int(), Int()),
        5 => new DeleteLockspace(_random.Next(4) == 0 ? "delayed" : Name(), _random.Next(2) == 0),
        6 or 7 => new RequestLock(SessionId(), RequestId(), LockspaceName(), Name(), Mode(), LockIdOrZero(), Flags()),
        8 or 9 => new ConvertLock(SessionId(), RequestId(), LockspaceName(), LockId(), Mode(), Lvb(), Flags()),
        10 => new Unlock(SessionId(), RequestId(), LockspaceName(), LockId(), Lvb(), Flags(), _random.Next(2) == 0),
        11 => new AdoptOrphan(SessionId(), RequestId(), LockspaceName(), Name(), Mode()),
        _ => _random.Next(3) == 0 ? new UnknownCommand() : new PurgeOrphans(LockspaceName(), Name()),
    };

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private string Name() => _random.Next(16) switch
    {
        0 => null!,
        1 => "",
        2 => new string('x', 100_000),
        3 => new string('y', 65),
        4 => string.Concat(Enumerable.Repeat("é", 33)), // 66 bytes in UTF-8, 33 chars
        5 => "bad\ud800name",
        6 => "\udc00",
        7 => "tail\ud83d",
        8 => "\0",
        9 => "with space/and slash",
        10 => "😀😀😀",
        _ => Pick(Resources),
    };

    private string LockspaceName() => _random.Next(3) == 0 ? Name() : _random.Next(5) == 0 ? "delayed" : Space;

    private int Ttl() => _random.Next(8) switch
    {
        0 => int.MinValue,
        1 => -1,
        2 => 0,
        3 => 499,
        4 => 3_600_001,
        5 => int.MaxValue,
        _ => _random.Next(500, 3_600_000),
    };

    private int Int() => _random.Next(6) switch
    {
        0 => int.MinValue,
        1 => int.MaxValue,
        2 => -8,
        3 => 0,
        4 => _random.Next(0, 300),
        _ => 8 * _random.Next(0, 40),
    };

    private long SessionId() => _random.Next(10) switch
    {
        0 => 0,
        1 => -1,
        2 => long.MinValue,
        3 => long.MaxValue,
        4 => 987_654_321,
        _ => Pick(_sessions),
    };

    private long LockId() => _random.Next(10) switch
    {
        0 => 0,
        1 => -5,
        2 => long.MaxValue,
        3 => 123_456_789,
        _ => _locks.Count > 0 ? Pick(_locks) : 1,
    };

    private long LockIdOrZero() => _random.Next(3) == 0 ? LockId() : 0;

    private long RequestId() => _random.Next(5) switch
    {
        0 => -1,
        1 => long.MaxValue,
        2 => _random.Next(1, 5),
        _ => 0,
    };

    private LockMode Mode() => _random.Next(4) == 0 ? (LockMode)_random.Next(6, 256) : (LockMode)_random.Next(Modes.Count);

    private LockFlags Flags() => _random.Next(4) switch
    {
        0 => (LockFlags)_random.Next(0, 1 << 16),
        1 => (LockFlags)(1 << _random.Next(11, 16)),
        2 => LockFlags.Expedite | (_random.Next(2) == 0 ? LockFlags.QueCvt : LockFlags.ConvDeadlk),
        _ => LockFlags.None,
    };

    private byte[]? Lvb() => _random.Next(8) switch
    {
        0 => null,
        1 => [],
        2 => new byte[7],
        3 => new byte[9],
        4 => new byte[8],
        5 => new byte[32],
        6 => new byte[257],
        _ => new byte[1_000_000],
    };
}
