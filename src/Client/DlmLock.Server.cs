using Microsoft.Extensions.Logging;

namespace RaftDlm.Client;

// The round trips of a handle and the events that reach it. Every method that changes the lock at the
// server runs under _gate; the event pump only flips flags under _sync and starts a revoke task.
public sealed partial class DlmLock
{
    private async Task<LockGrant> AcquireAsync(LockMode mode, CancellationToken ct)
    {
        bool blocked;
        lock (_sync) blocked = _serverMode is { } cachedMode && _blockedMode is { } wanted && !LockModes.AreCompatible(cachedMode, wanted);
        if (blocked)
        {
            // A blocking event is being handled: give the lock up first and queue behind the waiter.
            _tuner.Loss();
            await GiveUpAsync(demote: Options.DemoteOnRevoke, ct).ConfigureAwait(false);
        }
        string? lockId;
        LockMode? cached;
        lock (_sync)
        {
            lockId = _lockId;
            cached = _serverMode;
        }
        if (lockId is null || cached is not { } held)
        {
            Session.Client.Metrics.Miss();
            return Apply(await RequestAsync(mode, ct).ConfigureAwait(false), fromCache: false);
        }
        if (CanServeLocally(held, mode))
        {
            Session.Client.Metrics.Hit();
            _tuner.Win();
            lock (_sync) return new LockGrant(lockId, held, _token, _lvb, _lvbSeq, _lvbValid, ChangedSinceLastHeld: false, FromCache: true);
        }
        Session.Client.Metrics.Miss();
        // Keep a cached stronger mode (a same-mode conversion refreshes the LVB); else convert to the new one.
        var target = LockModes.Covers(held, mode) ? held : mode;
        byte[]? dirty;
        lock (_sync) dirty = _dirtyLvb;
        if (dirty is not null && target != held)
        {
            // An LVB may only be written on a conversion down or to the same mode: flush it first.
            Apply(await ConvertAsync(lockId, held, dirty, ct).ConfigureAwait(false), fromCache: false, wrote: true);
            dirty = null;
        }
        return Apply(await ConvertAsync(lockId, target, dirty, ct).ConfigureAwait(false), fromCache: false, wrote: dirty is not null);
    }

    /// <summary>
    /// A cached lock is served locally only when it covers the mode, the session is healthy, and its mode
    /// keeps LVB writers out (every mode but NL and CR excludes PW and EX), so the cached LVB is current.
    /// </summary>
    private bool CanServeLocally(LockMode held, LockMode wanted) =>
        Options.Caching == CacheMode.KeepMode
        && IsCaching
        && Session.State == SessionState.Healthy
        && LockModes.Covers(held, wanted)
        && (wanted == LockMode.NL || held is not (LockMode.NL or LockMode.CR));

    /// <summary>Releases the lock at the server, or demotes it to NL, writing a dirty LVB when the mode allows.</summary>
    private async Task GiveUpAsync(bool demote, CancellationToken ct)
    {
        string? lockId;
        LockMode? mode;
        byte[]? dirty;
        lock (_sync)
        {
            lockId = _lockId;
            mode = _serverMode;
            dirty = _serverMode is { } current && LockModes.MayWriteLvb(current) ? _dirtyLvb : null;
        }
        if (lockId is null || mode is null) return;
        if (demote)
        {
            if (mode != LockMode.NL || dirty is not null) Apply(await ConvertAsync(lockId, LockMode.NL, dirty, ct).ConfigureAwait(false), fromCache: false, wrote: dirty is not null);
        }
        else
        {
            var body = new UnlockRequestBody(WireJson.Base64(dirty), null, Session.NextRequestId(), Session.SessionId);
            try
            {
                await Session.Client.SendAsync(new Call(HttpMethod.Delete, DlmClient.LockPath(Lockspace, lockId), body, "unlock"), ct).ConfigureAwait(false);
            }
            catch (DlmException error) when (error.Code == DlmErrorCodes.NotFound)
            {
                // Already gone (a force-deleted lockspace, for one): nothing left to release.
            }
            Session.Unroute(lockId);
            lock (_sync)
            {
                if (dirty is not null) NoteOwnWrite(dirty);
                _lockId = null;
                _serverMode = null;
            }
        }
        lock (_sync)
        {
            _dirtyLvb = null;
            _blockedMode = null;
        }
    }

    private void NoteOwnWrite(byte[] lvb)
    {
        // While this handle held PW or EX nobody else could change the LVB, so the server's counter moved by
        // exactly our write: the next grant compares against that, not against the grant before it.
        _lvb = lvb;
        _lvbValid = true;
        _lvbSeq += 1;
        _lastSeenSeq = _lvbSeq;
    }

    private async Task<ServerGrant> RequestAsync(LockMode mode, CancellationToken ct)
    {
        var waitMs = (int)Session.Client.Options.LockWait.TotalMilliseconds;
        var body = new LockRequestBody(Session.SessionId, Resource, mode.ToString(), Options.ParentLockId,
            Options.Flags.Count == 0 ? null : [.. Options.Flags], waitMs, Session.NextRequestId());
        var waiter = Arm();
        var call = new Call(HttpMethod.Post, $"/v1/lockspaces/{Uri.EscapeDataString(Lockspace)}/locks", body, "lock")
        {
            AttemptTimeout = Session.Client.Options.LockWait + Session.Client.Options.RequestTimeout,
        };
        var reply = await Session.Client.SendAsync(call, ct).ConfigureAwait(false);
        var info = reply.Read<LockInfo>();
        lock (_sync) _lockId = info.LockId;
        Session.Route(info.LockId, this);
        if (reply.Status == 200) return ServerGrant.From(info);
        return await AwaitGrantAsync(info.LockId, waiter, conversion: false, ct).ConfigureAwait(false);
    }

    private async Task<ServerGrant> ConvertAsync(string lockId, LockMode mode, byte[]? lvb, CancellationToken ct)
    {
        var waitMs = (int)Session.Client.Options.LockWait.TotalMilliseconds;
        var flags = Options.Flags.Where(flag => flag != "persistent").ToArray();
        var body = new ConvertRequestBody(mode.ToString(), WireJson.Base64(lvb), flags.Length == 0 ? null : flags, waitMs, Session.NextRequestId(), Session.SessionId);
        var waiter = Arm();
        var call = new Call(HttpMethod.Post, DlmClient.LockPath(Lockspace, lockId) + "/convert", body, "convert")
        {
            AttemptTimeout = Session.Client.Options.LockWait + Session.Client.Options.RequestTimeout,
        };
        var reply = await Session.Client.SendAsync(call, ct).ConfigureAwait(false);
        var info = reply.Read<LockInfo>();
        if (reply.Status == 200) return ServerGrant.From(info);
        return await AwaitGrantAsync(lockId, waiter, conversion: true, ct).ConfigureAwait(false);
    }

    private TaskCompletionSource<LockEventInfo> Arm()
    {
        var waiter = new TaskCompletionSource<LockEventInfo>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_sync) _waiter = waiter;
        return waiter;
    }

    /// <summary>
    /// Waits for the <c>granted</c> event of a queued request. Events can be dropped (a full outbox) or stale
    /// (a deadlock event of an earlier request), so the lock itself is read every few seconds and whenever
    /// an event says the request failed. Cancelling cancels the request at the server.
    /// </summary>
    private async Task<ServerGrant> AwaitGrantAsync(string lockId, TaskCompletionSource<LockEventInfo> waiter, bool conversion, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var done = await Task.WhenAny(waiter.Task, Task.Delay(GrantPollInterval, ct)).ConfigureAwait(false);
                ct.ThrowIfCancellationRequested();
                if (done == waiter.Task && waiter.Task.IsCompletedSuccessfully) return ServerGrant.From(waiter.Task.Result);
                if (done == waiter.Task && waiter.Task.Exception?.InnerException is (SessionExpiredException or ObjectDisposedException) and var fatal) throw fatal;
                LockInfo info;
                try
                {
                    info = await Session.Client.GetLockAsync(Lockspace, lockId, ct).ConfigureAwait(false);
                }
                catch (DlmException error) when (error.Code == DlmErrorCodes.NotFound)
                {
                    Forget(lockId, conversion);
                    throw new DlmException(DlmErrorCodes.Cancelled, 409, $"the request for {Resource} ended without a grant", error);
                }
                if (info.State == "granted") return ServerGrant.From(info);
                if (info.State is "waiting" or "converting")
                {
                    if (done == waiter.Task) waiter = Arm();
                    continue;
                }
                Forget(lockId, conversion);
                throw waiter.Task.Exception?.InnerException as DlmException
                    ?? new DlmException(DlmErrorCodes.Cancelled, 409, $"the request for {Resource} ended as {info.State}");
            }
        }
        catch (OperationCanceledException)
        {
            await CancelRequestAsync(lockId, conversion).ConfigureAwait(false);
            throw;
        }
    }

    private void Forget(string lockId, bool conversion)
    {
        if (conversion) return;
        Session.Unroute(lockId);
        lock (_sync)
        {
            _lockId = null;
            _serverMode = null;
        }
    }

    private async Task CancelRequestAsync(string lockId, bool conversion)
    {
        try
        {
            using var bounded = new CancellationTokenSource(Session.Client.Options.RetryBudget);
            var body = new UnlockRequestBody(null, null, Session.NextRequestId(), Session.SessionId);
            var reply = await Session.Client.SendAsync(new Call(HttpMethod.Delete, DlmClient.LockPath(Lockspace, lockId), body, "cancel"), bounded.Token).ConfigureAwait(false);
            // "released" means the grant won the race and the whole lock is gone; "cancelled" leaves a
            // converting lock in its old mode.
            if (!conversion || reply.Read<ReleasedReply>().State == "released")
            {
                Session.Unroute(lockId);
                lock (_sync)
                {
                    _lockId = null;
                    _serverMode = null;
                }
            }
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogCancelFailed(Resource, error.Message);
        }
    }

    private LockGrant Apply(ServerGrant grant, bool fromCache, bool wrote = false)
    {
        LockGrant result;
        lock (_sync)
        {
            _lockId = grant.LockId;
            _serverMode = grant.Mode;
            if (grant.FencingToken > 0) _token = grant.FencingToken;
            if (wrote && _dirtyLvb is { } written) NoteOwnWrite(written);
            _dirtyLvb = null;
            var changed = false;
            if (grant.Mode != LockMode.NL && grant.LvbSeq is { } seq)
            {
                changed = _lastSeenSeq != seq;
                _lastSeenSeq = seq;
                _lvbSeq = seq;
                _lvb = grant.Lvb ?? [];
                _lvbValid = grant.LvbValid ?? true;
            }
            result = new LockGrant(grant.LockId, grant.Mode, _token, _lvb, _lvbSeq, _lvbValid, changed, fromCache);
        }
        return result;
    }

    /// <summary>An event for this handle's lock, from the session's pump. Never blocks.</summary>
    internal void OnEvent(LockEventInfo item)
    {
        switch (item.Type)
        {
            case "granted":
                TaskCompletionSource<LockEventInfo>? waiter;
                lock (_sync)
                {
                    // A grant no newer than the last one seen is the late event of a request already answered.
                    if (item.FencingToken is { } token && token <= _token) return;
                    waiter = _waiter;
                }
                if (waiter?.TrySetResult(item) == true) Raise(Granted, new LockGrantedEventArgs(ToGrant(item)));
                break;
            case "cancelled" or "deadlock":
                lock (_sync) _waiter?.TrySetException(new DlmException(item.Type == "deadlock" ? DlmErrorCodes.Deadlock : DlmErrorCodes.Cancelled, 409, $"the request for {Resource} was {item.Type}"));
                break;
            case "demoted":
                lock (_sync) _serverMode = LockMode.NL;
                break;
            case "lvbInvalid":
                lock (_sync)
                {
                    _lvbValid = false;
                    if (item.LvbSeq is { } seq) _lvbSeq = seq;
                }
                break;
            case "blocking" when item.BlockedMode is { } blockedText:
                OnBlocking(item.LockId, LockModes.Parse(blockedText));
                break;
        }
    }

    /// <summary>Events were lost: give up an idle cached lock, as if it were blocking somebody.</summary>
    internal void OnGap()
    {
        string? lockId;
        lock (_sync) lockId = _lockId;
        if (lockId is not null) OnBlocking(lockId, LockMode.EX);
    }

    private void OnBlocking(string? lockId, LockMode blockedMode)
    {
        bool held;
        lock (_sync)
        {
            if (lockId != _lockId || _serverMode is not { } mode || LockModes.AreCompatible(mode, blockedMode)) return;
            _blockedMode = _blockedMode is { } earlier && LockModes.Covers(earlier, blockedMode) ? earlier : blockedMode;
            held = _inUse;
        }
        LogBlocking(Resource, blockedMode, held);
        Raise(Blocking, new LockBlockingEventArgs(blockedMode, held));
        if (!held) _ = Task.Run(RevokeAsync);
    }

    /// <summary>Gives up an idle cached lock that blocks somebody, as soon as the handle is free.</summary>
    private async Task RevokeAsync()
    {
        try
        {
            await _gate.WaitAsync(Session.LostToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            lock (_sync)
            {
                if (_inUse || _disposed || _invalid is not null || _lockId is null) return;
                if (_serverMode is not { } mode || _blockedMode is not { } wanted || LockModes.AreCompatible(mode, wanted))
                {
                    _blockedMode = null;
                    return;
                }
            }
            _tuner.Loss();
            await GiveUpAsync(Options.DemoteOnRevoke, Session.LostToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogRevokeFailed(Resource, error.Message);
        }
        finally
        {
            _gate.Release();
        }
    }

    internal void Invalidate(Exception error)
    {
        lock (_sync)
        {
            _invalid ??= error;
            _lockId = null;
            _serverMode = null;
            _waiter?.TrySetException(error);
        }
    }

    private LockGrant ToGrant(LockEventInfo item)
    {
        lock (_sync)
        {
            return new LockGrant(item.LockId ?? "", WireJson.Mode(item.Mode) ?? LockMode.NL, item.FencingToken ?? _token,
                WireJson.Bytes(item.Lvb) ?? [], item.LvbSeq ?? _lvbSeq, item.LvbValid ?? _lvbValid, false, false);
        }
    }

    private void Raise<T>(EventHandler<T>? handler, T args)
    {
        if (handler is null) return;
        try
        {
            handler(this, args);
        }
        catch (Exception error)
        {
            Session.CallbackFailed(error);
        }
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Debug, Message = "Lock on {Resource} blocks a request for {BlockedMode} (held: {Held})")]
    private partial void LogBlocking(string resource, LockMode blockedMode, bool held);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "Giving up the cached lock on {Resource} failed: {Reason}")]
    private partial void LogRevokeFailed(string resource, string reason);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "Cancelling the request for {Resource} failed: {Reason}")]
    private partial void LogCancelFailed(string resource, string reason);

    [LoggerMessage(EventId = 33, Level = LogLevel.Warning, Message = "Freeing the lock on {Resource} failed: {Reason}")]
    private partial void LogFreeFailed(string resource, string reason);
}

/// <summary>A grant as the server reported it, in a reply or a granted event.</summary>
internal readonly record struct ServerGrant(string LockId, LockMode Mode, long FencingToken, byte[]? Lvb, long? LvbSeq, bool? LvbValid)
{
    public static ServerGrant From(LockInfo info) => new(info.LockId, WireJson.Mode(info.Mode) ?? LockMode.NL, info.FencingToken ?? 0,
        WireJson.Bytes(info.Lvb), info.LvbSeq, info.LvbValid);

    public static ServerGrant From(LockEventInfo item) => new(item.LockId ?? "", WireJson.Mode(item.Mode) ?? LockMode.NL, item.FencingToken ?? 0,
        WireJson.Bytes(item.Lvb), item.LvbSeq, item.LvbValid);
}
