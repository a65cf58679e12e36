namespace RaftDlm.LockStateMachine.State;

/// <summary>Six counters stored inline in the resource (no separate array object).</summary>
[System.Runtime.CompilerServices.InlineArray(Modes.Count)]
internal struct ModeCounts
{
    private int _first;
}

/// <summary>Identifies a resource inside a lockspace: its name under its parent resource (0 for top level).</summary>
internal readonly record struct ResourceKey(long ParentResourceId, string Name);

/// <summary>
/// A lockable name with its three queues and its LVB (lock value block). It exists while it has a lock, or
/// while a lock-delay on it is still running.
/// </summary>
internal sealed class Resource
{
    public Resource(long id, Lockspace space, Resource? parent, string name)
    {
        Id = id;
        Space = space;
        Parent = parent;
        Name = name;
        LvbValid = true;
    }

    public long Id { get; }
    public Lockspace Space { get; }
    public Resource? Parent { get; }
    public string Name { get; }
    public ResourceKey Key => new(Parent?.Id ?? 0, Name);

    /// <summary>The LVB; null means all zeros (allocated on first write).</summary>
    public byte[]? Lvb { get; set; }
    public long LvbSeq { get; set; }
    public bool LvbValid { get; set; }

    /// <summary>Leader time before which PW and EX may not be granted (0 when no lock-delay runs).</summary>
    public long DelayUntilMs { get; set; }

    public LockQueue Granted;
    public LockQueue Converting;
    public LockQueue Waiting;

    /// <summary>How many locks hold each mode (granted or converting), so compatibility is O(modes).</summary>
    public ModeCounts HeldModeCounts;

    public int LockCount => Granted.Count + Converting.Count + Waiting.Count;
    public int QueuedCount => Converting.Count + Waiting.Count;

    /// <summary>Marks the resource while a command collects the resources it touched.</summary>
    public bool Touched { get; set; }

    public void AddHeld(LockMode mode) => HeldModeCounts[(int)mode]++;
    public void RemoveHeld(LockMode mode) => HeldModeCounts[(int)mode]--;

    /// <summary>Whether <paramref name="mode"/> is compatible with every held mode, not counting one holder of <paramref name="except"/>.</summary>
    public bool CompatibleWithHeld(LockMode mode, LockMode? except)
    {
        for (var held = 0; held < Modes.Count; held++)
        {
            var count = HeldModeCounts[held];
            if (except is { } own && (int)own == held) count--;
            if (count > 0 && !Modes.Compatible(mode, (LockMode)held)) return false;
        }
        return true;
    }
}
