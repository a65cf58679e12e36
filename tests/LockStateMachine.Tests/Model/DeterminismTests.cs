namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>
/// The same log gives the same bytes: a fresh machine, the machine that produced the log, and one restored
/// from a snapshot taken midway all end with identical snapshots and give identical results.
/// </summary>
public sealed class DeterminismTests
{
    public static IEnumerable<object[]> Seeds()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("RAFTDLM_SEED"), out var only))
        {
            yield return [only];
            yield break;
        }
        for (var seed = 101; seed <= 106; seed++) yield return [seed];
    }

    private static readonly LockLimits SmallLimits = new()
    {
        MaxEventsPerSession = 16,
        MaxRepliesPerSession = 8,
        MaxEndedSessions = 12,
        MaxLocksPerSession = 40,
        MaxQueuedPerResource = 12,
    };

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Replay_from_scratch_and_from_a_midway_snapshot_agree(int seed)
    {
        const int entries = 3_000;
        var original = new LockMachine(SmallLimits);
        var generator = new LogGenerator(seed, original);
        var log = new List<LogEntry>();
        var results = new List<byte[]>();
        byte[]? midway = null;
        var middle = entries / 2;
        var timeoutEntries = 0;
        var pendingAtMidway = false;
        var holders = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < entries; i++)
        {
            // The midway snapshot is taken while a timeout is pending, so the restored copy has to carry it.
            if (midway is null && i >= entries / 2 && (original.NextTimeoutDueMs is not null || i >= entries * 3 / 4))
            {
                middle = i;
                midway = original.WriteSnapshot();
                pendingAtMidway = original.NextTimeoutDueMs is not null;
            }
            var entry = generator.Next();
            if (original.NextTimeoutDueMs <= entry.LeaderTimeMs) timeoutEntries++;
            log.Add(entry);
            results.Add(CommandCodec.EncodeResult(original.Apply(entry)));
            if (i % 50 == 0) holders.UnionWith(LogGenerator.Principals.OfType<string>().Where(principal => original.OwnerUsage(principal).Locks > 0));
        }
        Assert.NotNull(midway);

        // A snapshot restores to the same bytes.
        Assert.Equal(midway, LockMachine.Restore(midway).WriteSnapshot());

        var fresh = new LockMachine(SmallLimits);
        for (var i = 0; i < log.Count; i++)
        {
            if (i == middle) Assert.True(midway.AsSpan().SequenceEqual(fresh.WriteSnapshot()), $"seed {seed}: the fresh replay differs at the midpoint");
            var result = CommandCodec.EncodeResult(fresh.Apply(log[i]));
            Assert.True(result.AsSpan().SequenceEqual(results[i]), $"seed {seed}, entry {log[i].Index}: fresh replay gave {Show(result)}, original {Show(results[i])}");
        }

        var restored = LockMachine.Restore(midway);
        for (var i = middle; i < log.Count; i++)
        {
            var result = CommandCodec.EncodeResult(restored.Apply(log[i]));
            Assert.True(result.AsSpan().SequenceEqual(results[i]),
                $"seed {seed}, entry {log[i].Index} ({ModelRun.Describe(log[i].Command)}): restored machine gave {Show(result)}, original {Show(results[i])}");
        }

        var expected = original.WriteSnapshot();
        Assert.True(expected.AsSpan().SequenceEqual(fresh.WriteSnapshot()), $"seed {seed}: fresh replay ends with other bytes");
        Assert.True(expected.AsSpan().SequenceEqual(restored.WriteSnapshot()), $"seed {seed}: restored machine ends with other bytes");
        Assert.Equal(original.StateHash(), fresh.StateHash());
        Assert.Equal(original.StateHash(), restored.StateHash());
        // The quota counts (what each principal holds) agree on every copy, and with a count from the sessions.
        foreach (var principal in LogGenerator.Principals.OfType<string>())
        {
            var usage = original.OwnerUsage(principal);
            Assert.Equal(usage, fresh.OwnerUsage(principal));
            Assert.Equal(usage, restored.OwnerUsage(principal));
            Assert.Equal(usage, LockMachine.Restore(expected).OwnerUsage(principal));
            Assert.Equal(Recount(original, principal), usage);
        }
        Assert.Equal(original.LastAppliedIndex, restored.LastAppliedIndex);

        // Re-applying an old entry is ignored on every copy alike.
        var replayed = CommandCodec.EncodeResult(restored.Apply(log[^1]));
        Assert.Equal(CommandCodec.EncodeResult(fresh.Apply(log[^1])), replayed);
        Assert.Equal(expected, restored.WriteSnapshot());

        // The log exercised what it was meant to.
        Assert.True(generator.Kinds.Count >= 12, $"seed {seed}: only {string.Join(",", generator.Kinds)} were generated");
        var lockResults = results.Select(bytes => CommandCodec.DecodeResult(bytes)).OfType<LockResult>().ToList();
        Assert.True(lockResults.Count(item => item.Lock.State == LockViewState.Granted) >= 200, $"seed {seed}: too few grants");
        Assert.Contains(lockResults, item => item.Lock.State == LockViewState.Waiting);
        Assert.Contains(lockResults, item => item.Lock.ParentLockId != 0);
        Assert.Contains(lockResults, item => item.Lock.Persistent);
        Assert.True(timeoutEntries >= 5, $"seed {seed}: only {timeoutEntries} entries timed requests out");
        Assert.True(pendingAtMidway, $"seed {seed}: the midway snapshot holds no pending timeout");
        Assert.True(generator.Foreign >= 50, $"seed {seed}: only {generator.Foreign} commands came from another principal");
        Assert.All(LogGenerator.Principals.OfType<string>(), principal => Assert.True(holders.Contains(principal), $"seed {seed}: {principal} never held a lock"));
    }

    /// <summary>A principal's live sessions and the locks they own, counted from the session views.</summary>
    private static (int Sessions, long Locks) Recount(LockMachine machine, string principal)
    {
        var sessions = machine.SessionDeadlines().Select(item => machine.GetSession(item.SessionId)!).Where(view => view.Owner == principal).ToList();
        return (sessions.Count, sessions.Sum(view => (long)view.Locks.Count));
    }

    private static string Show(byte[] encoded)
    {
        try
        {
            var result = CommandCodec.DecodeResult(encoded);
            return ModelRun.DescribeResult(result);
        }
        catch (Exception error)
        {
            return $"(undecodable: {error.Message})";
        }
    }
}

/// <summary>
/// Builds a plausible random log, looking at the machine it feeds to pick ids that exist: sessions that
/// open, close, expire and keep alive; lockspaces with a lock-delay; LVB writes; sublocks; persistent
/// locks, adoption and purge; ticks with advancing time; retried request ids; wait timeouts (some out of
/// bounds) and noDlckWt, now and then the refused noDlckBlk.
/// </summary>
internal sealed class LogGenerator(int seed, LockMachine machine)
{
    private static readonly string[] Spaces = ["ls", "delay", "wide"];
    private static readonly string[] ResourceNames = ["a", "b", "c", "d", "é-ü"];

    /// <summary>The principals sessions are opened by: none (an admin, or authentication off) and two tokens.</summary>
    public static readonly string?[] Principals = [null, "token:a", "token:b"];

    private readonly Random _random = new(seed);
    private readonly List<long> _sessions = new();
    private readonly List<Command> _sent = new();
    private long _index;
    private long _timeMs = 5_000_000;

    public HashSet<string> Kinds { get; } = new(StringComparer.Ordinal);

    /// <summary>How many commands were sent by a principal other than the session's or lock's owner.</summary>
    public int Foreign { get; private set; }

    public LogEntry Next()
    {
        var command = _index switch
        {
            0 => new CreateLockspace("ls", 8, 0),
            1 => new CreateLockspace("delay", 16, 1_500),
            2 => new CreateLockspace("wide", 256, 0),
            _ => Build(),
        };
        _timeMs += _random.Next(0, 8) == 0 ? _random.Next(0, 3_000) : _random.Next(0, 40);
        Kinds.Add(command.GetType().Name);
        _sent.Add(command);
        var entry = new LogEntry(++_index, _timeMs, command);
        return entry;
    }

    private Command Build()
    {
        RefreshSessions();
        if (_sessions.Count < 3 || _random.Next(100) < 3)
        {
            return new OpenSession($"s{_index}", _random.Next(500, 20_000), Principals[_random.Next(Principals.Length)]);
        }
        var session = _sessions[_random.Next(_sessions.Count)];
        var roll = _random.Next(1_000);
        if (roll < 15) return new CloseSession(session, Caller(session));
        if (roll < 30) return new ExpireSession(session);
        if (roll < 70) return new KeepAlive(session);
        if (roll < 80) return new ExtendDeadlines();
        if (roll < 130) return new Tick();
        if (roll < 140) return new CreateLockspace("tmp", 8 * _random.Next(1, 33), _random.Next(0, 3) * 500);
        if (roll < 145) return new DeleteLockspace("tmp", _random.Next(2) == 0);
        if (roll < 165) return new AdoptOrphan(session, RequestId(), Space(), Resource(), Mode(), Caller(session));
        if (roll < 175) return new PurgeOrphans(Space(), Resource());
        if (roll < 195 && _sent.Count > 10) return _sent[^_random.Next(1, 10)]; // a retry of a recent command
        if (roll < 480) return NewRequest(session);
        if (roll < 700) return Conversion(session);
        return Release(session);
    }

    private Command NewRequest(long session)
    {
        var flags = RandomFlags(Modes.NewRequestFlags & ~LockFlags.Expedite);
        var mode = Mode();
        if (mode == LockMode.NL && _random.Next(5) == 0) flags |= LockFlags.Expedite;
        var parent = 0L;
        var space = Space();
        if (_random.Next(4) == 0 && PickLock(session) is { } owned && owned.ParentLockId == 0)
        {
            parent = owned.LockId;
            space = owned.Lockspace;
        }
        return new RequestLock(session, RequestId(), space, Resource(), mode, parent, flags | NoDlckBlkNowAndThen(), TimeoutMs(), Caller(session));
    }

    private Command Conversion(long session)
    {
        var target = PickLock(session);
        var flags = RandomFlags(Modes.ConvertFlags);
        if (target is null) return new ConvertLock(session, RequestId(), Space(), _random.Next(1, 5_000), Mode(), null, flags, TimeoutMs(), Caller(session));
        var mode = Mode();
        byte[]? lvb = null;
        if (target.Mode >= LockMode.PW && _random.Next(2) == 0)
        {
            mode = (LockMode)_random.Next(0, (int)LockMode.PW);
            lvb = Lvb(target.Lockspace);
        }
        return new ConvertLock(_random.Next(2) == 0 ? 0 : session, RequestId(), target.Lockspace, target.LockId, mode, lvb, flags | NoDlckBlkNowAndThen(), TimeoutMs(), Caller(session));
    }

    private Command Release(long session)
    {
        var target = PickLock(session);
        if (target is null) return new Unlock(session, RequestId(), Space(), _random.Next(1, 5_000), null, LockFlags.None, false, Caller(session));
        var lvb = target.Mode >= LockMode.PW && _random.Next(2) == 0 ? Lvb(target.Lockspace) : null;
        var flags = _random.Next(10) == 0 ? LockFlags.IvValBlk : LockFlags.None;
        return new Unlock(_random.Next(2) == 0 ? 0 : session, RequestId(), target.Lockspace, target.LockId, lvb, flags, _random.Next(6) == 0, Caller(session));
    }

    /// <summary>
    /// Who sends a command on a session (or on one of its locks): mostly its owner, now and then an admin (no
    /// principal), and now and then another principal, whose command must be refused alike on every copy.
    /// </summary>
    private string? Caller(long session)
    {
        var owner = machine.GetSession(session)?.Owner;
        var roll = _random.Next(100);
        if (roll < 10) return null;
        if (roll >= 90 && Principals.FirstOrDefault(item => item is not null && item != owner) is { } other)
        {
            Foreign++;
            return other;
        }
        return owner;
    }

    private void RefreshSessions()
    {
        _sessions.Clear();
        foreach (var (sessionId, _, _) in machine.SessionDeadlines()) _sessions.Add(sessionId);
        _sessions.Sort();
    }

    private LockView? PickLock(long session)
    {
        var locks = machine.GetSession(session)?.Locks;
        if (locks is null || locks.Count == 0) return null;
        return locks[_random.Next(locks.Count)];
    }

    private byte[] Lvb(string space)
    {
        var size = machine.GetLockspace(space)?.LvbBytes ?? 8;
        var bytes = new byte[size];
        _random.NextBytes(bytes);
        return bytes;
    }

    private LockFlags RandomFlags(LockFlags allowed)
    {
        var flags = LockFlags.None;
        for (var bit = 0; bit < 16; bit++)
        {
            var flag = (LockFlags)(1 << bit);
            if ((allowed & flag) != 0 && _random.Next(12) == 0) flags |= flag;
        }
        return flags;
    }

    /// <summary>A third of the requests wait at most a few hundred entries; a few have a timeout out of bounds.</summary>
    private int TimeoutMs() => _random.Next(100) switch
    {
        < 30 => _random.Next(1, 4_000),
        30 => CommandShape.MaxTimeoutMs + _random.Next(1, 10),
        31 => -1,
        _ => 0,
    };

    private LockFlags NoDlckBlkNowAndThen() => _random.Next(100) == 0 ? LockFlags.NoDlckBlk : LockFlags.None;

    private long RequestId() => _random.Next(4) == 0 ? _random.Next(1, 40) : 0;

    private string Space() => Spaces[_random.Next(Spaces.Length)];

    private string Resource() => ResourceNames[_random.Next(ResourceNames.Length)];

    private LockMode Mode() => (LockMode)_random.Next(Modes.Count);
}
