namespace RaftDlm.LockStateMachine;

/// <summary>
/// Every check of a command that needs no state: names, modes, flags and their combinations, sizes and
/// bounds, each made here and nowhere else. The server calls <see cref="Check"/> before proposing, so a
/// malformed command is refused without taking a place in the log; <see cref="LockMachine"/> calls it when
/// it applies a command (after the session and request-id lookup), so a command that reaches the machine
/// some other way is refused with the same reply. Name rules live in <see cref="Names"/>.
/// </summary>
public static class CommandShape
{
    /// <summary>The longest wait timeout of a lock request or a conversion: an hour.</summary>
    public const int MaxTimeoutMs = 3_600_000;

    /// <summary>Returns why the command is malformed (refused as <see cref="ErrorCode.InvalidRequest"/>), or null.</summary>
    public static string? Check(Command command, LockLimits limits) => command switch
    {
        OpenSession c => Names.ValidateName(c.Name, "session") ?? TtlMs(c.TtlMs, limits),
        CreateLockspace c => Names.ValidateLockspace(c.Name) ?? LvbBytes(c.LvbBytes) ?? LockDelayMs(c.LockDelayMs, limits),
        DeleteLockspace c => Names.ValidateLockspace(c.Name),
        RequestLock c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource")
            ?? Mode(c.Mode) ?? Flags(c.Flags, Modes.NewRequestFlags, "a lock request") ?? Expedite(c.Flags, c.Mode)
            ?? TimeoutMs(c.TimeoutMs),
        ConvertLock c => Names.ValidateLockspace(c.Lockspace) ?? Mode(c.Mode) ?? Flags(c.Flags, Modes.ConvertFlags, "a conversion")
            ?? LvbOrInvalidate(c.Lvb, c.Flags) ?? TimeoutMs(c.TimeoutMs),
        Unlock c => Names.ValidateLockspace(c.Lockspace) ?? Flags(c.Flags, Modes.UnlockFlags, "an unlock") ?? LvbOrInvalidate(c.Lvb, c.Flags),
        AdoptOrphan c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource") ?? Mode(c.Mode),
        PurgeOrphans c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource"),
        _ => null,
    };

    private static string? TtlMs(int ttlMs, LockLimits limits) =>
        ttlMs < limits.MinTtlMs || ttlMs > limits.MaxTtlMs ? $"ttlMs must be from {limits.MinTtlMs} to {limits.MaxTtlMs}" : null;

    /// <summary>LVB sizes: a multiple of 8 from 8 to 256.</summary>
    private static string? LvbBytes(int lvbBytes) =>
        lvbBytes is >= 8 and <= 256 && lvbBytes % 8 == 0 ? null : "lvbBytes must be a multiple of 8 from 8 to 256";

    private static string? LockDelayMs(int lockDelayMs, LockLimits limits) =>
        lockDelayMs < 0 || lockDelayMs > limits.MaxLockDelayMs ? $"lockDelayMs must be from 0 to {limits.MaxLockDelayMs}" : null;

    private static string? Mode(LockMode mode) => Modes.IsValid(mode) ? null : $"unknown mode {(int)mode}";

    /// <summary>0 is no timeout; the wire accepts only 1 and above.</summary>
    private static string? TimeoutMs(int timeoutMs) =>
        timeoutMs is < 0 or > MaxTimeoutMs ? $"timeoutMs must be from 1 to {MaxTimeoutMs}" : null;

    /// <summary>noDlckBlk (not implemented), flags outside what the operation accepts, then noQueueBast without noQueue.</summary>
    private static string? Flags(LockFlags flags, LockFlags allowed, string operation)
    {
        if ((flags & LockFlags.NoDlckBlk) != 0) return "noDlckBlk is not implemented (the Linux DLM does not implement it either)";
        var extra = flags & ~allowed;
        if (extra != 0) return $"flags {extra} are not valid for {operation}";
        return (flags & LockFlags.NoQueueBast) != 0 && (flags & LockFlags.NoQueue) == 0 ? "noQueueBast is only valid with noQueue" : null;
    }

    private static string? Expedite(LockFlags flags, LockMode mode) =>
        (flags & LockFlags.Expedite) != 0 && mode != LockMode.NL ? "expedite is only valid for NL requests" : null;

    /// <summary>An LVB to write and ivValBlk (invalidate it) in one command. Its size needs the lockspace: the machine checks that.</summary>
    private static string? LvbOrInvalidate(byte[]? lvb, LockFlags flags) =>
        lvb is not null && (flags & LockFlags.IvValBlk) != 0 ? "an LVB and ivValBlk together are contradictory" : null;
}
