namespace RaftDlm.LockStateMachine.State;

/// <summary>
/// A client's lease. Its locks are indexed by id; every walk over them that can reach an output goes
/// through <see cref="LocksById"/>, which sorts them, so the index's own order never matters.
/// </summary>
internal sealed class Session
{
    public Session(long id, string name, int ttlMs, long deadlineMs, string? owner)
    {
        Id = id;
        Name = name;
        TtlMs = ttlMs;
        DeadlineMs = deadlineMs;
        Owner = owner;
    }

    /// <summary>The principal that opened the session, or null (none: authentication off, or an admin).</summary>
    public string? Owner { get; }

    /// <summary>
    /// Whether <paramref name="caller"/> may act on the session: no caller (authentication off, or an admin)
    /// may act on any; a principal only on the sessions it opened.
    /// </summary>
    public bool Permits(string? caller) => caller is null || string.Equals(caller, Owner, StringComparison.Ordinal);

    public long Id { get; }
    public string Name { get; }
    public int TtlMs { get; }
    public long DeadlineMs { get; set; }
    public bool Ended { get; set; }

    public Dictionary<long, Lock> Locks { get; } = new();

    public List<Lock> LocksById()
    {
        return HashOrder.Sorted(Locks, (a, b) => a.Id.CompareTo(b.Id));
    }

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
