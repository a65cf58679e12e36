namespace RaftDlm.LockStateMachine;

/// <summary>
/// Every bound the machine enforces. All replicas must use the same limits: they shape results, so they
/// are written into the snapshot and a restored machine keeps the snapshot's limits.
/// </summary>
public sealed record LockLimits
{
    public int MaxSessions { get; init; } = 200_000;
    public int MaxLocksPerSession { get; init; } = 100_000;
    public int MaxLockspaces { get; init; } = 1_000;
    public int MaxResourcesPerLockspace { get; init; } = 2_000_000;
    public int MaxQueuedPerResource { get; init; } = 10_000;
    public int MaxEventsPerSession { get; init; } = 1_024;
    public int MaxRepliesPerSession { get; init; } = 64;
    public int MaxEndedSessions { get; init; } = 10_000;
    public int MinTtlMs { get; init; } = 500;
    public int MaxTtlMs { get; init; } = 3_600_000;
    public int MaxLockDelayMs { get; init; } = 600_000;

    public static LockLimits Default { get; } = new();
}
