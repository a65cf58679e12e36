using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public sealed partial class LockMachine
{
    private Result Open(OpenSession command)
    {
        if (_liveSessions >= Limits.MaxSessions)
        {
            return Error(ErrorCode.InvalidRequest, $"the session bound ({Limits.MaxSessions}) is reached");
        }
        var session = new Session(NextId(), command.Name, command.TtlMs, _now + command.TtlMs, command.Owner);
        _sessions.Add(session.Id, session);
        _liveSessions++;
        TrackOwner(session, live: true);
        return new SessionResult(session.Id, session.TtlMs, session.DeadlineMs);
    }

    private Result Renew(KeepAlive command)
    {
        if (!TryGetLiveSession(command.SessionId, out var session, out var error)) return error;
        session.DeadlineMs = Math.Max(session.DeadlineMs, _now + session.TtlMs);
        return new SessionResult(session.Id, session.TtlMs, session.DeadlineMs);
    }

    private Result Close(CloseSession command)
    {
        if (!TryGetLiveSession(command.SessionId, command.Caller, out var session, out var error)) return error;
        return new DoneResult(EndSession(session, expired: false));
    }

    private Result Expire(ExpireSession command)
    {
        if (!TryGetLiveSession(command.SessionId, out var session, out var error)) return error;
        return new DoneResult(EndSession(session, expired: true));
    }

    /// <summary>
    /// A new leader's grace period: clients could not renew while there was no leader, so every live
    /// session gets a full TTL from now before anything may expire.
    /// </summary>
    private Result ExtendAll()
    {
        var count = 0;
        // Each session's deadline changes on its own, and a count has no order.
        foreach (var session in HashOrder.Unordered(_sessions))
        {
            if (session.Ended) continue;
            session.DeadlineMs = Math.Max(session.DeadlineMs, _now + session.TtlMs);
            count++;
        }
        return new DoneResult(count);
    }

    /// <summary>
    /// Ends a session: cancels its waiting requests and conversions, then releases its granted locks,
    /// children before parents. Persistent locks become orphans instead. Released PW/EX locks invalidate
    /// their LVB; on expiry they also start the lockspace's lock-delay. Returns how many locks it ended.
    /// </summary>
    private int EndSession(Session session, bool expired)
    {
        var locks = session.LocksById();
        foreach (var item in locks)
        {
            if (item.State == LockState.Waiting)
            {
                Discard(item);
            }
            else if (item.State == LockState.Converting)
            {
                CancelConversion(item);
            }
        }

        var held = locks.Where(item => item.State == LockState.Granted && _locks.ContainsKey(item.Id))
            .OrderByDescending(Depth).ThenBy(item => item.Id).ToList();
        foreach (var item in held)
        {
            if (item.IsPersistent)
            {
                item.Owner = null;
                session.Locks.Remove(item.Id);
                continue;
            }
            var mode = item.GrantedMode;
            Discard(item, invalidateLvb: true);
            if (expired && Modes.CanWriteLvb(mode) && item.Resource.Space.LockDelayMs > 0)
            {
                StartDelay(item.Resource, _now + item.Resource.Space.LockDelayMs);
            }
        }

        _liveSessions--;
        TrackOwner(session, live: false);
        if (!expired)
        {
            // No event marks a close, but whoever waits on the session must wake to see it gone.
            if (_notifiedSet.Add(session.Id)) _notifiedSessions.Add(session.Id);
            _sessions.Remove(session.Id);
            return locks.Count;
        }
        session.Ended = true;
        session.Replies.Clear();
        Emit(session, new LockEvent(0, EventType.Expired, null, 0, null, null, null, null, null, null, null));
        _endedSessions.Enqueue(session.Id);
        while (_endedSessions.Count > Limits.MaxEndedSessions) _sessions.Remove(_endedSessions.Dequeue());
        return locks.Count;
    }

    private void TrackOwner(Session session, bool live)
    {
        if (session.Owner is not { } owner) return;
        if (live)
        {
            if (!_liveByOwner.TryGetValue(owner, out var sessions)) _liveByOwner.Add(owner, sessions = new());
            sessions.Add(session.Id, session);
        }
        else if (_liveByOwner.TryGetValue(owner, out var sessions) && sessions.Remove(session.Id) && sessions.Count == 0)
        {
            _liveByOwner.Remove(owner);
        }
    }

    private static int Depth(Lock item)
    {
        var depth = 0;
        for (var parent = item.Parent; parent is not null; parent = parent.Parent) depth++;
        return depth;
    }
}
