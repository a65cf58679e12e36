namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>Where a lock of the reference model sits on its resource.</summary>
internal enum ModelState
{
    Granted,
    Converting,
    Waiting,
}

/// <summary>One lock (or pending request) of the reference model.</summary>
internal sealed class ModelLock
{
    public long Id { get; set; }
    public required long Session { get; init; }
    public required string Resource { get; init; }
    public ModelState State { get; set; }

    /// <summary>The mode held now (null while waiting). A converting lock keeps holding this.</summary>
    public LockMode? Held { get; set; }

    /// <summary>The mode asked for while waiting or converting.</summary>
    public LockMode Requested { get; set; }

    /// <summary>Flags of the pending request (new request or conversion).</summary>
    public LockFlags Flags { get; set; }

    public long Token { get; set; }

    /// <summary>The leader time at which the pending request times out; 0 for none.</summary>
    public long TimeoutDueMs { get; set; }

    public bool Has(LockFlags flag) => (Flags & flag) != 0;

    public override string ToString() =>
        $"#{Id}(s{Session} {State} held={Held?.ToString() ?? "-"} req={Requested} tok={Token} {Flags})";
}

internal sealed class ModelResource
{
    public List<ModelLock> Granted { get; } = new();
    public List<ModelLock> Converting { get; } = new();
    public List<ModelLock> Waiting { get; } = new();

    public bool IsEmpty => Granted.Count == 0 && Converting.Count == 0 && Waiting.Count == 0;

    /// <summary>Every lock that holds a mode: granted ones and converting ones (with their old mode).</summary>
    public IEnumerable<ModelLock> Holders => Granted.Concat(Converting);
}

internal enum OutcomeKind
{
    Granted,
    Waiting,
    Converting,
    Released,
    Cancelled,
    Error,
}

/// <summary>What the reference model says a command returns.</summary>
internal sealed record ModelOutcome(OutcomeKind Kind, ErrorCode? Error = null, LockMode? Mode = null, bool Demoted = false, ModelLock? Lock = null)
{
    public static ModelOutcome Fail(ErrorCode code) => new(OutcomeKind.Error, code);

    public override string ToString() => Kind == OutcomeKind.Error
        ? $"Error({Error})"
        : $"{Kind}{(Mode is null ? "" : " " + Mode)}{(Demoted ? " demoted" : "")}";
}

/// <summary>
/// A deliberately naive model of the grant rules of one lockspace: top-level resources only, no LVB, no
/// sublocks, no expiry, no persistent locks. Wait timeouts are kept as a deadline per queued request, and
/// <see cref="ExpireTimeouts"/> applies them before each entry's command. Nothing is cached: compatibility, queue order and the
/// wait-for graph are recomputed from the lists every time they are needed.
/// Lock ids are not allocated here: the caller binds the id the machine gave (see <see cref="Bind"/>).
/// </summary>
internal sealed class ReferenceModel
{
    private readonly SortedDictionary<string, ModelResource> _resources = new(StringComparer.Ordinal);
    private readonly Dictionary<long, ModelLock> _locks = new();
    private readonly HashSet<long> _sessions = new();

    public IReadOnlyDictionary<string, ModelResource> Resources => _resources;

    public IReadOnlyDictionary<long, ModelLock> Locks => _locks;

    public IReadOnlyCollection<long> Sessions => _sessions;

    public void AddSession(long sessionId) => _sessions.Add(sessionId);

    public bool IsLive(long sessionId) => _sessions.Contains(sessionId);

    /// <summary>Gives a freshly created model lock the id the machine chose for it.</summary>
    public void Bind(ModelLock modelLock, long lockId)
    {
        modelLock.Id = lockId;
        if (Find(modelLock) is not null) _locks[lockId] = modelLock;
    }

    public ModelResource? Resource(string name) => _resources.GetValueOrDefault(name);

    /// <summary>The earliest deadline of a queued request, or null.</summary>
    public long? NextTimeoutDueMs
    {
        get
        {
            var dues = _locks.Values.Where(item => item.TimeoutDueMs != 0).Select(item => item.TimeoutDueMs).ToList();
            return dues.Count == 0 ? null : dues.Min();
        }
    }

    /// <summary>
    /// Before an entry at leader time <paramref name="nowMs"/>: every queued request whose deadline it
    /// reached, earliest deadline then lowest id first, is cancelled (a conversion goes back to its held
    /// mode), then the queues are re-examined. Returns the timed-out requests in that order.
    /// </summary>
    public List<ModelLock> ExpireTimeouts(long index, long nowMs)
    {
        var due = _locks.Values.Where(item => item.TimeoutDueMs != 0 && item.TimeoutDueMs <= nowMs)
            .OrderBy(item => item.TimeoutDueMs).ThenBy(item => item.Id).ToList();
        foreach (var item in due)
        {
            var resource = _resources[item.Resource];
            item.TimeoutDueMs = 0;
            if (item.State == ModelState.Waiting)
            {
                resource.Waiting.Remove(item);
                _locks.Remove(item.Id);
            }
            else
            {
                resource.Converting.Remove(item);
                item.State = ModelState.Granted;
                resource.Granted.Add(item);
            }
        }
        foreach (var name in due.Select(item => item.Resource).Distinct().ToList()) Reexamine(index, name);
        return due;
    }

    // ---------------------------------------------------------------- commands

    public ModelOutcome Request(long index, long nowMs, long session, string resourceName, LockMode mode, LockFlags flags, int timeoutMs)
    {
        if (!Modes.IsValid(mode)) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if (timeoutMs is < 0 or > CommandShape.MaxTimeoutMs) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if ((flags & ~Modes.NewRequestFlags) != 0) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if ((flags & LockFlags.Expedite) != 0 && mode != LockMode.NL) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if (!_sessions.Contains(session)) return ModelOutcome.Fail(ErrorCode.SessionExpired);

        if (!_resources.TryGetValue(resourceName, out var resource))
        {
            resource = new ModelResource();
            _resources[resourceName] = resource;
        }
        var request = new ModelLock { Session = session, Resource = resourceName, Requested = mode, Flags = flags };

        var orderAllows = (resource.Converting.Count == 0 && (resource.Waiting.Count == 0 || request.Has(LockFlags.HeadQue)))
            || request.Has(LockFlags.NoOrder)
            || request.Has(LockFlags.Expedite);
        var held = resource.Holders.Select(item => item.Held!.Value).ToList();
        var grantMode = orderAllows ? FirstGrantable(request, held) : null;
        if (grantMode is { } granted)
        {
            request.State = ModelState.Granted;
            request.Held = granted;
            request.Token = index;
            resource.Granted.Add(request);
            return new ModelOutcome(OutcomeKind.Granted, Mode: granted, Lock: request);
        }

        if (request.Has(LockFlags.NoQueue))
        {
            DropIfEmpty(resourceName);
            return ModelOutcome.Fail(ErrorCode.WouldBlock);
        }

        request.State = ModelState.Waiting;
        if (request.Has(LockFlags.HeadQue)) resource.Waiting.Insert(0, request);
        else resource.Waiting.Add(request);
        if (timeoutMs > 0) request.TimeoutDueMs = nowMs + timeoutMs;

        if (ClosesCycle(request))
        {
            resource.Waiting.Remove(request);
            Reexamine(index, resourceName);
            return ModelOutcome.Fail(ErrorCode.Deadlock);
        }

        Reexamine(index, resourceName);
        return new ModelOutcome(KindOf(request), Mode: request.Held, Lock: request);
    }

    public ModelOutcome Convert(long index, long nowMs, long lockId, LockMode mode, LockFlags flags, int timeoutMs)
    {
        if (!Modes.IsValid(mode)) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if ((flags & ~Modes.ConvertFlags) != 0) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if (timeoutMs is < 0 or > CommandShape.MaxTimeoutMs) return ModelOutcome.Fail(ErrorCode.InvalidRequest);
        if (!_locks.TryGetValue(lockId, out var target)) return ModelOutcome.Fail(ErrorCode.NotFound);
        if (target.State != ModelState.Granted) return ModelOutcome.Fail(ErrorCode.Conflict);

        var resource = _resources[target.Resource];
        var old = target.Held!.Value;
        if (Modes.IsDownConversion(old, mode))
        {
            target.Held = mode;
            Reexamine(index, target.Resource);
            return new ModelOutcome(OutcomeKind.Granted, Mode: mode, Lock: target);
        }

        target.Requested = mode;
        target.Flags = flags;
        var others = resource.Holders.Where(item => item != target).Select(item => item.Held!.Value).ToList();
        var orderAllows = !target.Has(LockFlags.QueCvt) || resource.Converting.Count == 0;
        var grantMode = orderAllows ? FirstGrantable(target, others) : null;
        if (grantMode is { } granted)
        {
            // An upward conversion granted in place gets a new token, even when only its alternate mode fit.
            target.Token = index;
            target.Held = granted;
            Reexamine(index, target.Resource);
            return new ModelOutcome(OutcomeKind.Granted, Mode: granted, Lock: target);
        }

        if (target.Has(LockFlags.NoQueue)) return ModelOutcome.Fail(ErrorCode.WouldBlock);

        resource.Granted.Remove(target);
        target.State = ModelState.Converting;
        if (target.Has(LockFlags.HeadQue)) resource.Converting.Insert(0, target);
        else resource.Converting.Add(target);
        if (timeoutMs > 0) target.TimeoutDueMs = nowMs + timeoutMs;

        if (ClosesCycle(target))
        {
            if (target.Has(LockFlags.ConvDeadlk))
            {
                target.Held = LockMode.NL;
                Reexamine(index, target.Resource);
                return new ModelOutcome(KindOf(target), Mode: target.Held, Demoted: true, Lock: target);
            }
            resource.Converting.Remove(target);
            target.State = ModelState.Granted;
            target.TimeoutDueMs = 0;
            resource.Granted.Add(target);
            Reexamine(index, target.Resource);
            return ModelOutcome.Fail(ErrorCode.Deadlock);
        }

        Reexamine(index, target.Resource);
        return new ModelOutcome(KindOf(target), Mode: target.Held, Lock: target);
    }

    public ModelOutcome Unlock(long index, long lockId)
    {
        if (!_locks.TryGetValue(lockId, out var target)) return ModelOutcome.Fail(ErrorCode.NotFound);
        var resource = _resources[target.Resource];
        OutcomeKind kind;
        switch (target.State)
        {
            case ModelState.Granted:
                resource.Granted.Remove(target);
                _locks.Remove(lockId);
                kind = OutcomeKind.Released;
                break;
            case ModelState.Waiting:
                resource.Waiting.Remove(target);
                _locks.Remove(lockId);
                kind = OutcomeKind.Cancelled;
                break;
            default:
                resource.Converting.Remove(target);
                target.State = ModelState.Granted;
                target.TimeoutDueMs = 0;
                resource.Granted.Add(target);
                kind = OutcomeKind.Cancelled;
                break;
        }
        Reexamine(index, target.Resource);
        return new ModelOutcome(kind, Lock: target);
    }

    public void CloseSession(long index, long session)
    {
        _sessions.Remove(session);
        var touched = new List<string>();
        foreach (var (name, resource) in _resources)
        {
            var mine = resource.Granted.Concat(resource.Converting).Concat(resource.Waiting).Where(item => item.Session == session).ToList();
            if (mine.Count == 0) continue;
            touched.Add(name);
            foreach (var waiting in resource.Waiting.Where(item => item.Session == session).ToList())
            {
                resource.Waiting.Remove(waiting);
            }
            foreach (var converting in resource.Converting.Where(item => item.Session == session).ToList())
            {
                resource.Converting.Remove(converting);
                converting.State = ModelState.Granted;
                resource.Granted.Add(converting);
            }
            resource.Granted.RemoveAll(item => item.Session == session);
            foreach (var gone in mine) _locks.Remove(gone.Id);
        }
        foreach (var name in touched) Reexamine(index, name);
    }

    // ---------------------------------------------------------------- grant rules

    /// <summary>The requested mode, else the alternate one, that is compatible with every mode in <paramref name="held"/>.</summary>
    private static LockMode? FirstGrantable(ModelLock request, List<LockMode> held)
    {
        if (held.All(mode => Modes.Compatible(mode, request.Requested))) return request.Requested;
        // One alternate at most: PR when altPr is set and PR was not asked for, else CW when altCw is set and
        // CW was not asked for (with both set, as in the Linux DLM, PR wins when it applies).
        if (request.Has(LockFlags.AltPr) && request.Requested != LockMode.PR)
        {
            return held.All(mode => Modes.Compatible(mode, LockMode.PR)) ? LockMode.PR : null;
        }
        if (request.Has(LockFlags.AltCw) && request.Requested != LockMode.CW && held.All(mode => Modes.Compatible(mode, LockMode.CW)))
        {
            return LockMode.CW;
        }
        return null;
    }

    /// <summary>Grants whatever the queues allow, pass after pass, until a pass grants nothing.</summary>
    private void Reexamine(long index, string resourceName)
    {
        if (!_resources.TryGetValue(resourceName, out var resource)) return;
        bool progress;
        do
        {
            progress = false;

            var blocked = false;
            foreach (var conversion in resource.Converting.ToList())
            {
                if (blocked && !conversion.Has(LockFlags.NoOrder)) continue;
                var others = resource.Holders.Where(item => item != conversion).Select(item => item.Held!.Value).ToList();
                if (FirstGrantable(conversion, others) is { } mode)
                {
                    resource.Converting.Remove(conversion);
                    if (!Modes.Covers(conversion.Held!.Value, mode)) conversion.Token = index;
                    conversion.Held = mode;
                    conversion.State = ModelState.Granted;
                    conversion.TimeoutDueMs = 0;
                    resource.Granted.Add(conversion);
                    progress = true;
                }
                else if (!conversion.Has(LockFlags.NoOrder))
                {
                    blocked = true;
                }
            }

            blocked = false;
            foreach (var waiter in resource.Waiting.ToList())
            {
                var mayGo = waiter.Has(LockFlags.NoOrder) || (!blocked && resource.Converting.Count == 0);
                if (!mayGo) continue;
                var held = resource.Holders.Select(item => item.Held!.Value).ToList();
                if (FirstGrantable(waiter, held) is { } mode)
                {
                    resource.Waiting.Remove(waiter);
                    waiter.Held = mode;
                    waiter.Token = index;
                    waiter.State = ModelState.Granted;
                    waiter.TimeoutDueMs = 0;
                    resource.Granted.Add(waiter);
                    progress = true;
                }
                else if (!waiter.Has(LockFlags.NoOrder))
                {
                    blocked = true;
                }
            }
        }
        while (progress);
        DropIfEmpty(resourceName);
    }

    // ---------------------------------------------------------------- deadlock

    /// <summary>The sessions a queued request waits for, computed from scratch.</summary>
    private HashSet<long> WaitsFor(ModelLock request)
    {
        var resource = _resources[request.Resource];
        var targets = new HashSet<long>();
        foreach (var holder in resource.Holders)
        {
            if (holder != request && !Modes.Compatible(holder.Held!.Value, request.Requested)) targets.Add(holder.Session);
        }
        if (!request.Has(LockFlags.NoOrder))
        {
            var queue = request.State == ModelState.Converting ? resource.Converting : resource.Waiting;
            var position = queue.IndexOf(request);
            for (var i = position - 1; i >= 0; i--)
            {
                if (queue[i].Session == request.Session) continue;
                targets.Add(queue[i].Session);
                break;
            }
            if (request.State == ModelState.Waiting)
            {
                for (var i = resource.Converting.Count - 1; i >= 0; i--)
                {
                    if (resource.Converting[i].Session == request.Session) continue;
                    targets.Add(resource.Converting[i].Session);
                    break;
                }
            }
        }
        targets.Remove(request.Session);
        return targets;
    }

    private IEnumerable<ModelLock> QueuedOf(long session) =>
        _resources.Values.SelectMany(resource => resource.Converting.Concat(resource.Waiting)).Where(item => item.Session == session);

    /// <summary>
    /// True when the owner of <paramref name="request"/> is reachable from the sessions it waits for. A
    /// noDlckWt request closes no cycle and is no edge of one.
    /// </summary>
    private bool ClosesCycle(ModelLock request)
    {
        if (request.Has(LockFlags.NoDlckWt)) return false;
        var visited = new HashSet<long>();
        var pending = new Stack<long>(WaitsFor(request));
        while (pending.Count > 0)
        {
            var session = pending.Pop();
            if (session == request.Session) return true;
            if (!visited.Add(session)) continue;
            foreach (var queued in QueuedOf(session).Where(item => !item.Has(LockFlags.NoDlckWt)).ToList())
            {
                foreach (var next in WaitsFor(queued)) pending.Push(next);
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- helpers

    private static OutcomeKind KindOf(ModelLock modelLock) => modelLock.State switch
    {
        ModelState.Granted => OutcomeKind.Granted,
        ModelState.Converting => OutcomeKind.Converting,
        _ => OutcomeKind.Waiting,
    };

    private ModelResource? Find(ModelLock modelLock)
    {
        if (!_resources.TryGetValue(modelLock.Resource, out var resource)) return null;
        return resource.Granted.Contains(modelLock) || resource.Converting.Contains(modelLock) || resource.Waiting.Contains(modelLock)
            ? resource
            : null;
    }

    private void DropIfEmpty(string resourceName)
    {
        if (_resources.TryGetValue(resourceName, out var resource) && resource.IsEmpty) _resources.Remove(resourceName);
    }
}
