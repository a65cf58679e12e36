using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// The replicated state machine: consensus hands it every committed command, in log order, and it applies
/// each to the lock table under one gate, then wakes the waiters of the sessions that got events. The API
/// reads the table through it, and waits on it for a session's state to change.
/// </summary>
internal sealed partial class LockApplier : IReplicatedStateMachine
{
    private readonly object _gate = new();
    private readonly ILogger<LockApplier> _logger;
    private readonly EventSignals _signals = new();
    private LockMachine _machine;
    private long _lastAppliedIndex;

    public LockApplier(ServerOptions options, ILogger<LockApplier> logger)
    {
        _machine = new LockMachine(options.Limits);
        _logger = logger;
        Warmup();
    }

    /// <summary>
    /// Runs every serializer once on a scratch machine, so the first real apply, snapshot or snapshot
    /// install does not pay for code generation inside a Raft request's time limit.
    /// </summary>
    private static void Warmup()
    {
        var scratch = new LockMachine();
        long index = 0;
        Command[] commands =
        [
            new CreateLockspace("warmup", 8, 0), new OpenSession("a", 1_000), new OpenSession("b", 1_000),
            new RequestLock(1, 1, "warmup", "r", LockMode.EX, 0, LockFlags.None),
            new RequestLock(2, 1, "warmup", "r", LockMode.PR, 0, LockFlags.None),
            new ConvertLock(0, 2, "warmup", 3, LockMode.NL, new byte[8], LockFlags.None),
            new Unlock(0, 3, "warmup", 3, null, LockFlags.None, false), new KeepAlive(1), new ExtendDeadlines(), new Tick(),
            new AdoptOrphan(1, 4, "warmup", "r", LockMode.EX), new PurgeOrphans("warmup", "r"), new ExpireSession(2),
            new CloseSession(1), new DeleteLockspace("warmup", true),
        ];
        foreach (var command in commands)
        {
            var decoded = CommandCodec.TryDecode(CommandCodec.Encode(command), out _);
            scratch.Apply(new LogEntry(++index, 0, decoded));
            LockMachine.Restore(scratch.WriteSnapshot());
        }
    }

    /// <summary>The index of the last command applied to the lock table (see <see cref="RaftNode.LastAppliedLogIndex"/>).</summary>
    public long LastAppliedIndex => Volatile.Read(ref _lastAppliedIndex);

    /// <summary>Returns the machine's <see cref="Result"/>; the proposer on this node receives the object itself.</summary>
    public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
    {
        var decoded = CommandCodec.TryDecode(command.ToArray(), out var decodeError, out var unknownKind);
        if (unknownKind is { } kind)
        {
            // Answering it with an error would leave this replica without what newer replicas applied.
            throw new UnsupportedFormatException($"The command of entry {index} is of kind {kind}, which this build does not know "
                + $"(it knows kinds 0 to {CommandCodec.LastCommandKind}): a newer version of the server wrote it. Upgrade this node; it applies nothing more until then.");
        }
        Result result;
        long[] notified;
        lock (_gate)
        {
            try
            {
                result = _machine.Apply(new LogEntry(index, leaderTimeMs, decoded, position));
            }
            catch (Exception error)
            {
                // A bug in the machine: keep the applier alive (an exception here would stop it for good)
                // and report it loudly; every replica hits the same bug at the same entry.
                LogApplyFailed(index, error);
                result = new ErrorResult(ErrorCode.InvalidRequest, "the command could not be applied: " + error.Message);
            }
            if (decoded is null && decodeError is not null) LogUndecodable(index, decodeError);
            notified = _machine.NotifiedSessions.Count == 0 ? [] : [.. _machine.NotifiedSessions];
            // The machine's own index: an entry it refused as already applied must not move this back.
            Volatile.Write(ref _lastAppliedIndex, _machine.LastAppliedIndex);
        }
        _signals.Wake(notified);
        return result;
    }

    public void WriteSnapshot(Stream destination)
    {
        byte[] snapshot;
        lock (_gate) snapshot = _machine.WriteSnapshot();
        destination.Write(snapshot);
    }

    public void RestoreSnapshot(Stream source)
    {
        var restored = LockMachine.Restore(source);
        lock (_gate)
        {
            _machine = restored;
            Volatile.Write(ref _lastAppliedIndex, restored.LastAppliedIndex);
        }
        _signals.WakeAll();
    }

    /// <summary>Runs a read against the current state under the gate. Keep the function short.</summary>
    public T Read<T>(Func<LockMachine, T> read)
    {
        lock (_gate) return read(_machine);
    }

    /// <summary>
    /// The one long-poll wait: reads until <paramref name="done"/> holds or <paramref name="wait"/> has passed,
    /// and returns the last read. It sleeps between reads until an apply touches <paramref name="sessionId"/>
    /// (or a snapshot replaces the table); it never polls. The session's signal is taken before each read,
    /// so an apply between the read and the wait still wakes it.
    /// </summary>
    public async Task<T> ReadWhenAsync<T>(long sessionId, Func<LockMachine, T> read, Func<T, bool> done, TimeSpan wait, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var signal = _signals.Next(sessionId);
            var value = Read(read);
            if (done(value) || !await EventSignals.WaitAsync(signal, deadline - DateTime.UtcNow, ct).ConfigureAwait(false))
            {
                return value;
            }
        }
    }

    [LoggerMessage(EventId = 2100, Level = LogLevel.Critical, Message = "Applying entry {Index} threw; the entry was answered with an error")]
    private partial void LogApplyFailed(long index, Exception error);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Entry {Index} holds no valid command: {Reason}")]
    private partial void LogUndecodable(long index, string reason);
}
