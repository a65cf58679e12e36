namespace RaftDlm.LockStateMachine.State;

/// <summary>A client's lease. Its locks are kept by id so every walk over them is in a defined order.</summary>
internal sealed class Session
{
    public Session(long id, string name, int ttlMs, long deadlineMs)
    {
        Id = id;
        Name = name;
        TtlMs = ttlMs;
        DeadlineMs = deadlineMs;
    }

    public long Id { get; }
    public string Name { get; }
    public int TtlMs { get; }
    public long DeadlineMs { get; set; }
    public bool Ended { get; set; }

    public SortedDictionary<long, Lock> Locks { get; } = new();

    /// <summary>The session's requests that wait or convert, for the wait-for graph.</summary>
    public List<Lock> Queued { get; } = new();

    public Queue<LockEvent> Outbox { get; } = new();
    public long LastEventSeq { get; set; }

    /// <summary>Recent replies by client request id, oldest first, for retried commands.</summary>
    public Queue<KeyValuePair<long, Result>> Replies { get; } = new();

    public Result? FindReply(long requestId)
    {
        if (requestId == 0) return null;
        foreach (var (id, result) in Replies)
        {
            if (id == requestId) return result;
        }
        return null;
    }
}
