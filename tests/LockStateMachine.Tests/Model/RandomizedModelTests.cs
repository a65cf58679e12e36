using System.Text;
using Xunit.Sdk;

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

/// <summary>One seeded run: drives a fresh machine and the model side by side and compares after every step.</summary>
internal sealed class ModelRun
{
    private const string Space = "ls";
    private static readonly string[] ResourceNames = ["r0", "r1", "r2", "r3"];

    private readonly int _seed;
    private readonly Random _random;
    private readonly LockMachine _machine = new();
    private readonly ReferenceModel _model = new();
    private readonly InvariantChecker _checker = new(Space);
    private readonly List<long> _sessions = new();
    private readonly List<long> _closed = new();
    private readonly List<long> _goneLocks = new();
    private readonly Queue<string> _trace = new();

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
        Assert.IsType<LockspaceResult>(Apply(new CreateLockspace(Space, 8, 0)));
        var sessionCount = 4 + _random.Next(3);
        for (var i = 0; i < sessionCount; i++) OpenSession();

        for (_step = 1; _step <= steps; _step++)
        {
            var roll = _random.Next(100);
            if (roll < 36) DoRequest();
            else if (roll < 64) DoConvert();
            else if (roll < 95) DoUnlock();
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

        var command = new RequestLock(session, 0, Space, resource, mode, 0, flags);
        var index = _index + 1;
        var expected = _model.Request(index, session, resource, mode, flags);
        var actual = Apply(command);
        if (actual is LockResult lockResult && expected.Lock is not null) _model.Bind(expected.Lock, lockResult.Lock.LockId);
        NoteFlags(actual, flags);
        CompareOutcome(command, expected, actual);
    }

    private void DoConvert()
    {
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

        var owner = _model.Locks.TryGetValue(lockId, out var known) && Chance(50) ? known.Session : 0;
        var command = new ConvertLock(owner, 0, Space, lockId, mode, null, flags);
        var expected = _model.Convert(_index + 1, lockId, mode, flags);
        var actual = Apply(command);
        NoteFlags(actual, flags);
        CompareOutcome(command, expected, actual);
    }

    private void DoUnlock()
    {
        var lockId = PickLock(preferGranted: false);
        var owner = _model.Locks.TryGetValue(lockId, out var known) && Chance(50) ? known.Session : 0;
        var command = new Unlock(owner, 0, Space, lockId, null, LockFlags.None, false);
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
        var session = Pick(_sessions);
        foreach (var item in _model.Locks.Values.Where(item => item.Session == session)) _goneLocks.Add(item.Id);
        var command = new CloseSession(session);
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

    private void OpenSession()
    {
        var result = Apply(new OpenSession($"client-{_sessions.Count + _closed.Count}", 3_600_000));
        var session = Assert.IsType<SessionResult>(result).SessionId;
        _sessions.Add(session);
        _model.AddSession(session);
    }

    // ---------------------------------------------------------------- comparison

    private Result Apply(Command command)
    {
        _timeMs += _random.Next(0, 50);
        var entry = new LogEntry(++_index, _timeMs, command);
        _trace.Enqueue($"[{_index}] {Describe(command)}");
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
        RequestLock r => $"RequestLock(s{r.SessionId}, {r.Resource}, {r.Mode}, {r.Flags})",
        ConvertLock c => $"ConvertLock(s{c.SessionId}, #{c.LockId}, {c.Mode}, {c.Flags})",
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

internal sealed class InvariantException(string message) : Exception(message);

/// <summary>
/// Checks, through the public queries only, what must hold after every entry. It remembers the previous
/// picture of each lock to check fencing tokens and queue order across entries. Flags of queued requests
/// are learnt through <see cref="NoteFlags"/>; an unknown lock counts as having no flags.
/// </summary>
internal sealed class InvariantChecker(string lockspace)
{
    private readonly Dictionary<long, LockFlags> _flags = new();
    private readonly Dictionary<long, (LockView View, string Resource)> _previous = new();
    private readonly Dictionary<long, long> _enqueued = new();
    private readonly Dictionary<string, long> _maxToken = new(StringComparer.Ordinal);
    private long _enqueueSeq;

    public void NoteFlags(long lockId, LockFlags flags) => _flags[lockId] = flags;

    private bool Has(long lockId, LockFlags flag) => _flags.TryGetValue(lockId, out var flags) && (flags & flag) != 0;

    public void Check(LockMachine machine, long index, IEnumerable<string> resources, IEnumerable<long> sessions)
    {
        var current = new Dictionary<long, (LockView View, string Resource)>();
        var views = new Dictionary<string, ResourceView>(StringComparer.Ordinal);
        foreach (var name in resources.Distinct())
        {
            ResourceView? resource;
            try
            {
                resource = machine.GetResource(lockspace, name);
            }
            catch (Exception error)
            {
                throw new InvariantException($"GetResource({name}) threw {error.GetType().Name}: {error.Message}");
            }
            if (resource is null) continue;
            views[name] = resource;
            CheckResource(machine, index, name, resource);
            foreach (var item in resource.Granted.Concat(resource.Converting).Concat(resource.Waiting)) current[item.LockId] = (item, name);
        }

        CheckTransitions(index, current, views);
        CheckSessions(machine, sessions, current, views.Keys.ToHashSet());

        _previous.Clear();
        foreach (var (id, item) in current) _previous[id] = item;
    }

    private void CheckResource(LockMachine machine, long index, string name, ResourceView resource)
    {
        var where = $"resource {name} {ModelRun.DescribeResource(resource)}";
        if (resource.Granted.Count + resource.Converting.Count + resource.Waiting.Count == 0) Fail($"{where}: exists without locks");

        foreach (var item in resource.Granted)
        {
            if (item.State is not (LockViewState.Granted or LockViewState.Orphan) || item.Mode is null || (item.State == LockViewState.Orphan) != (item.SessionId == 0)) Fail($"{where}: lock {item.LockId} in the granted list is {item.State}/{item.Mode}");
        }
        foreach (var item in resource.Converting)
        {
            if (item.State != LockViewState.Converting || item.Mode is null || item.RequestedMode is null)
            {
                Fail($"{where}: lock {item.LockId} in the converting queue is {item.State}/{item.Mode}/{item.RequestedMode}");
            }
        }
        foreach (var item in resource.Waiting)
        {
            if (item.State != LockViewState.Waiting || item.Mode is not null || item.RequestedMode is null)
            {
                Fail($"{where}: lock {item.LockId} in the waiting queue is {item.State}/{item.Mode}/{item.RequestedMode}");
            }
        }

        // No two incompatible modes are held at once (a converting lock still holds its old mode).
        var holders = resource.Granted.Concat(resource.Converting).ToList();
        for (var i = 0; i < holders.Count; i++)
        {
            for (var j = i + 1; j < holders.Count; j++)
            {
                if (!Modes.Compatible(holders[i].Mode!.Value, holders[j].Mode!.Value))
                {
                    Fail($"{where}: {holders[i].LockId} holds {holders[i].Mode} beside {holders[j].LockId} holding {holders[j].Mode}");
                }
            }
        }

        // Tokens never exceed the current entry and are positive for held locks.
        foreach (var item in holders)
        {
            if (item.FencingToken <= 0 || item.FencingToken > index) Fail($"{where}: lock {item.LockId} has token {item.FencingToken} at entry {index}");
        }

        // Every queued request has a reason to wait.
        foreach (var item in resource.Converting)
        {
            var others = holders.Where(other => other.LockId != item.LockId).Select(other => other.Mode!.Value).ToList();
            var incompatible = !AnyGrantable(item.LockId, item.RequestedMode!.Value, others);
            var behind = !Has(item.LockId, LockFlags.NoOrder) && resource.Converting[0].LockId != item.LockId;
            if (!incompatible && !behind) Fail($"{where}: conversion {item.LockId} waits with no reason");
        }
        foreach (var item in resource.Waiting)
        {
            var held = holders.Select(other => other.Mode!.Value).ToList();
            var incompatible = !AnyGrantable(item.LockId, item.RequestedMode!.Value, held);
            var behind = !Has(item.LockId, LockFlags.NoOrder) && (resource.Converting.Count > 0 || resource.Waiting[0].LockId != item.LockId);
            if (!incompatible && !behind) Fail($"{where}: request {item.LockId} waits with no reason");
        }

        // The lock as seen alone agrees with the resource's picture.
        foreach (var item in holders.Concat(resource.Waiting))
        {
            var alone = machine.GetLock(lockspace, item.LockId);
            if (alone is null || alone.State != item.State || alone.Mode != item.Mode || alone.RequestedMode != item.RequestedMode
                || alone.SessionId != item.SessionId || alone.FencingToken != item.FencingToken || alone.Resource != name)
            {
                Fail($"{where}: GetLock({item.LockId}) says {alone}");
            }
        }
    }

    private bool AnyGrantable(long lockId, LockMode requested, List<LockMode> held)
    {
        bool Fits(LockMode mode) => held.All(other => Modes.Compatible(other, mode));
        if (Fits(requested)) return true;
        // One alternate at most: PR when altPr is set and PR was not asked for, else CW when altCw is set.
        if (Has(lockId, LockFlags.AltPr) && requested != LockMode.PR) return Fits(LockMode.PR);
        return Has(lockId, LockFlags.AltCw) && Fits(LockMode.CW);
    }

    private void CheckTransitions(long index, Dictionary<long, (LockView View, string Resource)> current, Dictionary<string, ResourceView> views)
    {
        foreach (var (id, (view, resource)) in current)
        {
            _previous.TryGetValue(id, out var before);
            var previous = before.View;
            var where = $"lock {id} on {resource} ({previous?.State}/{previous?.Mode}@{previous?.FencingToken} -> {view.State}/{view.Mode}@{view.FencingToken})";
            if (previous is not null && before.Resource != resource) Fail($"{where}: moved from resource {before.Resource}");

            if (view.State is LockViewState.Granted or LockViewState.Orphan)
            {
                var issued = false;
                if (previous is null || previous.State == LockViewState.Waiting)
                {
                    if (view.FencingToken != index) Fail($"{where}: a grant in entry {index} must carry token {index}");
                    issued = true;
                }
                else if (previous.State == LockViewState.Converting)
                {
                    // A conversion granted from the queue: new token, unless it ended below what it held.
                    var kept = Modes.Covers(previous.Mode!.Value, view.Mode!.Value) && view.FencingToken == previous.FencingToken;
                    if (!kept && view.FencingToken != index) Fail($"{where}: a conversion granted in entry {index} must carry token {index}");
                    issued = !kept;
                }
                else if (previous.Mode != view.Mode)
                {
                    var down = Modes.Covers(previous.Mode!.Value, view.Mode!.Value);
                    // A down-conversion keeps its token; an upward request granted in an alternate mode that is
                    // below the old one is still an upward conversion and may get a new one.
                    if (down && view.FencingToken != previous.FencingToken && view.FencingToken != index) Fail($"{where}: a down-conversion must keep its token");
                    if (!down && view.FencingToken != index) Fail($"{where}: an upward conversion in entry {index} must carry token {index}");
                    issued = !down;
                }
                else if (view.FencingToken != previous.FencingToken && !(view.FencingToken == index && previous.FencingToken < index))
                {
                    Fail($"{where}: the token of an unchanged lock changed");
                }
                if (issued)
                {
                    if (_maxToken.TryGetValue(resource, out var max) && view.FencingToken < max) Fail($"{where}: token went back below {max}");
                    _maxToken[resource] = view.FencingToken;
                }
            }
            else if (view.State == LockViewState.Converting && previous is not null && previous.State != LockViewState.Waiting)
            {
                if (view.FencingToken != previous.FencingToken) Fail($"{where}: a queued conversion must keep its token");
            }

            // Track enqueue order.
            var queuedNow = view.State is LockViewState.Waiting or LockViewState.Converting;
            if (queuedNow && (previous is null || previous.State != view.State)) _enqueued[id] = ++_enqueueSeq;
            if (!queuedNow) _enqueued.Remove(id);
        }
        foreach (var id in _enqueued.Keys.Where(id => !current.ContainsKey(id)).ToList()) _enqueued.Remove(id);

        foreach (var (name, resource) in views)
        {
            CheckQueueOrder(name, "converting", resource.Converting);
            CheckQueueOrder(name, "waiting", resource.Waiting);

            // Nothing overtook a request that is still queued ahead of it, unless noOrder allowed it.
            foreach (var item in resource.Granted)
            {
                if (!_previous.TryGetValue(item.LockId, out var before)) continue;
                var fromState = before.View.State;
                if (fromState is not (LockViewState.Waiting or LockViewState.Converting)) continue;
                var queueNow = fromState == LockViewState.Waiting ? resource.Waiting : resource.Converting;
                if (Has(item.LockId, LockFlags.NoOrder)) continue;
                // A cancelled conversion goes back to its old mode and token: that is no grant.
                if (fromState == LockViewState.Converting && before.View.Mode == item.Mode && before.View.FencingToken == item.FencingToken) continue;
                if (fromState == LockViewState.Waiting && resource.Converting.Count > 0)
                {
                    Fail($"resource {name}: request {item.LockId} granted while conversions wait {ModelRun.DescribeResource(resource)}");
                }
                foreach (var still in queueNow)
                {
                    if (!_previous.TryGetValue(still.LockId, out var stillBefore) || stillBefore.View.State != fromState) continue;
                    var wasAhead = _enqueued.TryGetValue(still.LockId, out var seq) && Position(before.View, fromState, name) > Position(stillBefore.View, fromState, name);
                    if (wasAhead && !Has(still.LockId, LockFlags.NoOrder))
                    {
                        Fail($"resource {name}: request {item.LockId} was granted past {still.LockId} (seq {seq}) still queued ahead of it");
                    }
                }
            }
        }
    }

    private readonly Dictionary<(string Resource, LockViewState State), List<long>> _previousQueues = new();

    private int Position(LockView view, LockViewState queue, string resource) =>
        _previousQueues.TryGetValue((resource, queue), out var ids) ? ids.IndexOf(view.LockId) : -1;

    private void CheckQueueOrder(string name, string which, IReadOnlyList<LockView> queue)
    {
        // A request that joined later may only stand ahead of an earlier one when it was put at the head.
        for (var i = 0; i < queue.Count; i++)
        {
            for (var j = i + 1; j < queue.Count; j++)
            {
                var first = _enqueued.GetValueOrDefault(queue[i].LockId);
                var second = _enqueued.GetValueOrDefault(queue[j].LockId);
                if (first > second && !Has(queue[i].LockId, LockFlags.HeadQue))
                {
                    Fail($"resource {name}: {which} queue order {string.Join(",", queue.Select(item => item.LockId))} puts {queue[i].LockId} (joined later) ahead of {queue[j].LockId}");
                }
            }
        }
    }

    private void CheckSessions(LockMachine machine, IEnumerable<long> sessions, Dictionary<long, (LockView View, string Resource)> current, HashSet<string> resources)
    {
        var seen = new HashSet<long>();
        foreach (var session in sessions.Distinct())
        {
            var view = machine.GetSession(session);
            if (view is null) continue;
            if (view.Expired)
            {
                if (view.Locks.Any(item => !item.Persistent && item.State != LockViewState.Orphan)) Fail($"ended session {session} still lists locks");
                continue;
            }
            seen.Add(session);
            foreach (var item in view.Locks)
            {
                if (item.SessionId != session) Fail($"session {session} lists lock {item.LockId} of session {item.SessionId}");
                if (item.Lockspace != lockspace || item.ParentLockId != 0 || !resources.Contains(item.Resource))
                {
                    if (item.Lockspace == lockspace && item.ParentLockId == 0 && current.ContainsKey(item.LockId)) Fail($"session {session}: lock {item.LockId} listed on {item.Resource}");
                    continue;
                }
                if (!current.TryGetValue(item.LockId, out var onResource))
                {
                    Fail($"session {session} lists lock {item.LockId} ({item.State}) that is on no queue of {item.Resource}");
                }
                var queued = onResource.View;
                if (queued.State != item.State || queued.Mode != item.Mode || queued.RequestedMode != item.RequestedMode || onResource.Resource != item.Resource)
                {
                    Fail($"session {session} lists lock {item.LockId} as {item.State}/{item.Mode}/{item.RequestedMode}, the resource as {queued.State}/{queued.Mode}/{queued.RequestedMode}");
                }
            }
        }
        foreach (var (id, (view, resource)) in current)
        {
            if (view.SessionId == 0) continue;
            if (!seen.Contains(view.SessionId)) continue;
            var owner = machine.GetSession(view.SessionId)!;
            if (!owner.Locks.Any(item => item.LockId == id)) Fail($"lock {id} on {resource} is missing from session {view.SessionId}'s list");
        }

        _previousQueues.Clear();
        foreach (var (id, (view, resource)) in current)
        {
            if (view.State is not (LockViewState.Waiting or LockViewState.Converting)) continue;
            var key = (resource, view.State);
            if (!_previousQueues.TryGetValue(key, out var list)) _previousQueues[key] = list = new List<long>();
            list.Add(id);
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Fail(string message) => throw new InvariantException(message);
}
