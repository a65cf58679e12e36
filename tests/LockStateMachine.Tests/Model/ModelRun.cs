using System.Text;
using Xunit.Sdk;

namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>One seeded run: drives a fresh machine and the model side by side and compares after every step.</summary>
internal sealed class ModelRun
{
    private const string Space = "ls";
    private static readonly string[] ResourceNames = ["r0", "r1", "r2", "r3"];

    /// <summary>The principals sessions are opened by: none (an admin, or authentication off) and two tokens.</summary>
    private static readonly string?[] Principals = [null, "token:a", "token:b"];

    private readonly int _seed;
    private readonly Random _random;
    private readonly LockMachine _machine = new();
    private readonly ReferenceModel _model = new();
    private readonly InvariantChecker _checker = new(Space);
    private readonly List<long> _sessions = new();
    private readonly List<long> _closed = new();
    private readonly List<long> _goneLocks = new();
    private readonly Queue<string> _trace = new();
    private readonly Dictionary<long, List<long>> _expectedTimeouts = new();
    private readonly Dictionary<long, long> _seenEventSeq = new();
    private readonly Dictionary<long, string?> _owners = new();

    /// <summary>With <c>RAFTDLM_STATS=1</c>, how often each outcome happened (to see what the runs exercise).</summary>
    public static SortedDictionary<string, int>? Stats { get; } =
        Environment.GetEnvironmentVariable("RAFTDLM_STATS") == "1" ? new(StringComparer.Ordinal) : null;
    private long _index;
    private long _timeMs = 1_000_000;
    private int _step;

    public ModelRun(int seed)
    {
        _seed = seed;
        _random = new Random(seed);
    }

    public void Run(int steps)
    {
        Advance();
        Assert.IsType<LockspaceResult>(Apply(new CreateLockspace(Space, 8, 0)));
        var sessionCount = 4 + _random.Next(3);
        for (var i = 0; i < sessionCount; i++) OpenSession();

        for (_step = 1; _step <= steps; _step++)
        {
            var roll = _random.Next(100);
            if (roll < 36) DoRequest();
            else if (roll < 64) DoConvert();
            else if (roll < 92) DoUnlock();
            else if (roll < 95) DoForeignOperation();
            else if (roll < 97) DoCloseSession();
            else DoStaleOperation();
            CompareState();
        }
        if (Stats is not null)
        {
            lock (Stats) File.WriteAllLines(Path.Combine(Path.GetTempPath(), "raftdlm-model-stats.txt"), Stats.Select(item => $"{item.Value,7} {item.Key}"));
        }
    }

    // ---------------------------------------------------------------- operations

    private void DoRequest()
    {
        Advance();
        var session = Pick(_sessions);
        var resource = ResourceNames[_random.Next(ResourceNames.Length)];
        var mode = (LockMode)_random.Next(Modes.Count);
        var flags = LockFlags.None;
        if (Chance(10)) flags |= LockFlags.NoQueue;
        if (Chance(7)) flags |= LockFlags.HeadQue;
        if (Chance(7)) flags |= LockFlags.NoOrder;
        if (Chance(7)) flags |= LockFlags.AltPr;
        else if (Chance(7)) flags |= LockFlags.AltCw;
        if (Chance(2)) flags |= LockFlags.AltPr | LockFlags.AltCw;
        if (mode == LockMode.NL && Chance(20)) flags |= LockFlags.Expedite;
        if (Chance(8)) flags |= LockFlags.NoDlckWt;
        if (Chance(1)) flags |= LockFlags.NoDlckBlk;
        var timeoutMs = PickTimeoutMs();

        var command = new RequestLock(session, 0, Space, resource, mode, 0, flags, timeoutMs, Caller(session));
        var index = _index + 1;
        var expected = _model.Request(index, _timeMs, session, resource, mode, flags, timeoutMs);
        var actual = Apply(command);
        if (actual is LockResult lockResult && expected.Lock is not null) _model.Bind(expected.Lock, lockResult.Lock.LockId);
        NoteFlags(actual, flags);
        CompareOutcome(command, expected, actual);
    }

    private void DoConvert()
    {
        Advance();
        var lockId = PickLock(preferGranted: true);
        var mode = (LockMode)_random.Next(Modes.Count);
        var flags = LockFlags.None;
        if (Chance(10)) flags |= LockFlags.NoQueue;
        if (Chance(10)) flags |= LockFlags.QueCvt;
        if (Chance(7)) flags |= LockFlags.HeadQue;
        if (Chance(7)) flags |= LockFlags.NoOrder;
        if (Chance(7)) flags |= LockFlags.AltPr;
        else if (Chance(7)) flags |= LockFlags.AltCw;
        if (Chance(25)) flags |= LockFlags.ConvDeadlk;
        if (Chance(8)) flags |= LockFlags.NoDlckWt;
        if (Chance(1)) flags |= LockFlags.NoDlckBlk;
        var timeoutMs = PickTimeoutMs();

        var owner = _model.Locks.TryGetValue(lockId, out var known) && Chance(50) ? known.Session : 0;
        var command = new ConvertLock(owner, 0, Space, lockId, mode, null, flags, timeoutMs, Caller(known?.Session));
        var expected = _model.Convert(_index + 1, _timeMs, lockId, mode, flags, timeoutMs);
        var actual = Apply(command);
        NoteFlags(actual, flags);
        CompareOutcome(command, expected, actual);
    }

    private void DoUnlock()
    {
        Advance();
        var lockId = PickLock(preferGranted: false);
        var owner = _model.Locks.TryGetValue(lockId, out var known) && Chance(50) ? known.Session : 0;
        var command = new Unlock(owner, 0, Space, lockId, null, LockFlags.None, false, Caller(known?.Session));
        var expected = _model.Unlock(_index + 1, lockId);
        if (expected.Kind == OutcomeKind.Released || (expected.Kind == OutcomeKind.Cancelled && !_model.Locks.ContainsKey(lockId)))
        {
            _goneLocks.Add(lockId);
        }
        var actual = Apply(command);
        CompareOutcome(command, expected, actual);
    }

    private void DoCloseSession()
    {
        Advance();
        var session = Pick(_sessions);
        // Its events go with it: a timeout in this very entry is not seen.
        _expectedTimeouts.Remove(session);
        foreach (var item in _model.Locks.Values.Where(item => item.Session == session)) _goneLocks.Add(item.Id);
        var command = new CloseSession(session, Caller(session));
        _model.CloseSession(_index + 1, session);
        var actual = Apply(command);
        Check(actual is not ErrorResult, $"closing a live session failed: {actual}");
        _sessions.Remove(session);
        _closed.Add(session);
        CompareState();
        OpenSession();
    }

    /// <summary>Operations on ids that no longer name anything: they must fail and change nothing.</summary>
    private void DoStaleOperation()
    {
        Advance();
        Command command;
        switch (_random.Next(3))
        {
            case 0 when _closed.Count > 0:
                command = new RequestLock(Pick(_closed), 0, Space, ResourceNames[0], LockMode.EX, 0, LockFlags.None);
                break;
            case 1 when _goneLocks.Count > 0:
                command = new ConvertLock(0, 0, Space, Pick(_goneLocks), LockMode.NL, null, LockFlags.None);
                break;
            default:
                command = new Unlock(0, 0, Space, _goneLocks.Count > 0 ? Pick(_goneLocks) : 9_999_999, null, LockFlags.None, false);
                break;
        }
        var actual = Apply(command);
        var error = actual as ErrorResult;
        Check(error is not null && error.Code is ErrorCode.NotFound or ErrorCode.SessionExpired,
            $"a command on a gone id should fail with NotFound/SessionExpired, got {actual}");
    }

    /// <summary>
    /// A command from a principal other than the owner of the session or lock it names: refused exactly as one
    /// on an id that does not exist, and nothing changes (the model is not told; the comparison after the step
    /// checks the machine still agrees with it).
    /// </summary>
    private void DoForeignOperation()
    {
        Advance();
        var owned = _model.Locks.Values.Where(item => _owners[item.Session] is not null).OrderBy(item => item.Id).ToList();
        var sessions = _sessions.Where(session => _owners[session] is not null).ToList();
        if (sessions.Count == 0) return;
        var session = Pick(sessions);
        var lockItem = owned.Count > 0 && Chance(60) ? Pick(owned) : null;
        if (lockItem is not null) session = lockItem.Session;
        var stranger = Principals.First(item => item is not null && item != _owners[session]);
        Command command = lockItem switch
        {
            { } item when Chance(50) => new ConvertLock(Chance(50) ? 0 : item.Session, 0, Space, item.Id, (LockMode)_random.Next(Modes.Count), null, LockFlags.None, 0, stranger),
            { } item => new Unlock(Chance(50) ? 0 : item.Session, 0, Space, item.Id, null, LockFlags.None, Chance(20), stranger),
            null => _random.Next(3) switch
            {
                0 => new RequestLock(session, 0, Space, Pick(ResourceNames), (LockMode)_random.Next(Modes.Count), 0, LockFlags.None, 0, stranger),
                1 => new AdoptOrphan(session, 0, Space, Pick(ResourceNames), LockMode.EX, stranger),
                _ => new CloseSession(session, stranger),
            },
        };
        var actual = Apply(command);
        Check(actual is ErrorResult { Code: ErrorCode.NotFound or ErrorCode.SessionExpired },
            $"{Describe(command)} from {stranger}, not the owner {_owners[session]}, should answer as for an id that does not exist, got {DescribeResult(actual)}");
    }

    /// <summary>Who sends a command on a session: mostly its owner, now and then an admin (no principal).</summary>
    private string? Caller(long? session) =>
        session is { } id && _owners.TryGetValue(id, out var owner) && !Chance(15) ? owner : null;

    private void OpenSession()
    {
        Advance();
        var owner = Pick(Principals);
        var result = Apply(new OpenSession($"client-{_sessions.Count + _closed.Count}", 3_600_000, owner));
        var session = Assert.IsType<SessionResult>(result).SessionId;
        _owners[session] = owner;
        _sessions.Add(session);
        _model.AddSession(session);
    }

    // ---------------------------------------------------------------- comparison

    /// <summary>No timeout most of the time; else one that fires within a few dozen entries, or an out-of-bounds one.</summary>
    private int PickTimeoutMs()
    {
        if (!Chance(30)) return 0;
        if (Chance(3)) return Chance(50) ? -_random.Next(1, 100) : CommandShape.MaxTimeoutMs + 1;
        return Chance(5) ? CommandShape.MaxTimeoutMs : _random.Next(1, 1_500);
    }

    /// <summary>
    /// Moves leader time on for the next entry and lets the model time out what the machine will time out
    /// when it applies that entry. Called once before every <see cref="Apply"/>.
    /// </summary>
    private void Advance()
    {
        _timeMs += _random.Next(0, 50);
        foreach (var item in _model.ExpireTimeouts(_index + 1, _timeMs))
        {
            if (!_expectedTimeouts.TryGetValue(item.Session, out var list)) _expectedTimeouts[item.Session] = list = new List<long>();
            list.Add(item.Id);
            if (item.State == ModelState.Waiting) _goneLocks.Add(item.Id);
            if (Stats is not null)
            {
                var key = $"Timeout -> {(item.State == ModelState.Waiting ? "waiter removed" : "conversion back to its mode")}";
                lock (Stats) Stats[key] = Stats.GetValueOrDefault(key) + 1;
            }
        }
    }

    private Result Apply(Command command)
    {
        var entry = new LogEntry(++_index, _timeMs, command);
        _trace.Enqueue($"[{_index}] t={_timeMs} {Describe(command)}");
        while (_trace.Count > 40) _trace.Dequeue();
        Result result;
        try
        {
            result = _machine.Apply(entry);
        }
        catch (Exception error)
        {
            throw new XunitException(Context($"Apply threw {error}"));
        }
        _trace.Enqueue($"      -> {DescribeResult(result)}");
        return result;
    }

    private void NoteFlags(Result actual, LockFlags flags)
    {
        if (actual is LockResult result) _checker.NoteFlags(result.Lock.LockId, flags);
    }

    private void CompareOutcome(Command command, ModelOutcome expected, Result actual)
    {
        if (Stats is not null)
        {
            var key = $"{command.GetType().Name} -> {expected}";
            lock (Stats) Stats[key] = Stats.GetValueOrDefault(key) + 1;
        }
        var resourceName = command switch
        {
            RequestLock request => request.Resource,
            _ when expected.Lock is not null => expected.Lock.Resource,
            _ => null,
        };
        var modelResource = resourceName is null ? null : _model.Resource(resourceName);
        var what = $"outcome of {Describe(command)}: model says {expected}, machine says {DescribeResult(actual)}"
            + (resourceName is null ? "" : $"\n  after it, {resourceName} in the model: {(modelResource is null ? "(none)" : DescribeModel(modelResource))}, in the machine: {DescribeResource(_machine.GetResource(Space, resourceName))}");
        if (expected.Kind == OutcomeKind.Error)
        {
            var error = actual as ErrorResult;
            var sameCode = error is not null && (error.Code == expected.Error
                || (expected.Error == ErrorCode.SessionExpired && error.Code == ErrorCode.NotFound));
            Check(sameCode, what);
            return;
        }
        Check(actual is LockResult, what);
        var view = ((LockResult)actual).Lock;
        var state = expected.Kind switch
        {
            OutcomeKind.Granted => LockViewState.Granted,
            OutcomeKind.Waiting => LockViewState.Waiting,
            OutcomeKind.Converting => LockViewState.Converting,
            OutcomeKind.Released => LockViewState.Released,
            _ => LockViewState.Cancelled,
        };
        Check(view.State == state, what);
        Check(((LockResult)actual).Demoted == expected.Demoted, what);
        if (expected.Kind is OutcomeKind.Granted or OutcomeKind.Converting) Check(view.Mode == expected.Mode, what);
        if (expected.Kind == OutcomeKind.Granted) Check(view.FencingToken == expected.Lock!.Token, what);
    }

    private void CompareState()
    {
        Check(_machine.NextTimeoutDueMs == _model.NextTimeoutDueMs,
            $"next timeout: machine {_machine.NextTimeoutDueMs}, model {_model.NextTimeoutDueMs}");
        foreach (var session in _sessions)
        {
            var page = _machine.GetEvents(session, _seenEventSeq.GetValueOrDefault(session), 100_000)!;
            var timedOut = page.Events.Where(item => item.Type == EventType.Timeout).Select(item => item.LockId).ToList();
            var expected = _expectedTimeouts.GetValueOrDefault(session) ?? [];
            Check(timedOut.SequenceEqual(expected), $"session {session} timeout events: machine [{string.Join(",", timedOut)}] model [{string.Join(",", expected)}]");
            _expectedTimeouts.Remove(session);
            _seenEventSeq[session] = page.LastSeq;
        }
        foreach (var name in ResourceNames)
        {
            var actual = _machine.GetResource(Space, name);
            var expected = _model.Resource(name);
            if (expected is null)
            {
                Check(actual is null, $"resource {name} should not exist, machine has {DescribeResource(actual)}");
                continue;
            }
            Check(actual is not null, $"resource {name} should exist: {DescribeModel(expected)}");
            var machineText = DescribeResource(actual);
            var modelText = DescribeModel(expected);
            Check(machineText == modelText, $"resource {name} differs\n  model:   {modelText}\n  machine: {machineText}");
        }
        foreach (var session in _sessions)
        {
            var view = _machine.GetSession(session);
            Check(view is not null && !view.Expired, $"session {session} should be live");
            var mine = view!.Locks.Select(item => item.LockId).OrderBy(id => id).ToList();
            var model = _model.Locks.Values.Where(item => item.Session == session).Select(item => item.Id).OrderBy(id => id).ToList();
            Check(mine.SequenceEqual(model), $"session {session} locks: machine [{string.Join(",", mine)}] model [{string.Join(",", model)}]");
        }
        foreach (var principal in Principals.OfType<string>())
        {
            // The quota counts: the principal's live sessions and every lock they own, whatever its state.
            var sessions = _sessions.Where(session => _owners[session] == principal).ToHashSet();
            var expected = (sessions.Count, (long)_model.Locks.Values.Count(item => sessions.Contains(item.Session)));
            var actual = _machine.OwnerUsage(principal);
            Check(actual == expected, $"{principal} holds {actual} by the machine's count, {expected} by the model's");
        }
        try
        {
            _checker.Check(_machine, _index, ResourceNames, _sessions.Concat(_closed));
        }
        catch (InvariantException broken)
        {
            throw new XunitException(Context(broken.Message));
        }
    }

    private void Check(bool condition, string message)
    {
        if (!condition) throw new XunitException(Context(message));
    }

    private string Context(string message) =>
        $"seed {_seed}, step {_step}, entry {_index}: {message}\nlast entries:\n{string.Join("\n", _trace)}";

    // ---------------------------------------------------------------- picking

    private bool Chance(int percent) => _random.Next(100) < percent;

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private long PickLock(bool preferGranted)
    {
        var all = _model.Locks.Values.OrderBy(item => item.Id).ToList();
        if (all.Count == 0 || Chance(3)) return _goneLocks.Count > 0 ? Pick(_goneLocks) : 9_999_999;
        if (preferGranted && Chance(85))
        {
            var granted = all.Where(item => item.State == ModelState.Granted).ToList();
            if (granted.Count > 0) return Pick(granted).Id;
        }
        return Pick(all).Id;
    }

    // ---------------------------------------------------------------- text

    private static string DescribeModel(ModelResource resource)
    {
        var text = new StringBuilder();
        text.Append("G[");
        text.AppendJoin(" ", resource.Granted.Select(item => $"{item.Id}:{item.Held}@{item.Token}"));
        text.Append("] C[");
        text.AppendJoin(" ", resource.Converting.Select(item => $"{item.Id}:{item.Held}->{item.Requested}@{item.Token}"));
        text.Append("] W[");
        text.AppendJoin(" ", resource.Waiting.Select(item => $"{item.Id}:{item.Requested}"));
        text.Append(']');
        return text.ToString();
    }

    internal static string DescribeResource(ResourceView? resource)
    {
        if (resource is null) return "(none)";
        var text = new StringBuilder();
        text.Append("G[");
        text.AppendJoin(" ", resource.Granted.Select(item => $"{item.LockId}:{item.Mode}@{item.FencingToken}"));
        text.Append("] C[");
        text.AppendJoin(" ", resource.Converting.Select(item => $"{item.LockId}:{item.Mode}->{item.RequestedMode}@{item.FencingToken}"));
        text.Append("] W[");
        text.AppendJoin(" ", resource.Waiting.Select(item => $"{item.LockId}:{item.RequestedMode}"));
        text.Append(']');
        return text.ToString();
    }

    internal static string Describe(Command? command) => command switch
    {
        RequestLock r => $"RequestLock(s{r.SessionId}, {r.Resource}, {r.Mode}, {r.Flags}{(r.TimeoutMs == 0 ? "" : $", timeout {r.TimeoutMs}")})",
        ConvertLock c => $"ConvertLock(s{c.SessionId}, #{c.LockId}, {c.Mode}, {c.Flags}{(c.TimeoutMs == 0 ? "" : $", timeout {c.TimeoutMs}")})",
        Unlock u => $"Unlock(s{u.SessionId}, #{u.LockId})",
        null => "(null)",
        _ => command.ToString(),
    };

    internal static string DescribeResult(Result result) => result switch
    {
        LockResult l => $"LockResult(#{l.Lock.LockId} s{l.Lock.SessionId} {l.Lock.State} mode={l.Lock.Mode} req={l.Lock.RequestedMode} tok={l.Lock.FencingToken}{(l.Demoted ? " demoted" : "")})",
        ErrorResult e => $"Error({e.Code}: {e.Message})",
        _ => result.ToString(),
    };
}
