namespace RaftDlm.LockStateMachine.Tests;

/// <summary>Feeds commands to a machine as consecutive log entries with a controllable leader time.</summary>
internal sealed class Harness
{
    private long _index;

    public Harness(LockLimits? limits = null, int lvbBytes = 8, int lockDelayMs = 0, long startMs = 1_000_000)
    {
        NowMs = startMs;
        Machine = new LockMachine(limits);
        Ok<LockspaceResult>(new CreateLockspace(Space, lvbBytes, lockDelayMs));
    }

    public const string Space = "ls";

    public LockMachine Machine { get; }
    public long NowMs { get; set; }
    public long LastIndex => _index;
    public List<LogEntry> Log { get; } = new();

    public Result Apply(Command command)
    {
        var entry = new LogEntry(++_index, NowMs, command);
        Log.Add(entry);
        return Machine.Apply(entry);
    }

    /// <summary>Applies the commands as one entry of several commands: one index, one time, positions 0, 1, 2….</summary>
    public IReadOnlyList<Result> ApplyEntry(params Command[] commands)
    {
        var index = ++_index;
        var results = new List<Result>();
        for (var position = 0; position < commands.Length; position++)
        {
            var entry = new LogEntry(index, NowMs, commands[position], position);
            Log.Add(entry);
            results.Add(Machine.Apply(entry));
        }
        return results;
    }

    public T Ok<T>(Command command) where T : Result
    {
        var result = Apply(command);
        return Assert.IsType<T>(result);
    }

    public ErrorCode Fails(Command command)
    {
        var result = Apply(command);
        return Assert.IsType<ErrorResult>(result).Code;
    }

    public long Session(string name = "client", int ttlMs = 10_000) => Ok<SessionResult>(new OpenSession(name, ttlMs)).SessionId;

    public Result TryLock(long session, string resource, LockMode mode, LockFlags flags = LockFlags.None, long parent = 0, long requestId = 0) =>
        Apply(new RequestLock(session, requestId, Space, resource, mode, parent, flags));

    public LockView Lock(long session, string resource, LockMode mode, LockFlags flags = LockFlags.None, long parent = 0) =>
        Assert.IsType<LockResult>(TryLock(session, resource, mode, flags, parent)).Lock;

    public Result TryConvert(long lockId, LockMode mode, byte[]? lvb = null, LockFlags flags = LockFlags.None, long requestId = 0) =>
        Apply(new ConvertLock(0, requestId, Space, lockId, mode, lvb, flags));

    public LockResult Convert(long lockId, LockMode mode, byte[]? lvb = null, LockFlags flags = LockFlags.None) =>
        Assert.IsType<LockResult>(TryConvert(lockId, mode, lvb, flags));

    public Result TryUnlock(long lockId, byte[]? lvb = null, LockFlags flags = LockFlags.None, bool force = false, long requestId = 0) =>
        Apply(new Unlock(0, requestId, Space, lockId, lvb, flags, force));

    public LockView Unlock(long lockId, byte[]? lvb = null, LockFlags flags = LockFlags.None, bool force = false) =>
        Assert.IsType<LockResult>(TryUnlock(lockId, lvb, flags, force)).Lock;

    public LockView Get(long lockId) => Machine.GetLock(Space, lockId) ?? throw new Xunit.Sdk.XunitException($"lock {lockId} does not exist");

    public bool Exists(long lockId) => Machine.GetLock(Space, lockId) is not null;

    public ResourceView? Resource(string name) => Machine.GetResource(Space, name);

    public IReadOnlyList<LockEvent> Events(long session, long afterSeq = 0) =>
        Machine.GetEvents(session, afterSeq, 10_000)?.Events ?? [];

    public IReadOnlyList<LockEvent> Events(long session, EventType type) =>
        Events(session).Where(item => item.Type == type).ToList();

    public static byte[] Lvb(ulong value, int size = 8)
    {
        var bytes = new byte[size];
        BitConverter.TryWriteBytes(bytes, value);
        return bytes;
    }

    public static ulong Counter(byte[]? lvb) => lvb is null ? throw new Xunit.Sdk.XunitException("no LVB") : BitConverter.ToUInt64(lvb);
}
