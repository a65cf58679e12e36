namespace RaftDlm.Consensus;

/// <summary>
/// This node is not the leader, and the command was definitely NOT proposed. Safe to retry elsewhere.
/// </summary>
public sealed class NotLeaderException : Exception
{
    public NotLeaderException()
        : this(leader: null)
    {
    }

    public NotLeaderException(string message)
        : base(message)
    {
    }

    public NotLeaderException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public NotLeaderException(RaftMember? leader, Exception? innerException = null)
        : base(leader is null ? "This node is not the leader and no leader is known." : $"This node is not the leader; the leader is {leader.Id}.", innerException)
        => Leader = leader;

    /// <summary>The leader as this node knows it, or null when unknown (for example during an election).</summary>
    public RaftMember? Leader { get; }
}

/// <summary>
/// The command was proposed but its outcome is unknown: leadership was lost or the wait timed out.
/// It may still commit (and be applied) later; callers must make their commands idempotent.
/// </summary>
public sealed class OutcomeUnknownException : Exception
{
    public OutcomeUnknownException()
        : base("The outcome of the proposal is unknown.")
    {
    }

    public OutcomeUnknownException(string message)
        : base(message)
    {
    }

    public OutcomeUnknownException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
