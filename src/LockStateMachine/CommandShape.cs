namespace RaftDlm.LockStateMachine;

/// <summary>
/// The checks of a command that need no state: names, modes, flag combinations, sizes and bounds. The
/// machine makes the same checks (with the same functions) when it applies a command; a front end calls
/// this first so that a malformed command is refused without taking a place in the log.
/// </summary>
public static class CommandShape
{
    public static string? Check(Command command, LockLimits limits) => command switch
    {
        OpenSession c => Names.ValidateName(c.Name, "session")
            ?? (c.TtlMs < limits.MinTtlMs || c.TtlMs > limits.MaxTtlMs ? $"ttlMs must be from {limits.MinTtlMs} to {limits.MaxTtlMs}" : null),
        CreateLockspace c => Names.ValidateLockspace(c.Name) ?? Names.ValidateLvbBytes(c.LvbBytes)
            ?? (c.LockDelayMs < 0 || c.LockDelayMs > limits.MaxLockDelayMs ? $"lockDelayMs must be from 0 to {limits.MaxLockDelayMs}" : null),
        DeleteLockspace c => Names.ValidateLockspace(c.Name),
        RequestLock c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource")
            ?? Mode(c.Mode) ?? Flags(c.Flags, Modes.NewRequestFlags, "a lock request")
            ?? ((c.Flags & LockFlags.Expedite) != 0 && c.Mode != LockMode.NL ? "expedite is only valid for NL requests" : null),
        ConvertLock c => Names.ValidateLockspace(c.Lockspace) ?? Mode(c.Mode) ?? Flags(c.Flags, Modes.ConvertFlags, "a conversion")
            ?? (c.Lvb is not null && (c.Flags & LockFlags.IvValBlk) != 0 ? "an LVB and ivValBlk together are contradictory" : null),
        Unlock c => Names.ValidateLockspace(c.Lockspace) ?? Flags(c.Flags, Modes.UnlockFlags, "an unlock")
            ?? (c.Lvb is not null && (c.Flags & LockFlags.IvValBlk) != 0 ? "an LVB and ivValBlk together are contradictory" : null),
        AdoptOrphan c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource") ?? Mode(c.Mode),
        PurgeOrphans c => Names.ValidateLockspace(c.Lockspace) ?? Names.ValidateName(c.Resource, "resource"),
        _ => null,
    };

    private static string? Mode(LockMode mode) => Modes.IsValid(mode) ? null : $"unknown mode {(int)mode}";

    private static string? Flags(LockFlags flags, LockFlags allowed, string operation) =>
        Modes.ValidateFlags(flags, allowed, operation)
        ?? ((flags & LockFlags.NoQueueBast) != 0 && (flags & LockFlags.NoQueue) == 0 ? "noQueueBast is only valid with noQueue" : null);
}
