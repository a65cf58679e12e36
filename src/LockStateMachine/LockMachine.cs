using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// The replicated lock table. <see cref="Apply"/> is deterministic: the same entries applied to the same
/// snapshot give the same results and byte-identical snapshots on every replica. It reads time only from
/// the entry, never from a clock; it never iterates a hash table where order could reach its output; it
/// validates a command completely before changing anything, and returns errors as values.
/// It is not thread-safe: the host serialises <see cref="Apply"/> and the queries.
/// </summary>
public sealed partial class LockMachine
{
    private readonly Dictionary<string, Lockspace> _lockspaces = new(StringComparer.Ordinal);
    private readonly Dictionary<long, Session> _sessions = new();
    private readonly Dictionary<long, Lock> _locks = new();
    private readonly Queue<long> _endedSessions = new();
    // Lock id -> its last owner's session id, for the newest unlocks that ended a lock, oldest first in the queue.
    private readonly Dictionary<long, long> _recentReleases = new();
    private readonly Queue<long> _recentReleaseOrder = new();
    private const int MaxRecentReleases = 10_000;
    private readonly SortedSet<(long DueMs, long ResourceId)> _delayDue = new();
    private readonly Dictionary<long, Resource> _delayedResources = new();
    private readonly List<Resource> _touched = new();
    private readonly List<long> _notifiedSessions = new();
    private readonly HashSet<long> _notifiedSet = new();
    private long _nextId = 1;
    private int _liveSessions;
    // Live sessions by owner, for the per-token quotas: derived from _sessions (rebuilt on restore, never
    // written to a snapshot) and only ever counted, so its order does not matter.
    private readonly Dictionary<string, Dictionary<long, Session>> _liveByOwner = new(StringComparer.Ordinal);
    private int _resourceCount;
    private long _index;
    // The position of the last applied command in its entry; after a restore the whole entry at
    // LastAppliedIndex is in the table, so no later position of it is applied again.
    private int _lastAppliedPosition = int.MaxValue;
    // The highest fencing token issued, and the token of the command being applied (0 until it grants).
    private long _lastToken;
    private long _commandToken;
    private long _now;

    public LockMachine(LockLimits? limits = null)
    {
        Limits = limits ?? LockLimits.Default;
    }

    public LockLimits Limits { get; }
    public long LastAppliedIndex { get; private set; }
    public long LastLeaderTimeMs { get; private set; }

    /// <summary>
    /// Sessions that received events during the last <see cref="Apply"/>, in the order they got them, and
    /// sessions that were closed by it: the host wakes whoever waits on them.
    /// </summary>
    public IReadOnlyList<long> NotifiedSessions => _notifiedSessions;

    public int LiveSessionCount => _liveSessions;
    public int LockCount => _locks.Count;
    public int ResourceCount => _resourceCount;
    public int LockspaceCount => _lockspaces.Count;

    /// <summary>The earliest leader time at which a running lock-delay ends, or null; the leader proposes a Tick then.</summary>
    public long? NextDelayDueMs => _delayDue.Count == 0 ? null : _delayDue.Min.DueMs;

    /// <summary>
    /// Applies one committed command. Commands at or before the last applied one (its index, then its position in
    /// the entry) are ignored (replays). Leader time never goes backwards: an older stamp is read as the newest one seen.
    /// </summary>
    public Result Apply(in LogEntry entry)
    {
        _notifiedSessions.Clear();
        _notifiedSet.Clear();
        if (entry.Index < LastAppliedIndex || (entry.Index == LastAppliedIndex && entry.Position <= _lastAppliedPosition))
        {
            return Error(ErrorCode.AlreadyApplied, $"entry {entry.Index} (command {entry.Position}) is at or before the last applied command (entry {LastAppliedIndex})");
        }
        LastAppliedIndex = entry.Index;
        _lastAppliedPosition = entry.Position;
        LastLeaderTimeMs = Math.Max(LastLeaderTimeMs, entry.LeaderTimeMs);
        _index = entry.Index;
        _commandToken = 0;
        _now = LastLeaderTimeMs;

        EndDueDelays();
        if (CancelDueTimeouts()) Settle();
        var result = Dispatch(entry.Command);
        Settle();
        return result;
    }

    private Result Dispatch(Command? command) => command switch
    {
        // A command that names no session has no recorded replies to look up: its shape is checked first.
        OpenSession or CreateLockspace or DeleteLockspace or PurgeOrphans when Malformed(command) is { } malformed => malformed,
        OpenSession c => Open(c),
        KeepAlive c => Renew(c),
        CloseSession c => Close(c),
        ExpireSession c => Expire(c),
        ExtendDeadlines => ExtendAll(),
        Tick => new DoneResult(0),
        CreateLockspace c => Create(c),
        DeleteLockspace c => Delete(c),
        RequestLock c => Request(c),
        ConvertLock c => Convert(c),
        Unlock c => Release(c),
        AdoptOrphan c => Adopt(c),
        PurgeOrphans c => Purge(c),
        _ => Error(ErrorCode.InvalidRequest, "unknown or empty command"),
    };

    private static ErrorResult Error(ErrorCode code, string message) => new(code, message);

    /// <summary>The reply to a command that <see cref="CommandShape"/> refuses, or null when it is well-formed.</summary>
    private ErrorResult? Malformed(Command command) =>
        CommandShape.Check(command, Limits) is { } reason ? Error(ErrorCode.InvalidRequest, reason) : null;

    private long NextId() => _nextId++;

    private bool TryGetLiveSession(long sessionId, out Session session, out Result error) =>
        TryGetLiveSession(sessionId, caller: null, out session, out error);

    /// <summary>A live session that <paramref name="caller"/> may act on; another principal's session answers as an unknown one.</summary>
    private bool TryGetLiveSession(long sessionId, string? caller, out Session session, out Result error)
    {
        if (_sessions.TryGetValue(sessionId, out session!) && !session.Ended && session.Permits(caller))
        {
            error = null!;
            return true;
        }
        error = Error(ErrorCode.SessionExpired, $"session {sessionId} is unknown, closed or expired");
        return false;
    }

    private bool TryGetLockspace(string? name, out Lockspace space, out Result error)
    {
        if (name is not null && _lockspaces.TryGetValue(name, out space!))
        {
            error = null!;
            return true;
        }
        space = null!;
        error = Error(ErrorCode.NotFound, $"lockspace '{name}' does not exist");
        return false;
    }

    /// <summary>Looks up a lock of a lockspace and the session that acts on it (the owner, or the named session).</summary>
    private bool TryGetOwnedLock(string? lockspace, long lockId, long sessionId, string? caller, out Lock found, out Result error)
    {
        found = null!;
        if (!TryGetLockspace(lockspace, out var space, out error)) return false;
        if (sessionId != 0 && !TryGetLiveSession(sessionId, caller, out _, out error)) return false;
        // Another principal's lock answers as a lock that does not exist.
        if (!_locks.TryGetValue(lockId, out found!) || found.Resource.Space != space || (found.Owner is { } holder && !holder.Permits(caller)))
        {
            error = Error(ErrorCode.NotFound, $"lock {lockId} does not exist in lockspace '{lockspace}'");
            return false;
        }
        if (found.Owner is null)
        {
            error = Error(ErrorCode.Conflict, $"lock {lockId} is an orphan: adopt it or purge it");
            return false;
        }
        if (sessionId != 0 && found.Owner.Id != sessionId)
        {
            error = Error(ErrorCode.Conflict, $"lock {lockId} belongs to another session");
            return false;
        }
        return true;
    }

    /// <summary>
    /// What a command of a session (a lock request, an adoption) gets before the lock rules: an error when
    /// the session is not live, the recorded reply of a retried request id, or the (recorded) refusal of a
    /// malformed command. Null when the rules decide; then <paramref name="session"/> is the live session.
    /// </summary>
    private Result? Screen(Command command, long sessionId, long requestId, string? caller, out Session session)
    {
        if (!TryGetLiveSession(sessionId, caller, out session, out var error)) return error;
        if (session.FindReply(requestId) is { } first) return first;
        return Malformed(command) is { } malformed ? Remember(session, requestId, malformed) : null;
    }

    /// <summary>
    /// The same for a command on a lock (a conversion, an unlock), whose recorded replies are kept by the
    /// lock's owner or by the session it names: the lock is looked up first, and the recorded reply of a
    /// retried request id wins over everything, so a retry finds it even when the first attempt ended the
    /// lock. A malformed command is refused by its shape before a failed lookup, as the server refuses it.
    /// Null when the rules decide; then <paramref name="item"/> is the lock.
    /// </summary>
    private Result? Screen(Command command, string? lockspace, long lockId, long sessionId, long requestId, string? caller, out Lock item)
    {
        if (!TryGetOwnedLock(lockspace, lockId, sessionId, caller, out item, out var error))
        {
            // A retried unlock that names no session finds its first reply through the lock's last owner.
            if (sessionId == 0 && requestId != 0 && _recentReleases.TryGetValue(lockId, out var ownerId)
                && _sessions.TryGetValue(ownerId, out var lastOwner) && lastOwner.Permits(caller)
                && lastOwner.FindReply(requestId) is { } retried)
            {
                return retried;
            }
            return RememberIfSession(sessionId, requestId, Malformed(command) ?? error);
        }
        var owner = item.Owner!;
        if (owner.FindReply(requestId) is { } first) return first;
        return Malformed(command) is { } malformed ? Remember(owner, requestId, malformed) : null;
    }

    /// <summary>
    /// Remembers who owned a lock that an unlock just ended, so that a retry of that unlock without a session
    /// id still finds its first reply (kept for the newest <see cref="MaxRecentReleases"/> ends).
    /// </summary>
    private void RememberRelease(long lockId, long ownerId)
    {
        if (!_recentReleases.TryAdd(lockId, ownerId)) return;
        _recentReleaseOrder.Enqueue(lockId);
        while (_recentReleaseOrder.Count > MaxRecentReleases) _recentReleases.Remove(_recentReleaseOrder.Dequeue());
    }

    /// <summary>A session-less error is remembered under the named session, so its retry answers the same.</summary>
    private Result RememberIfSession(long sessionId, long requestId, Result error)
    {
        if (sessionId == 0 || !_sessions.TryGetValue(sessionId, out var session) || session.Ended) return error;
        return session.FindReply(requestId) ?? Remember(session, requestId, error);
    }

    /// <summary>Keeps a reply so that a retry with the same client request id gets it instead of acting twice.</summary>
    private Result Remember(Session session, long requestId, Result result)
    {
        if (requestId == 0) return result;
        session.Replies.Enqueue(new(requestId, result));
        while (session.Replies.Count > Limits.MaxRepliesPerSession) session.Replies.Dequeue();
        return result;
    }

    private void Emit(Session? session, LockEvent draft)
    {
        if (session is null) return;
        var numbered = draft with { Seq = ++session.LastEventSeq };
        session.Outbox.Enqueue(numbered);
        while (session.Outbox.Count > Limits.MaxEventsPerSession) session.Outbox.Dequeue();
        if (_notifiedSet.Add(session.Id)) _notifiedSessions.Add(session.Id);
    }

    private void Touch(Resource resource)
    {
        if (resource.Touched) return;
        resource.Touched = true;
        _touched.Add(resource);
    }

    /// <summary>
    /// Re-examines every resource the command touched, in the order it touched them: grants what can be
    /// granted, sends blocking notifications, and discards resources left with no lock and no lock-delay.
    /// </summary>
    private void Settle()
    {
        for (var i = 0; i < _touched.Count; i++)
        {
            var resource = _touched[i];
            resource.Touched = false;
            if (!resource.Space.Resources.TryGetValue(resource.Key, out var live) || live != resource) continue;
            GrantPending(resource);
            NotifyBlocked(resource);
            DiscardIfUnused(resource);
        }
        _touched.Clear();
    }

    private void DiscardIfUnused(Resource resource)
    {
        if (resource.LockCount != 0 || resource.DelayUntilMs > _now) return;
        if (resource.DelayUntilMs != 0) ClearDelay(resource);
        resource.Space.Resources.Remove(resource.Key);
        _resourceCount--;
    }

    private void EndDueDelays()
    {
        while (_delayDue.Count > 0 && _delayDue.Min.DueMs <= _now)
        {
            var resource = _delayedResources[_delayDue.Min.ResourceId];
            ClearDelay(resource);
            Touch(resource);
        }
    }

    private void StartDelay(Resource resource, long untilMs)
    {
        if (untilMs <= resource.DelayUntilMs) return;
        if (resource.DelayUntilMs != 0) ClearDelay(resource);
        resource.DelayUntilMs = untilMs;
        _delayDue.Add((untilMs, resource.Id));
        _delayedResources[resource.Id] = resource;
    }

    private void ClearDelay(Resource resource)
    {
        _delayDue.Remove((resource.DelayUntilMs, resource.Id));
        _delayedResources.Remove(resource.Id);
        resource.DelayUntilMs = 0;
    }
}
