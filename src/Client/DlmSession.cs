using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Client;

/// <summary>The health of a session as the client sees it.</summary>
public enum SessionState
{
    /// <summary>Keep-alives are being answered.</summary>
    Healthy,
    /// <summary>Keep-alives are failing: the session may still be alive (a new leader gives a grace period), but cached locks are no longer handed out.</summary>
    Jeopardy,
    /// <summary>The server says the session expired: every handle is invalid.</summary>
    Expired,
    /// <summary>
    /// No keep-alive was answered in time to renew the lease (its local deadline passed): the server may already
    /// have expired the session and granted its locks to another, so every handle is invalid, as for
    /// <see cref="Expired"/>.
    /// </summary>
    Lost,
    /// <summary>The session was closed by this client.</summary>
    Closed,
}

/// <summary>A change of <see cref="DlmSession.State"/>.</summary>
public sealed class SessionStateChangedEventArgs(SessionState previous, SessionState current) : EventArgs
{
    /// <summary>The state before.</summary>
    public SessionState Previous { get; } = previous;

    /// <summary>The state now.</summary>
    public SessionState Current { get; } = current;
}

/// <summary>
/// A session: the client's lease at the server. It sends keep-alives at about a third of its TTL, on any
/// node that answers, and pumps its events by long-poll to the lock handles. Its state goes from
/// <see cref="SessionState.Healthy"/> to <see cref="SessionState.Jeopardy"/> while keep-alives fail, back to
/// Healthy when one succeeds, or to <see cref="SessionState.Expired"/> when the server says so; then every
/// handle is invalidated and every waiter gets a <see cref="SessionExpiredException"/>.
/// <para>
/// The lease deadline: the client remembers when each keep-alive that was answered had been sent (on a monotonic
/// clock). The server cannot expire the session before that moment plus the TTL, and may right after it. So
/// when <c>sent + TTL − margin</c> passes with no newer answer, the session goes to
/// <see cref="SessionState.Lost"/> on its own, without waiting to hear from a server it may not reach.
/// </para>
/// </summary>
public sealed partial class DlmSession : IAsyncDisposable
{
    // Cancelled when the session ends (expired or closed). It is LostToken, and it also stops the keep-alives
    // and the event pump, which have nothing left to do once the session is over.
    private readonly CancellationTokenSource _lost = new();
    // Guards _state together with _handles and _named, so that no handle is allocated after the session's
    // end has invalidated the others.
    private readonly Lock _sync = new();
    private readonly ILogger _logger;
    private readonly HashSet<DlmLock> _handles = [];
    private readonly Dictionary<(string, string), DlmLock> _named = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _requestId;
    private SessionState _state = SessionState.Healthy;
    private Task _keepAlives = Task.CompletedTask;
    private Task _pump = Task.CompletedTask;
    private volatile bool _keepAlivesPaused;
    // The lease's local deadline, a Stopwatch timestamp: the send time of the newest answered keep-alive (or of
    // the open) plus the TTL minus the margin. Only ever moves forward.
    private long _leaseDeadline;
    // The send time (Stopwatch timestamp) of the keep-alive, or the open, that set _leaseDeadline.
    private long _renewalSent;
    private Task _leaseWatch = Task.CompletedTask;

    private DlmSession(DlmClient client, string sessionId, TimeSpan ttl, DlmSessionOptions options, long openSent)
    {
        Client = client;
        SessionId = sessionId;
        Ttl = ttl;
        Options = options;
        LeaseMargin = options.LeaseMarginFor(ttl);
        _logger = client.Logger;
        Events = new SessionEventPump(this);
        _leaseDeadline = openSent + Ticks(Ttl - LeaseMargin);
        _renewalSent = openSent;
    }

    /// <summary>The client this session talks through.</summary>
    public DlmClient Client { get; }

    /// <summary>The server's id for this session.</summary>
    public string SessionId { get; }

    /// <summary>The TTL the server granted.</summary>
    public TimeSpan Ttl { get; }

    /// <summary>The options the session was opened with.</summary>
    public DlmSessionOptions Options { get; }

    /// <summary>How long before the TTL runs out, counted from an answered keep-alive's send time, the session is taken as lost.</summary>
    public TimeSpan LeaseMargin { get; }

    /// <summary>
    /// How long the lease is still certain to hold at the server, by the local clock: until the newest answered
    /// keep-alive's send time plus the TTL minus <see cref="LeaseMargin"/>. Zero or less once it has passed.
    /// </summary>
    public TimeSpan LeaseRemaining => Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), Volatile.Read(ref _leaseDeadline));

    /// <summary>
    /// When the newest answered keep-alive (or the open) was sent, as a wall-clock time read off the monotonic
    /// clock: the server keeps the session at least until this plus the TTL.
    /// </summary>
    public DateTimeOffset LeaseRenewalSentAt => DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(Volatile.Read(ref _renewalSent));

    /// <summary>The current state.</summary>
    public SessionState State
    {
        get
        {
            lock (_sync) return _state;
        }
    }

    /// <summary>Cancelled when the session is lost (its lease deadline passed), expired or closed: hand it to work that must stop then.</summary>
    public CancellationToken LostToken => _lost.Token;

    /// <summary>Completes when the session has been lost, expired or been closed, after the <see cref="StateChanged"/> handlers of that change ran.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Raised on every state change, on a background thread.</summary>
    public event EventHandler<SessionStateChangedEventArgs>? StateChanged;

    internal ILogger Logger => Client.Logger;

    // Routes the session's events to its handles by lock id.
    internal SessionEventPump Events { get; }

    // Unique within this session, so that a retry can reuse it and get the first reply.
    internal long NextRequestId() => Interlocked.Increment(ref _requestId);

    // Test hook: stops (or resumes) sending keep-alives, as if the process were paused.
    internal void PauseKeepAlives(bool paused) => _keepAlivesPaused = paused;

    internal static DlmSession Start(DlmClient client, string sessionId, TimeSpan ttl, DlmSessionOptions options, long openSent)
    {
        var session = new DlmSession(client, sessionId, ttl, options, openSent);
        var lost = session._lost.Token;
        session._keepAlives = Task.Run(() => session.KeepAliveLoopAsync(lost));
        session._pump = Task.Run(() => session.Events.RunAsync(lost));
        if (options.LocalLeaseDeadline) session._leaseWatch = Task.Run(() => session.LeaseWatchAsync(lost));
        return session;
    }

    /// <summary>Allocates a lock handle on a resource; nothing is sent until it is locked.</summary>
    public DlmLock AllocLock(string lockspace, string resource, LockOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(lockspace);
        ArgumentException.ThrowIfNullOrEmpty(resource);
        var handle = new DlmLock(this, lockspace, resource, options ?? Options.DefaultLockOptions);
        lock (_sync)
        {
            if (_state is SessionState.Expired or SessionState.Lost or SessionState.Closed) throw Gone();
            _handles.Add(handle);
        }
        return handle;
    }

    /// <summary>
    /// Locks a resource through this session's handle for it (allocated on first use with the session's
    /// default lock options, so caching carries over between scopes) and returns a scope that unlocks on dispose.
    /// </summary>
    public async Task<HeldLock> LockAsync(string lockspace, string resource, LockMode mode, CancellationToken ct = default)
    {
        DlmLock? handle;
        lock (_sync) _named.TryGetValue((lockspace, resource), out handle);
        if (handle is null)
        {
            var fresh = AllocLock(lockspace, resource);
            lock (_sync)
            {
                if (!_named.TryGetValue((lockspace, resource), out handle))
                {
                    handle = fresh;
                    _named.Add((lockspace, resource), fresh);
                }
            }
            if (!ReferenceEquals(handle, fresh)) await fresh.DisposeAsync().ConfigureAwait(false);
        }
        return await handle.HoldAsync(mode, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes over the first orphan (a persistent lock whose session ended) held in exactly <paramref name="mode"/>
    /// on a top-level resource: the session then owns it, with its lock id and fencing token, and the returned
    /// scope releases it on dispose. <see cref="DlmException"/> NotFound when there is none.
    /// </summary>
    public async Task<HeldLock> AdoptOrphanAsync(string lockspace, string resource, LockMode mode, CancellationToken ct = default)
    {
        var handle = AllocLock(lockspace, resource, new LockOptions { Flags = ["persistent"] });
        try
        {
            return new HeldLock(handle, await handle.AdoptAsync(mode, ct).ConfigureAwait(false), freeHandle: true);
        }
        catch
        {
            await handle.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The session and its locks as the server shows them.</summary>
    public Task<SessionInfo> GetInfoAsync(CancellationToken ct = default) => Client.GetSessionAsync(SessionId, ct);

    /// <summary>Frees every handle (writing dirty LVBs), closes the session at the server and stops the pumps.</summary>
    public async ValueTask DisposeAsync()
    {
        if (State is SessionState.Healthy or SessionState.Jeopardy)
        {
            foreach (var handle in Handles())
            {
                try
                {
                    await handle.DisposeAsync().ConfigureAwait(false);
                }
                catch (DlmException error)
                {
                    LogHandleFreeFailed(handle.Resource, error.Message);
                }
            }
        }
        // Ending the session cancels _lost, which stops the keep-alives and the event pump. A session lost by its
        // local deadline may still be alive at the server: closing it there frees its locks sooner.
        var wasLost = State == SessionState.Lost;
        if (SetState(SessionState.Closed) || wasLost)
        {
            try
            {
                // A lost session most likely cannot reach any node: try briefly, it expires by itself anyway.
                var budget = wasLost ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(5);
                using var bounded = new CancellationTokenSource(wasLost ? budget : Client.Options.RetryBudget);
                await Client.SendAsync(new Call(HttpMethod.Delete, "/v1/sessions/" + SessionId, null, "close-session") { Budget = budget }, bounded.Token).ConfigureAwait(false);
            }
            catch (Exception error) when (error is DlmException or OperationCanceledException)
            {
                LogCloseFailed(SessionId, error.Message);
            }
        }
        await Task.WhenAll(_keepAlives, _pump, _leaseWatch).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    internal List<DlmLock> Handles()
    {
        lock (_sync) return [.. _handles];
    }

    internal void Forget(DlmLock handle)
    {
        lock (_sync)
        {
            _handles.Remove(handle);
            if (_named.TryGetValue((handle.Lockspace, handle.Resource), out var named) && ReferenceEquals(named, handle)) _named.Remove((handle.Lockspace, handle.Resource));
        }
        if (handle.LockId is { } id) Events.Unroute(id, handle);
    }

    internal SessionExpiredException Gone(Exception? inner = null) => new(State switch
    {
        SessionState.Closed => $"session {SessionId} was closed",
        SessionState.Lost => $"session {SessionId} lost its lease: no keep-alive was answered within its TTL",
        _ => $"session {SessionId} expired",
    }, inner);

    // A server answer or event said SessionExpired: the session is over, whatever else has been seen yet.
    internal void ServerSaysExpired()
    {
        if (State is not (SessionState.Closed or SessionState.Lost)) SetState(SessionState.Expired);
    }

    // Turns a lock error into SessionExpired when the session is in fact gone: the server ends a waiting
    // request with Conflict when its session expires under it.
    internal async Task<Exception> ExplainAsync(DlmException error)
    {
        if (error is SessionExpiredException)
        {
            ServerSaysExpired();
            return Gone(error);
        }
        if (LostToken.IsCancellationRequested) return Gone(error);
        try
        {
            using var bounded = new CancellationTokenSource(Client.Options.RequestTimeout);
            await Client.SendAsync(new Call(HttpMethod.Get, "/v1/sessions/" + SessionId, null, "get-session") { Budget = TimeSpan.FromSeconds(3) }, bounded.Token).ConfigureAwait(false);
            return error;
        }
        catch (SessionExpiredException)
        {
            ServerSaysExpired();
            return Gone(error);
        }
        catch (Exception probe) when (probe is DlmException or OperationCanceledException)
        {
            return error;
        }
    }

    private bool SetState(SessionState next)
    {
        SessionState previous;
        lock (_sync)
        {
            previous = _state;
            if (previous == next || previous is SessionState.Expired or SessionState.Lost or SessionState.Closed) return false;
            _state = next;
        }
        LogStateChanged(SessionId, previous, next);
        var final = next is SessionState.Expired or SessionState.Lost or SessionState.Closed;
        if (final) InvalidateAll();
        try
        {
            StateChanged?.Invoke(this, new SessionStateChangedEventArgs(previous, next));
        }
        catch (Exception error)
        {
            LogCallbackFailed(error.Message);
        }
        // Last, so that whoever awaits Ended finds the handlers of the final change already run.
        if (final) _ended.TrySetResult();
        return true;
    }

    private void InvalidateAll()
    {
        var error = Gone();
        foreach (var handle in Handles()) handle.Invalidate(error);
        _lost.Cancel();
    }

    private async Task KeepAliveLoopAsync(CancellationToken ct)
    {
        var healthyInterval = Ttl / 3;
        var retryInterval = TimeSpan.FromMilliseconds(Math.Clamp(Ttl.TotalMilliseconds / 10, 50, 500));
        // One keep-alive round may move over every node but must end in time for the next one.
        var roundBudget = TimeSpan.FromMilliseconds(Math.Max(300, Ttl.TotalMilliseconds / 3));
        var attemptTimeout = TimeSpan.FromMilliseconds(Math.Clamp(Ttl.TotalMilliseconds / 2, 1000, Client.Options.RequestTimeout.TotalMilliseconds));
        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(State == SessionState.Healthy ? healthyInterval : retryInterval, ct).ConfigureAwait(false);
                if (_keepAlivesPaused) continue;
                // The lease runs from when the request left, not from when its answer came back.
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    var call = new Call(HttpMethod.Post, $"/v1/sessions/{SessionId}/keepalive", null, "keepalive")
                    {
                        AttemptTimeout = attemptTimeout,
                        Budget = roundBudget,
                    };
                    await Client.SendAsync(call, ct).ConfigureAwait(false);
                    ExtendLease(sent);
                    SetState(SessionState.Healthy);
                }
                catch (SessionExpiredException)
                {
                    SetState(SessionState.Expired);
                    return;
                }
                catch (DlmException error)
                {
                    LogKeepAliveFailed(SessionId, error.Message);
                    SetState(SessionState.Jeopardy);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private void ExtendLease(long sent)
    {
        var deadline = sent + Ticks(Ttl - LeaseMargin);
        var current = Volatile.Read(ref _leaseDeadline);
        while (deadline > current)
        {
            var seen = Interlocked.CompareExchange(ref _leaseDeadline, deadline, current);
            if (seen == current)
            {
                Volatile.Write(ref _renewalSent, sent);
                return;
            }
            current = seen;
        }
    }

    // Watches the lease on the local clock: once half the TTL has passed since the newest answered keep-alive was
    // sent, a healthy session is in jeopardy (it has missed its renewals, whatever the keep-alive in flight will
    // say); once the deadline passes with no newer answer, it is lost. Each turn sleeps until the next of those
    // two moments it read (a keep-alive answered meanwhile moves both), so it wakes a few times per renewal.
    private async Task LeaseWatchAsync(CancellationToken ct)
    {
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var remaining = LeaseRemaining;
                if (remaining <= TimeSpan.Zero)
                {
                    if (State is SessionState.Healthy or SessionState.Jeopardy)
                    {
                        LogLeaseRanOut(SessionId, (int)LeaseMargin.TotalMilliseconds);
                        SetState(SessionState.Lost);
                    }
                    return;
                }
                var untilJeopardy = Ttl / 2 - Stopwatch.GetElapsedTime(Volatile.Read(ref _renewalSent));
                if (untilJeopardy <= TimeSpan.Zero && State == SessionState.Healthy) SetState(SessionState.Jeopardy);
                var sleep = untilJeopardy > TimeSpan.Zero && untilJeopardy < remaining ? untilJeopardy : remaining;
                await Task.Delay(sleep + TimeSpan.FromMilliseconds(1), ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);

    [LoggerMessage(EventId = 5105, Level = LogLevel.Warning, Message = "Session {SessionId}: no keep-alive answered before the lease's local deadline (TTL minus {MarginMs} ms): the session is lost")]
    private partial void LogLeaseRanOut(string sessionId, int marginMs);

    [LoggerMessage(EventId = 5100, Level = LogLevel.Information, Message = "Session {SessionId}: {Previous} -> {Current}")]
    private partial void LogStateChanged(string sessionId, SessionState previous, SessionState current);

    [LoggerMessage(EventId = 5101, Level = LogLevel.Warning, Message = "Session {SessionId}: keep-alive failed: {Reason}")]
    private partial void LogKeepAliveFailed(string sessionId, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "A session or lock callback threw: {Reason}")]
    private partial void LogCallbackFailed(string reason);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Warning, Message = "Session {SessionId}: close failed: {Reason}")]
    private partial void LogCloseFailed(string sessionId, string reason);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Warning, Message = "Freeing the lock on {Resource} failed: {Reason}")]
    private partial void LogHandleFreeFailed(string resource, string reason);

    internal void CallbackFailed(Exception error) => LogCallbackFailed(error.Message);
}
