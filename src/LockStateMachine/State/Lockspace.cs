namespace RaftDlm.LockStateMachine.State;

internal sealed class Lockspace
{
    public Lockspace(string name, int lvbBytes, int lockDelayMs)
    {
        Name = name;
        LvbBytes = lvbBytes;
        LockDelayMs = lockDelayMs;
    }

    public string Name { get; }
    public int LvbBytes { get; }
    public int LockDelayMs { get; }
    public Dictionary<ResourceKey, Resource> Resources { get; } = new();

    public LockspaceView ToView() => new(Name, LvbBytes, LockDelayMs, Resources.Count);
}
