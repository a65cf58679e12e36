namespace RaftDlm.Client;

// What one handle knows of its lock at the server: the lock id and granted mode, the fencing token, the LVB
// as last granted with its change counter and validity, an LVB written locally but not yet sent, the mode
// a blocked request waits for, and the waiter of a request the server has queued. Replies (applied by the
// handle's round trips) and events (from the session's pump) both update it, so every method is one step
// under the state's own lock and none of them waits: the event pump must never stall behind a round trip.
internal sealed class ServerLockState
{
    private readonly Lock _sync = new();
    private string? _lockId;
    private LockMode? _mode;
    private long _fencingToken;
    private byte[] _lvb = [];
    private long _lvbSeq;
    private bool _lvbValid = true;
    private long? _lastSeenLvbSeq;
    private byte[]? _dirtyLvb;
    private LockMode? _blockedMode;
    private TaskCompletionSource<LockEventInfo>? _waiter;

    public string? LockId
    {
        get
        {
            lock (_sync) return _lockId;
        }
    }

    public LockMode? Mode
    {
        get
        {
            lock (_sync) return _mode;
        }
    }

    public (string? LockId, LockMode? Mode) Current
    {
        get
        {
            lock (_sync) return (_lockId, _mode);
        }
    }

    // The granted mode, and whether it keeps out a request the server told us is waiting.
    public (LockMode? Mode, bool BlocksWaiter) ModeAndBlocking
    {
        get
        {
            lock (_sync) return (_mode, BlocksWaiter());
        }
    }

    public byte[]? DirtyLvb
    {
        get
        {
            lock (_sync) return _dirtyLvb;
        }
    }

    // The lock to give up, with the local LVB write to carry out on the way; only PW and EX may write it.
    public (string? LockId, LockMode? Mode, byte[]? DirtyLvb) ForGiveUp()
    {
        lock (_sync)
        {
            return (_lockId, _mode, _mode is { } mode && LockModes.MayWriteLvb(mode) ? _dirtyLvb : null);
        }
    }

    // A new request was answered with its lock id; the mode follows with the grant.
    public void Requested(string lockId)
    {
        lock (_sync) _lockId = lockId;
    }

    // The lock is gone at the server: its request ended without a grant, or was cancelled.
    public void Clear()
    {
        lock (_sync)
        {
            _lockId = null;
            _mode = null;
        }
    }

    // The lock was released at the server, writing the dirty LVB when there was one to write.
    public void Released(byte[]? written)
    {
        lock (_sync)
        {
            if (written is not null) NoteOwnWrite(written);
            _lockId = null;
            _mode = null;
            _dirtyLvb = null;
            _blockedMode = null;
        }
    }

    // The lock was demoted to NL (or already was): no local write is pending and nobody is blocked by it.
    public void ClearPending()
    {
        lock (_sync)
        {
            _dirtyLvb = null;
            _blockedMode = null;
        }
    }

    // The session is over: the lock is gone with it, and so is any request waiting for a grant.
    public void Lost(Exception error)
    {
        lock (_sync)
        {
            _lockId = null;
            _mode = null;
            _waiter?.TrySetException(error);
        }
    }

    // The application unlocked with an LVB to write: it is sent when the lock is next converted or given up.
    public void SetDirtyLvb(byte[] lvb)
    {
        lock (_sync) _dirtyLvb = lvb;
    }

    // A lock kept in its mode shows its own pending write to the next local holder.
    public void KeepLvbLocally(byte[] lvb)
    {
        lock (_sync)
        {
            _lvb = lvb;
            _lvbValid = true;
        }
    }

    // A grant served from the cache. The LVB cannot have changed since the lock was granted (its mode keeps
    // writers out), so the grant never reports a change.
    public LockGrant CachedGrant(string lockId, LockMode mode)
    {
        lock (_sync) return new LockGrant(lockId, mode, _fencingToken, _lvb, _lvbSeq, _lvbValid, ChangedSinceLastHeld: false, FromCache: true);
    }

    // Takes in a grant from a reply or a granted event. With wrote, the grant answered a conversion that
    // carried the dirty LVB, which therefore is this handle's own write.
    public LockGrant Apply(ServerGrant grant, bool wrote = false)
    {
        lock (_sync)
        {
            _lockId = grant.LockId;
            _mode = grant.Mode;
            if (grant.FencingToken > 0) _fencingToken = grant.FencingToken;
            if (wrote && _dirtyLvb is { } written) NoteOwnWrite(written);
            _dirtyLvb = null;
            var changed = false;
            // An NL lock does not read the LVB, so its grant neither counts as having seen it nor replaces the local copy.
            if (grant.Mode != LockMode.NL && grant.LvbSeq is { } seq)
            {
                changed = _lastSeenLvbSeq != seq;
                _lastSeenLvbSeq = seq;
                _lvbSeq = seq;
                _lvb = grant.Lvb ?? [];
                _lvbValid = grant.LvbValid ?? true;
            }
            return new LockGrant(grant.LockId, grant.Mode, _fencingToken, _lvb, _lvbSeq, _lvbValid, changed, FromCache: false);
        }
    }

    // The grant a granted event reports, with what the event leaves out taken from this state.
    public LockGrant GrantFrom(LockEventInfo item)
    {
        lock (_sync)
        {
            return new LockGrant(item.LockId ?? "", WireJson.Mode(item.Mode) ?? LockMode.NL, item.FencingToken ?? _fencingToken,
                WireJson.Bytes(item.Lvb) ?? [], item.LvbSeq ?? _lvbSeq, item.LvbValid ?? _lvbValid, false, false);
        }
    }

    public void Demoted()
    {
        lock (_sync) _mode = LockMode.NL;
    }

    public void LvbInvalidated(long? lvbSeq)
    {
        lock (_sync)
        {
            _lvbValid = false;
            if (lvbSeq is { } seq) _lvbSeq = seq;
        }
    }

    // A blocking event for this lock: remembers the strongest mode waited for. False when the event is not
    // for the lock this handle has now, or its mode does not keep the waiter out.
    public bool MarkBlocked(string? lockId, LockMode blockedMode)
    {
        lock (_sync)
        {
            if (lockId != _lockId || _mode is not { } mode || LockModes.AreCompatible(mode, blockedMode)) return false;
            _blockedMode = _blockedMode is { } earlier && LockModes.Covers(earlier, blockedMode) ? earlier : blockedMode;
            return true;
        }
    }

    // Whether an idle lock should still be given up for the request it blocked. A lock whose mode no longer
    // keeps that request out (it was demoted meanwhile) forgets the request.
    public bool StillBlocks()
    {
        lock (_sync)
        {
            if (_lockId is null) return false;
            if (BlocksWaiter()) return true;
            _blockedMode = null;
            return false;
        }
    }

    // A new waiter for the grant of a request or conversion about to be sent (or still queued).
    public TaskCompletionSource<LockEventInfo> ArmWaiter()
    {
        var waiter = new TaskCompletionSource<LockEventInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync) _waiter = waiter;
        return waiter;
    }

    // Hands a granted event to the waiter. A grant no newer than the last one seen is the late event of a
    // request already answered, and is dropped.
    public bool CompleteWaiter(LockEventInfo item)
    {
        TaskCompletionSource<LockEventInfo>? waiter;
        lock (_sync)
        {
            if (item.FencingToken is { } token && token <= _fencingToken) return false;
            waiter = _waiter;
        }
        return waiter?.TrySetResult(item) == true;
    }

    public void FailWaiter(Exception error)
    {
        lock (_sync) _waiter?.TrySetException(error);
    }

    private bool BlocksWaiter() =>
        _mode is { } mode && _blockedMode is { } wanted && !LockModes.AreCompatible(mode, wanted);

    private void NoteOwnWrite(byte[] lvb)
    {
        // While this handle held PW or EX nobody else could change the LVB, so the server's counter moved by
        // exactly our write: the next grant compares against that, not against the grant before it.
        _lvb = lvb;
        _lvbValid = true;
        _lvbSeq += 1;
        _lastSeenLvbSeq = _lvbSeq;
    }
}

// A grant as the server reported it, in a reply or a granted event.
internal readonly record struct ServerGrant(string LockId, LockMode Mode, long FencingToken, byte[]? Lvb, long? LvbSeq, bool? LvbValid)
{
    public static ServerGrant From(LockInfo info) => new(info.LockId, WireJson.Mode(info.Mode) ?? LockMode.NL, info.FencingToken ?? 0,
        WireJson.Bytes(info.Lvb), info.LvbSeq, info.LvbValid);

    public static ServerGrant From(LockEventInfo item) => new(item.LockId ?? "", WireJson.Mode(item.Mode) ?? LockMode.NL, item.FencingToken ?? 0,
        WireJson.Bytes(item.Lvb), item.LvbSeq, item.LvbValid);
}
