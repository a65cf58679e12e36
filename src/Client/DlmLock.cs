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
    private readonly SemaphoreSlim _holder = new(1, 1);
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly object _sync = new();
    private readonly CacheTuner _tuner;
    private readonly ILogger _logger;
    private string? _lockId;
    private LockMode? _serverMode;
    private bool _inUse;
    private byte[] _lvb = [];
    private long _lvbSeq;
    private bool _lvbValid = true;
    private long _token;
    private long? _lastSeenSeq;
    private byte[]? _dirtyLvb;
    private LockMode? _blockedMode;
    private Exception? _invalid;
    private TaskCompletionSource<LockEventInfo>? _waiter;
    private bool _disposed;

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
    public string? LockId
    {
        get
        {
            lock (_sync) return _lockId;
        }
    }

    /// <summary>The mode granted at the server (held or cached), or null.</summary>
    public LockMode? ServerMode
    {
        get
        {
            lock (_sync) return _serverMode;
        }
    }

    /// <summary>True while the application holds the lock (between a lock and its unlock).</summary>
    public bool IsHeld
    {
        get
        {
            lock (_sync) return _inUse;
        }
    }

    /// <summary>False after the session expired or closed, or the handle was disposed.</summary>
    public bool IsValid
    {
        get
        {
            lock (_sync) return _invalid is null && !_disposed;
        }
    }

    /// <summary>Whether an unlock would cache now: caching is configured and auto-tuning has not suspended it.</summary>
    public bool IsCaching => Options.Caching != CacheMode.None && (!Options.AutoTune || _tuner.ShouldCache);

    /// <summary>The decayed win and loss counts of auto-tuning.</summary>
    public (double Wins, double Losses) CacheScores => _tuner.Scores;

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
    public async Task<LockGrant> LockAsync(LockMode mode, CancellationToken ct = default)
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
            await _gate.WaitAsync(token).ConfigureAwait(false);
            try
            {
                ThrowIfUnusable();
                var grant = await AcquireAsync(mode, token).ConfigureAwait(false);
                lock (_sync) _inUse = true;
                return grant;
            }
            finally
            {
                _gate.Release();
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
    /// Unlocks. <paramref name="lvb"/> (PW or EX only) becomes the resource's LVB; with caching it may stay
    /// local (dirty) until the cached lock is given up. Fails with <see cref="SessionExpiredException"/> when
    /// the session was lost meanwhile (the lock is gone, so the critical section may not have been protected).
    /// </summary>
    public async Task UnlockAsync(byte[]? lvb = null, CancellationToken ct = default)
    {
        lock (_sync)
        {
            if (!_inUse && _invalid is null) throw new InvalidOperationException($"the lock on {Resource} is not held");
        }
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        var released = false;
        try
        {
            LockMode mode;
            bool blocked;
            lock (_sync)
            {
                if (_invalid is not null)
                {
                    _inUse = false;
                    released = true;
                    throw Session.Gone();
                }
                mode = _serverMode ?? LockMode.NL;
                blocked = _blockedMode is { } wanted && !LockModes.AreCompatible(mode, wanted);
            }
            if (lvb is not null && !LockModes.MayWriteLvb(mode)) throw new InvalidOperationException($"an LVB can only be written from PW or EX; this lock is {mode}");
            if (lvb is not null)
            {
                lock (_sync) _dirtyLvb = lvb;
            }
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, Session.LostToken);
            if (blocked)
            {
                // Somebody waits for this lock: caching it would only make them wait longer.
                _tuner.Loss();
                await GiveUpAsync(demote: Options.DemoteOnRevoke || Options.Caching == CacheMode.KeepNL, linked.Token).ConfigureAwait(false);
            }
            else if (Options.Caching == CacheMode.KeepMode && IsCaching)
            {
                lock (_sync)
                {
                    if (lvb is not null)
                    {
                        _lvb = lvb;
                        _lvbValid = true;
                    }
                }
            }
            else if (Options.Caching == CacheMode.KeepNL && IsCaching)
            {
                await GiveUpAsync(demote: true, linked.Token).ConfigureAwait(false);
            }
            else
            {
                await GiveUpAsync(demote: false, linked.Token).ConfigureAwait(false);
            }
            lock (_sync) _inUse = false;
            released = true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested && Session.LostToken.IsCancellationRequested)
        {
            lock (_sync) _inUse = false;
            released = true;
            throw Session.Gone();
        }
        catch (SessionExpiredException error)
        {
            lock (_sync) _inUse = false;
            released = true;
            Session.ServerSaysExpired();
            throw Session.Gone(error);
        }
        finally
        {
            _gate.Release();
            if (released) _holder.Release();
        }
    }

    /// <summary>Frees the handle: releases its lock at the server (writing a dirty LVB), held or cached.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_sync)
        {
            if (_disposed) return;
        }
        using var bounded = new CancellationTokenSource(Session.Client.Options.RetryBudget);
        try
        {
            await _gate.WaitAsync(bounded.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // A request still waits for its grant; the session's end will release whatever it gets.
            MarkDisposed();
            return;
        }
        try
        {
            bool live;
            lock (_sync) live = _invalid is null && _lockId is not null && !_disposed;
            if (live) await GiveUpAsync(demote: false, bounded.Token).ConfigureAwait(false);
        }
        catch (Exception error) when (error is DlmException or OperationCanceledException)
        {
            LogFreeFailed(Resource, error.Message);
        }
        finally
        {
            MarkDisposed();
            _gate.Release();
        }
    }

    private void MarkDisposed()
    {
        bool wasHeld;
        lock (_sync)
        {
            _disposed = true;
            wasHeld = _inUse;
            _inUse = false;
            _waiter?.TrySetException(new ObjectDisposedException(nameof(DlmLock)));
        }
        Session.Forget(this);
        if (wasHeld) _holder.Release();
    }

    private void ThrowIfUnusable()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_invalid is not null) throw Session.Gone();
        }
    }
}
