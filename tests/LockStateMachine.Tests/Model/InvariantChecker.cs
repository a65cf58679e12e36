namespace RaftDlm.LockStateMachine.Tests.Model;

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

        CheckTimeouts(machine, current);
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
            if (queuedNow && (previous is null || previous.State != view.State || _timedOutNow.Contains(id))) _enqueued[id] = ++_enqueueSeq;
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
                // A timeout's re-examination runs before the entry's command, so a conversion that the command
                // itself started may follow a grant of that re-examination in the same entry.
                if (fromState == LockViewState.Waiting && resource.Converting.Any(still => !_timedOutNow.Contains(still.LockId)
                    && !(_timedOutNow.Count > 0 && ConvertingSinceThisEntry(still.LockId))))
                {
                    Fail($"resource {name}: request {item.LockId} granted while conversions wait {ModelRun.DescribeResource(resource)}");
                }
                foreach (var still in queueNow)
                {
                    if (!_previous.TryGetValue(still.LockId, out var stillBefore) || stillBefore.View.State != fromState || _timedOutNow.Contains(still.LockId)) continue;
                    var wasAhead = _enqueued.TryGetValue(still.LockId, out var seq) && Position(before.View, fromState, name) > Position(stillBefore.View, fromState, name);
                    if (wasAhead && !Has(still.LockId, LockFlags.NoOrder))
                    {
                        Fail($"resource {name}: request {item.LockId} was granted past {still.LockId} (seq {seq}) still queued ahead of it");
                    }
                }
            }
        }
    }

    private bool ConvertingSinceThisEntry(long lockId) =>
        !_previous.TryGetValue(lockId, out var before) || before.View.State != LockViewState.Converting;

    /// <summary>
    /// A deadline never outlives the leader time that reached it, and only queued requests have one; a
    /// waiting request that timed out is gone, and a conversion that timed out still holds its old mode.
    /// </summary>
    private void CheckTimeouts(LockMachine machine, Dictionary<long, (LockView View, string Resource)> current)
    {
        if (machine.NextTimeoutDueMs is { } due)
        {
            if (due <= machine.LastLeaderTimeMs) Fail($"a timeout due at {due} is still pending at leader time {machine.LastLeaderTimeMs}");
            if (!current.Values.Any(item => item.View.State is LockViewState.Waiting or LockViewState.Converting)) Fail($"a timeout is due at {due} with nothing queued");
        }
        _timedOutNow.Clear();
        foreach (var (sessionId, item) in NewTimeoutEvents(machine, current))
        {
            _timedOutNow.Add(item.LockId);
            if (!_previous.TryGetValue(item.LockId, out var before) || before.View.State is not (LockViewState.Waiting or LockViewState.Converting))
            {
                Fail($"session {sessionId}: timeout event for lock {item.LockId}, which was not queued before");
            }
            if (before.View.State == LockViewState.Waiting && current.ContainsKey(item.LockId)) Fail($"lock {item.LockId} timed out while waiting but is still there");
            // The entry's own command may act on the lock once it is back in its old mode: only the event is checked.
            if (before.View.State == LockViewState.Converting && item.Mode != before.View.Mode)
            {
                Fail($"lock {item.LockId} timed out converting from {before.View.Mode}, but its event says {item.Mode}");
            }
        }
    }

    private readonly Dictionary<long, long> _eventSeq = new();

    /// <summary>
    /// Requests that timed out in the entry just checked. A timed-out conversion is back in its old mode when
    /// the entry's own command runs, so that command may queue it again: it then counts as newly queued.
    /// </summary>
    private readonly HashSet<long> _timedOutNow = new();

    private List<(long SessionId, LockEvent Event)> NewTimeoutEvents(LockMachine machine, Dictionary<long, (LockView View, string Resource)> current)
    {
        var found = new List<(long, LockEvent)>();
        foreach (var sessionId in current.Values.Select(item => item.View.SessionId).Concat(_previous.Values.Select(item => item.View.SessionId)).Where(id => id != 0).Distinct())
        {
            if (machine.GetEvents(sessionId, _eventSeq.GetValueOrDefault(sessionId), 100_000) is not { } page) continue;
            found.AddRange(page.Events.Where(item => item.Type == EventType.Timeout).Select(item => (sessionId, item)));
            _eventSeq[sessionId] = page.LastSeq;
        }
        return found;
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
