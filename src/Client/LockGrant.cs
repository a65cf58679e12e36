namespace RaftDlm.Client;

/// <summary>What a lock handle holds after a grant.</summary>
/// <param name="LockId">The server's id of the lock.</param>
/// <param name="Mode">The mode held at the server (a cached lock may hold more than was asked).</param>
/// <param name="FencingToken">Pass it to whatever the lock guards; it strictly increases per resource.</param>
/// <param name="Lvb">The lock value block (empty for an NL grant).</param>
/// <param name="LvbSeq">The LVB's change counter at this grant.</param>
/// <param name="LvbValid">False when a PW/EX holder ended without writing the LVB (it died, for example).</param>
/// <param name="ChangedSinceLastHeld">True when the LVB changed (or was invalidated) since this handle last held the lock, or on the handle's first grant.</param>
/// <param name="FromCache">True when the grant was served locally with no round trip.</param>
public sealed record LockGrant(
    string LockId,
    LockMode Mode,
    long FencingToken,
    byte[] Lvb,
    long LvbSeq,
    bool LvbValid,
    bool ChangedSinceLastHeld,
    bool FromCache);

/// <summary>A blocking notification: another request waits for a mode incompatible with this lock.</summary>
public sealed class LockBlockingEventArgs(LockMode blockedMode, bool held) : EventArgs
{
    /// <summary>The mode the other request waits for.</summary>
    public LockMode BlockedMode { get; } = blockedMode;

    /// <summary>True when the application holds the lock now (it is released or demoted at its unlock); false when it was idle in the cache (it is given up at once).</summary>
    public bool Held { get; } = held;
}

/// <summary>A queued request or conversion was granted.</summary>
public sealed class LockGrantedEventArgs(LockGrant grant) : EventArgs
{
    /// <summary>The grant.</summary>
    public LockGrant Grant { get; } = grant;
}

/// <summary>
/// A held lock as a scope: <c>await using var held = await session.LockAsync(ls, name, LockMode.EX, ct);</c>.
/// Disposing it unlocks (writing the LVB given to <see cref="SetLvb"/>); the handle stays cached in its session.
/// </summary>
public sealed class HeldLock : IAsyncDisposable
{
    private byte[]? _lvb;
    private int _disposed;

    internal HeldLock(DlmLock handle, LockGrant grant, bool freeHandle)
    {
        Handle = handle;
        Grant = grant;
        FreeHandle = freeHandle;
    }

    /// <summary>The handle this scope holds.</summary>
    public DlmLock Handle { get; }

    /// <summary>The grant.</summary>
    public LockGrant Grant { get; }

    /// <summary>The fencing token of the grant.</summary>
    public long FencingToken => Grant.FencingToken;

    /// <summary>The LVB at the grant.</summary>
    public byte[] Lvb => Grant.Lvb;

    /// <summary>Whether the LVB is valid.</summary>
    public bool LvbValid => Grant.LvbValid;

    /// <summary>Whether the LVB changed since this handle last held the lock.</summary>
    public bool ChangedSinceLastHeld => Grant.ChangedSinceLastHeld;

    /// <summary>Cancelled if the session is lost while the lock is held.</summary>
    public CancellationToken LostToken => Handle.Session.LostToken;

    private bool FreeHandle { get; }

    /// <summary>Converts the held lock in place (see <see cref="DlmLock.ConvertAsync(LockMode, byte[], CancellationToken)"/>); it stays held in the new mode.</summary>
    public Task<LockGrant> ConvertAsync(LockMode mode, byte[]? lvb = null, CancellationToken ct = default) => Handle.ConvertAsync(mode, lvb, ct);

    /// <summary>Sets the LVB to write when the scope ends (needs PW or EX).</summary>
    public void SetLvb(byte[] lvb) => _lvb = lvb ?? throw new ArgumentNullException(nameof(lvb));

    /// <summary>Unlocks. A session that was lost meanwhile is not an error here: the lock is gone either way.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
        try
        {
            await Handle.UnlockAsync(_lvb).ConfigureAwait(false);
            if (FreeHandle) await Handle.DisposeAsync().ConfigureAwait(false);
        }
        catch (SessionExpiredException)
        {
        }
    }
}
