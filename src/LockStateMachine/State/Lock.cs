namespace RaftDlm.LockStateMachine.State;

internal enum LockState : byte
{
    Waiting = 0,
    Converting = 1,
    Granted = 2,
}

/// <summary>
/// One lock. It sits in exactly one of its resource's queues (granted, converting or waiting) through the
/// intrusive links <see cref="QueuePrevious"/>/<see cref="QueueNext"/>. A converting lock still holds its
/// <see cref="GrantedMode"/>.
/// </summary>
internal sealed class Lock
{
    public Lock(long id, Session? owner, Resource resource, Lock? parent, LockFlags flags)
    {
        Id = id;
        Owner = owner;
        Resource = resource;
        Parent = parent;
        Flags = flags;
    }

    public long Id { get; }
    public Session? Owner { get; set; }
    public Resource Resource { get; }
    public Lock? Parent { get; }
    public LockFlags Flags { get; set; }
    public LockState State { get; set; }
    public LockMode GrantedMode { get; set; }
    public LockMode RequestedMode { get; set; }
    public long FencingToken { get; set; }

    /// <summary>The leader time at which this waiting request or conversion is cancelled; 0 for none.</summary>
    public long TimeoutDueMs { get; set; }
    /// <summary>Sublocks of this lock, created on first use.</summary>
    public List<Lock>? Children { get; set; }

    public int ChildCount => Children?.Count ?? 0;

    /// <summary>Modes this lock was already sent a blocking event for in the current episode (bit per mode).</summary>
    public byte BlockingNotified { get; set; }

    internal Lock? QueuePrevious;
    internal Lock? QueueNext;

    public bool IsPersistent => (Flags & LockFlags.Persistent) != 0;
    public bool IsOrphan => Owner is null;
    public bool HoldsMode => State != LockState.Waiting;
}
