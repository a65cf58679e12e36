using System.Diagnostics;
using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// Joins the lock table to consensus: it is the replicated state machine (decode, apply, encode under one
/// gate, then wake the waiters of the sessions that got events) and the one way the API proposes
/// commands and reads state.
/// </summary>
internal sealed partial class LockService : IReplicatedStateMachine
{
    private readonly object _gate = new();
    private readonly ILogger<LockService> _logger;
    private readonly ServerMetrics _metrics;
    private LockMachine _machine;
    private long _lastAppliedIndex;

    public LockService(ServerOptions options, ServerMetrics metrics, ILogger<LockService> logger)
    {
        _machine = new LockMachine(options.Limits);
        _metrics = metrics;
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
            var result = scratch.Apply(new LogEntry(++index, 0, decoded));
            CommandCodec.DecodeResult(CommandCodec.EncodeResult(result));
            LockMachine.Restore(scratch.WriteSnapshot());
        }
    }

    /// <summary>Set once the Raft node exists (the node needs this object first).</summary>
    public RaftNode Node { get; set; } = null!;

    public EventSignals Signals { get; } = new();

    public long LastAppliedIndex => Volatile.Read(ref _lastAppliedIndex);

    public byte[] Apply(long index, long leaderTimeMs, ReadOnlySpan<byte> command)
    {
        var decoded = CommandCodec.TryDecode(command.ToArray(), out var decodeError);
        Result result;
        long[] notified;
        lock (_gate)
        {
            try
            {
                result = _machine.Apply(new LogEntry(index, leaderTimeMs, decoded));
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
        _metrics.Applied();
        Signals.Wake(notified);
        return CommandCodec.EncodeResult(result);
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
        Signals.WakeAll();
    }

    /// <summary>Runs a read against the current state under the gate. Keep the function short.</summary>
    public T Read<T>(Func<LockMachine, T> read)
    {
        lock (_gate) return read(_machine);
    }

    /// <summary>
    /// Proposes a command on this node (the leader) and returns the machine's result.
    /// Throws <see cref="NotLeaderException"/> (not applied) or <see cref="OutcomeUnknownException"/>.
    /// </summary>
    public async Task<Result> ProposeAsync(Command command, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var reply = await Node.ProposeAsync(CommandCodec.Encode(command), ct).ConfigureAwait(false);
        _metrics.Committed(Stopwatch.GetElapsedTime(started));
        return CommandCodec.DecodeResult(reply);
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Critical, Message = "Applying entry {Index} threw; the entry was answered with an error")]
    private partial void LogApplyFailed(long index, Exception error);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "Entry {Index} holds no valid command: {Reason}")]
    private partial void LogUndecodable(long index, string reason);
}
