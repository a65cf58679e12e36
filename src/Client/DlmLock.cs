using Microsoft.Extensions.Logging;

namespace RaftDlm.Client;

/// <summary>
/// A lock handle on one resource, in the spirit of the device-mapper cluster-locking proposal: allocate it
/// once (<see cref="DlmSession.AllocLock"/>), then lock and unlock it as often as needed, and dispose it to
/// free it. One holder at a time: a second <see cref="LockAsync"/> waits for the first holder's unlock.
/// With caching on, an unlock keeps the lock at the server and a later lock of a covered mode is served
/// locally; a blocking event gives the cached lock up as soon as it is not in use.
/// </summary>
public sealed partial class DlmLock : IAsyncDisposable
{
    private static readonly TimeSpan GrantPollInterval = TimeSpan.FromSeconds(3);
    // Taken by a lock and given back by its unlock (or the handle's disposal): one application holder at a time.
    private readonly SemaphoreSlim _holder = new(1, 1);
    // Every change to the lock at the server (lock, unlock, revoke, free) runs under it, one at a time; the
    // event pump never takes it, it only updates _server and starts a revoke.
    private readonly SemaphoreSlim _roundTrip = new(1, 1);
    private readonly ServerLockState _server = new();
    private readonly CacheTuner _tuner;
    private readonly ILogger _logger;
    // 1 while the application holds the lock. The hold ends by exchanging it for 0, never by writing 0, so
    // that exactly one of an unlock and the handle's disposal gives _holder back.
    private volatile int _inUse;
    private volatile Exception? _invalid;
    private volatile bool _disposed;

    internal DlmLock(DlmSession session, string lockspace, string resource, LockOptions options)
    {
        Session = session;
        Lockspace = lockspace;
        Resource = resource;
        Options = options;
        _tuner = new CacheTuner(options.AutoTuneHalfLife);
        _logger = session.Logger;
    }

    /// <summary>The session that owns the handle.</summary>
    public DlmSession Session { get; }

    /// <summary>The lockspace.</summary>
    public string Lockspace { get; }

    /// <summary>The resource name.</summary>
    public string Resource { get; }

    /// <summary>The handle's options.</summary>
    public LockOptions Options { get; }

    /// <summary>The server's lock id while the handle has a lock there (held or cached).</summary>
    public string? LockId => _server.LockId;

    /// <summary>The mode granted at the server (held or cached), or null.</summary>
    public LockMode? ServerMode => _server.Mode;

    /// <summary>True while the application holds the lock (between a lock and its unlock).</summary>
    public bool IsHeld => _inUse == 1;

    /// <summary>False after the session expired or closed, or the handle was disposed.</summary>
    public bool IsValid => _invalid is null && !_disposed;

    /// <summary>Whether an unlock would cache now: caching is configured and auto-tuning has not suspended it.</summary>
    public bool IsCaching => Options.Caching != CacheMode.None && (!Options.AutoTune || _tuner.ShouldCache);

    /// <summary>The decayed win and loss counts of auto-tuning.</summary>
    public (double Wins, double Losses) CacheScores => _tuner.Scores;

    // Test hook: runs in an unlock that ends the hold, after it has looked for blocked requests and decided
    // what to do with the lock and before it marks the lock not held, so a test can deliver an event there.
    internal Action? HoldEnding { get; set; }

    /// <summary>Raised (on the event pump's thread) when another request waits for a mode this lock blocks.</summary>
    public event EventHandler<LockBlockingEventArgs>? Blocking;

    /// <summary>Raised when a queued request or conversion of this handle is granted.</summary>
    public event EventHandler<LockGrantedEventArgs>? Granted;

    /// <summary>Locks in PR.</summary>
    public Task<LockGrant> ReadLockAsync(CancellationToken ct = default) => LockAsync(LockMode.PR, ct);

    /// <summary>Locks in EX.</summary>
    public Task<LockGrant> WriteLockAsync(CancellationToken ct = default) => LockAsync(LockMode.EX, ct);

    /// <summary>Locks and returns a scope that unlocks on dispose.</summary>
    public async Task<HeldLock> HoldAsync(LockMode mode, CancellationToken ct = default) =>
        new(this, await LockAsync(mode, ct).ConfigureAwait(false), freeHandle: false);

    /// <summary>
    /// Locks in <paramref name="mode"/>: from the cache when a cached lock covers it (and the session is
    /// healthy), else by a request or a conversion at the server, waiting for the grant if it queues.
    /// Cancelling <paramref name="ct"/> cancels a queued request at the server.
    /// </summary>
    public Task<LockGrant> LockAsync(LockMode mode, CancellationToken ct = default) => TakeAsync(token => AcquireAsync(mode, token), ct);

    // Takes the hold (one holder at a time, one round trip at a time) and gets the lock with acquire: the one
    // path of LockAsync and AdoptAsync, with their shared handling of cancellation and of a session that ended.
    private async Task<LockGrant> TakeAsync(Func<CancellationToken, Task<LockGrant>> acquire, CancellationToken ct)
    {
        ThrowIfUnusable();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Session.LostToken);
        var token = linked.Token;
        try
        {
            await _holder.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Session.Gone();
        }
        try
        {
            await _roundTrip.WaitAsync(token).ConfigureAwait(false);
            try
            {
                ThrowIfUnusable();
                var grant = await acquire(token).ConfigureAwait(false);
                _inUse = 1;
                return grant;
            }
            finally
            {
                _roundTrip.Release();
            }
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            _holder.Release();
            throw Session.Gone();
        }
        catch (DlmException error) when (error is SessionExpiredException || error.Code is DlmErrorCodes.Conflict or DlmErrorCodes.Cancelled)
        {
            // A request that ended without a grant may mean the session expired under it: ask, so the
            // caller gets the session's fate rather than the lock's.
            _holder.Release();
            throw await Session.ExplainAsync(error).ConfigureAwait(false);
        }
        catch
        {
            _holder.Release();
            throw;
        }
    }

    /// <summary>
    /// Converts the held lock in place to <paramref name="mode"/>, up or down, keeping its lock id and fencing
    /// token (the VMS and Linux DLM conversion: PR→EX to write, EX→NL to step aside while keeping the lock and its
    /// LVB cached). <paramref name="lvb"/> is written on a conversion down (or to the same mode) from PW or EX.
    /// An upward conversion may queue: it waits for its grant, and cancelling <paramref name="ct"/> cancels the
    /// conversion at the server (the lock keeps its old mode). The lock stays held in the new mode.
    /// </summary>
    public async Task<LockGrant> ConvertAsync(LockMode mode, byte[]? lvb = null, CancellationToken ct = default)
    {
        if (_inUse == 0 && _invalid is null) throw new InvalidOperationException($"the lock on {Resource} is not held");
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Session.LostToken);
        try
        {
            await _roundTrip.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            // The session was lost while this call waited for the lock's previous round trip.
            throw Session.Gone();
        }
        try
        {
            ThrowIfUnusable();
            var (lockId, held) = _server.Current;
            if (lockId is null || held is not { } from) throw new InvalidOperationException($"the lock on {Resource} has no lock at the server");
            if (lvb is not null && !(LockModes.MayWriteLvb(from) && LockModes.Covers(from, mode)))
            {
                throw new InvalidOperationException($"an LVB is written only on a conversion down (or to the same mode) from PW or EX; this is {from} to {mode}");
            }
            // A dirty LVB kept locally goes with a conversion that may write it.
            var write = lvb ?? (LockModes.MayWriteLvb(from) && LockModes.Covers(from, mode) ? _server.DirtyLvb : null);
            return _server.Apply(await ConvertAsync(lockId, mode, write, linked.Token).ConfigureAwait(false), wrote: write is not null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw Session.Gone();
        }
        catch (SessionExpiredException error)
        {
            Session.ServerSaysExpired();
            throw Session.Gone(error);
        }
        finally
        {
            _roundTrip.Release();
        }
    }

    // Takes over an orphan held in exactly this mode on the handle's (top-level) resource, as LockAsync takes a
    // new lock: the handle then holds it, with the orphan's lock id and fencing token.
    internal Task<LockGrant> AdoptAsync(LockMode mode, CancellationToken ct) => TakeAsync(async token =>
    {
        if (_server.LockId is not null) throw new InvalidOperationException($"the handle on {Resource} already has a lock");
        var body = new AdoptRequestBody(Session.SessionId, Resource, mode.ToString(), Session.NextRequestId());
        var reply = await Session.Client.SendAsync(new Call(HttpMethod.Post, $"/v1/lockspaces/{Uri.EscapeDataString(Lockspace)}/orphans/adopt", body, "adopt"), token).ConfigureAwait(false);
        var info = reply.Read<LockInfo>();
        _server.Requested(info.LockId);
        Session.Events.Route(info.LockId, this);
        return _server.Apply(ServerGrant.From(info));
    }, ct);

    /// <summary>
    /// Unlocks. <paramref name="lvb"/> (PW or EX only) becomes the resource's LVB; with caching it may stay
    /// local (dirty) until the cached lock is given up. Fails with <see cref="SessionExpiredException"/> when
    /// the session was lost meanwhile (the lock is gone, so the critical section may not have been protected).
    /// </summary>
    public async Task UnlockAsync(byte[]? lvb = null, CancellationToken ct = default)
    {
        if (_inUse == 0 && _invalid is null) throw new InvalidOperationException($"the lock on {Resource} is not held");
        await _roundTrip.WaitAsync(ct).ConfigureAwait(false);
        var holdEnded = false;
        try
        {
            if (_invalid is not null)
            {
                holdEnded = true;
                throw Session.Gone();
            }
            var (held, blocked) = _server.ModeAndBlocking;
            var mode = held ?? LockMode.NL;
            if (lvb is not null && !LockModes.MayWriteLvb(mode)) throw new InvalidOperationException($"an LVB can only be written from PW or EX; this lock is {mode}");
            if (lvb is not null) _server.SetDirtyLvb(lvb);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Session.LostToken);
            if (blocked)
            {
                // Somebody waits for this lock: caching it would only make them wait longer.
                _tuner.Loss();
                await GiveUpAsync(demote: Options.DemoteOnRevoke || Options.Caching == CacheMode.KeepNL, linked.Token).ConfigureAwait(false);
            }
            else if (Options.Caching == CacheMode.KeepMode && IsCaching)
            {
                if (lvb is not null) _server.KeepLvbLocally(lvb);
            }
            else if (Options.Caching == CacheMode.KeepNL && IsCaching)
            {
                await GiveUpAsync(demote: true, linked.Token).ConfigureAwait(false);
            }
            else
            {
                await GiveUpAsync(demote: false, linked.Token).ConfigureAwait(false);
            }
            holdEnded = true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && Session.LostToken.IsCancellationRequested)
        {
            holdEnded = true;
            throw Session.Gone();
        }
        catch (SessionExpiredException error)
        {
            holdEnded = true;
            Session.ServerSaysExpired();
            throw Session.Gone(error);
        }
        finally
        {
            if (holdEnded) HoldEnding?.Invoke();
            // The hold ends before the next round trip may start, so a revoke waiting for it finds the lock idle.
            var release = holdEnded && Interlocked.Exchange(ref _inUse, 0) == 1;
            // A blocking event handled after this unlock read ModeAndBlocking saw the lock still held and left
            // giving it up to the unlock, which may have kept it: look again now that the hold has ended.
            if (release && _server.ModeAndBlocking.BlocksWaiter) _ = Task.Run(RevokeAsync);
            _roundTrip.Release();
            if (release) _holder.Release();
        }
    }

    /// <summary>Frees the handle: releases its lock at the server (writing a dirty LVB), held or cached.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        using var bounded = new CancellationTokenSource(Session.Client.Options.RetryBudget);
        try
        {
            await _roundTrip.WaitAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A request still waits for its grant; the session's end will release whatever it gets.
            MarkDisposed();
            return;
        }
        try
        {
            if (_invalid is null && !_disposed && _server.LockId is not null) await GiveUpAsync(demote: false, bounded.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogFreeFailed(Resource, error.Message);
        }
        finally
        {
            MarkDisposed();
            _roundTrip.Release();
        }
    }

    // Called by the session's pump with an event for this handle's lock. It never waits: a revoke it starts
    // runs on its own task.
    internal void OnEvent(LockEventInfo item)
    {
        switch (item.Type)
        {
            case "granted":
                if (_server.CompleteWaiter(item)) Raise(Granted, new LockGrantedEventArgs(_server.GrantFrom(item)));
                break;
            case "cancelled" or "deadlock":
                _server.FailWaiter(new DlmException(item.Type == "deadlock" ? DlmErrorCodes.Deadlock : DlmErrorCodes.Cancelled, 409, $"the request for {Resource} was {item.Type}"));
                break;
            case "timeout":
                _server.FailWaiter(new LockTimeoutException($"the request for {Resource} waited past its timeout and was cancelled"));
                break;
            case "demoted":
                _server.Demoted();
                break;
            case "lvbInvalid":
                _server.LvbInvalidated(item.LvbSeq);
                break;
            case "blocking" when item.BlockedMode is { } blockedText:
                OnBlocking(item.LockId, LockModes.Parse(blockedText));
                break;
        }
    }

    // Events were lost, and a blocking one may be among them: give up an idle cached lock as if it blocked somebody.
    internal void OnGap()
    {
        if (_server.LockId is { } lockId) OnBlocking(lockId, LockMode.EX);
    }

    internal void Invalidate(Exception error)
    {
        Interlocked.CompareExchange(ref _invalid, error, null);
        _server.Lost(error);
    }

    private async Task<LockGrant> AcquireAsync(LockMode mode, CancellationToken ct)
    {
        if (_server.ModeAndBlocking.BlocksWaiter)
        {
            // A blocking event is being handled: give the lock up first and queue behind the waiter.
            _tuner.Loss();
            await GiveUpAsync(demote: Options.DemoteOnRevoke, ct).ConfigureAwait(false);
        }
        var (lockId, cached) = _server.Current;
        if (lockId is null || cached is not { } held)
        {
            Session.Client.Metrics.Miss();
            return _server.Apply(await RequestAsync(mode, ct).ConfigureAwait(false));
        }
        if (CanServeLocally(held, mode))
        {
            Session.Client.Metrics.Hit();
            _tuner.Win();
            return _server.CachedGrant(lockId, held);
        }
        Session.Client.Metrics.Miss();
        // Keep a cached stronger mode (a same-mode conversion refreshes the LVB); else convert to the new one.
        var target = LockModes.Covers(held, mode) ? held : mode;
        var dirty = _server.DirtyLvb;
        if (dirty is not null && target != held)
        {
            // An LVB may only be written on a conversion down or to the same mode: flush it first.
            _server.Apply(await ConvertAsync(lockId, held, dirty, ct).ConfigureAwait(false), wrote: true);
            dirty = null;
        }
        return _server.Apply(await ConvertAsync(lockId, target, dirty, ct).ConfigureAwait(false), wrote: dirty is not null);
    }

    // A cached lock is served locally only when it covers the mode, the session is healthy, and its mode
    // keeps LVB writers out (every mode but NL and CR excludes PW and EX), so the cached LVB is current.
    private bool CanServeLocally(LockMode held, LockMode wanted) =>
        Options.Caching == CacheMode.KeepMode
        && IsCaching
        && Session.State == SessionState.Healthy
        && LockModes.Covers(held, wanted)
        && (wanted == LockMode.NL || held is not (LockMode.NL or LockMode.CR));

    // Releases the lock at the server, or demotes it to NL, writing a dirty LVB when the mode allows.
    private async Task GiveUpAsync(bool demote, CancellationToken ct)
    {
        var (lockId, mode, dirty) = _server.ForGiveUp();
        if (lockId is null || mode is null) return;
        if (demote)
        {
            if (mode != LockMode.NL || dirty is not null)
            {
                var demoted = await ConvertAsync(lockId, LockMode.NL, dirty, ct).ConfigureAwait(false);
                _server.Apply(demoted, wrote: dirty is not null);
            }
            _server.ClearPending();
            return;
        }
        var body = new UnlockRequestBody(WireJson.Base64(dirty), null, Session.NextRequestId(), Session.SessionId);
        try
        {
            await Session.Client.SendAsync(new Call(HttpMethod.Delete, DlmClient.LockPath(Lockspace, lockId), body, "unlock"), ct).ConfigureAwait(false);
        }
        catch (DlmException error) when (error.Code == DlmErrorCodes.NotFound)
        {
            // Already gone (a force-deleted lockspace, for one): nothing left to release.
        }
        Session.Events.Unroute(lockId);
        _server.Released(dirty);
    }

    private async Task<ServerGrant> RequestAsync(LockMode mode, CancellationToken ct)
    {
        var waitMs = (int)Session.Client.Options.LockWait.TotalMilliseconds;
        var body = new LockRequestBody(Session.SessionId, Resource, mode.ToString(), Options.ParentLockId,
            Options.Flags.Count == 0 ? null : [.. Options.Flags], waitMs, Session.NextRequestId(), TimeoutMs);
        var waiter = _server.ArmWaiter();
        var call = new Call(HttpMethod.Post, $"/v1/lockspaces/{Uri.EscapeDataString(Lockspace)}/locks", body, "lock")
        {
            AttemptTimeout = Session.Client.Options.LockWait + Session.Client.Options.RequestTimeout,
        };
        var reply = await Session.Client.SendAsync(call, ct).ConfigureAwait(false);
        var info = reply.Read<LockInfo>();
        _server.Requested(info.LockId);
        Session.Events.Route(info.LockId, this);
        if (reply.Status == 200) return ServerGrant.From(info);
        return await AwaitGrantAsync(info.LockId, waiter, conversion: false, ct).ConfigureAwait(false);
    }

    private async Task<ServerGrant> ConvertAsync(string lockId, LockMode mode, byte[]? lvb, CancellationToken ct)
    {
        var waitMs = (int)Session.Client.Options.LockWait.TotalMilliseconds;
        var flags = Options.Flags.Where(flag => flag != "persistent").ToArray();
        var body = new ConvertRequestBody(mode.ToString(), WireJson.Base64(lvb), flags.Length == 0 ? null : flags, waitMs, Session.NextRequestId(), Session.SessionId, TimeoutMs);
        var waiter = _server.ArmWaiter();
        var call = new Call(HttpMethod.Post, DlmClient.LockPath(Lockspace, lockId) + "/convert", body, "convert")
        {
            AttemptTimeout = Session.Client.Options.LockWait + Session.Client.Options.RequestTimeout,
        };
        var reply = await Session.Client.SendAsync(call, ct).ConfigureAwait(false);
        var info = reply.Read<LockInfo>();
        if (reply.Status == 200) return ServerGrant.From(info);
        return await AwaitGrantAsync(lockId, waiter, conversion: true, ct).ConfigureAwait(false);
    }

    // Waits for the granted event of a queued request. Events can be dropped (a full outbox) or stale (a
    // deadlock event of an earlier request), so the lock itself is read every few seconds and whenever an
    // event says the request failed. The wait ends with the grant, with the request's end at the server, or
    // with ct, which the caller links to the session's loss; cancelling cancels the request at the server.
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
                    ForgetRequest(lockId, conversion);
                    throw TimedOut(waiter) ?? new DlmException(DlmErrorCodes.Cancelled, 409, $"the request for {Resource} ended without a grant", error);
                }
                // A timed-out conversion is granted again, in its old mode: the timeout event tells it apart.
                if (info.State == "granted" && TimedOut(waiter) is { } timedOut) throw timedOut;
                if (info.State == "granted") return ServerGrant.From(info);
                if (info.State is "waiting" or "converting")
                {
                    if (done == waiter.Task) waiter = _server.ArmWaiter();
                    continue;
                }
                ForgetRequest(lockId, conversion);
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

    private static LockTimeoutException? TimedOut(TaskCompletionSource<LockEventInfo> waiter) =>
        waiter.Task.Exception?.InnerException as LockTimeoutException;

    private int? TimeoutMs => Options.Timeout is { } timeout ? (int)Math.Ceiling(timeout.TotalMilliseconds) : null;

    // A request that ended without a grant leaves no lock behind; a conversion that did leaves the lock in its old mode.
    private void ForgetRequest(string lockId, bool conversion)
    {
        if (conversion) return;
        Session.Events.Unroute(lockId);
        _server.Clear();
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
                Session.Events.Unroute(lockId);
                _server.Clear();
            }
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogCancelFailed(Resource, error.Message);
        }
    }

    private void OnBlocking(string? lockId, LockMode blockedMode)
    {
        if (!_server.MarkBlocked(lockId, blockedMode)) return;
        var held = IsHeld;
        LogBlocking(Resource, blockedMode, held);
        Raise(Blocking, new LockBlockingEventArgs(blockedMode, held));
        // A held lock is given up at its unlock, which sees the blocked request.
        if (!held) _ = Task.Run(RevokeAsync);
    }

    // Gives up an idle cached lock that blocks somebody, as soon as no other round trip runs. It waits at
    // most as long as the session lives.
    private async Task RevokeAsync()
    {
        try
        {
            await _roundTrip.WaitAsync(Session.LostToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        try
        {
            if (_inUse == 1 || _disposed || _invalid is not null || !_server.StillBlocks()) return;
            _tuner.Loss();
            await GiveUpAsync(Options.DemoteOnRevoke, Session.LostToken).ConfigureAwait(false);
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogRevokeFailed(Resource, error.Message);
        }
        finally
        {
            _roundTrip.Release();
        }
    }

    private void MarkDisposed()
    {
        _disposed = true;
        var wasHeld = Interlocked.Exchange(ref _inUse, 0) == 1;
        _server.FailWaiter(new ObjectDisposedException(nameof(DlmLock)));
        Session.Forget(this);
        if (wasHeld) _holder.Release();
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_invalid is not null) throw Session.Gone();
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

    [LoggerMessage(EventId = 5300, Level = LogLevel.Debug, Message = "Lock on {Resource} blocks a request for {BlockedMode} (held: {Held})")]
    private partial void LogBlocking(string resource, LockMode blockedMode, bool held);

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "Giving up the cached lock on {Resource} failed: {Reason}")]
    private partial void LogRevokeFailed(string resource, string reason);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Warning, Message = "Cancelling the request for {Resource} failed: {Reason}")]
    private partial void LogCancelFailed(string resource, string reason);

    [LoggerMessage(EventId = 5303, Level = LogLevel.Warning, Message = "Freeing the lock on {Resource} failed: {Reason}")]
    private partial void LogFreeFailed(string resource, string reason);
}
