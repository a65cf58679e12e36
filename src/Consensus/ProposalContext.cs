namespace RaftDlm.Consensus;

/// <summary>
/// Travels with a proposed entry as DotNext's <c>LogEntry.Context</c> (on the proposing node only) and carries
/// the applier's reply object back to the waiting proposer, in process.
/// </summary>
internal sealed class ProposalContext(ProposalId proposalId)
{
    private object? _reply;
    private Exception? _fault;
    private int _completed;

    public ProposalId ProposalId { get; } = proposalId;

    public void SetReply(object? value)
    {
        Volatile.Write(ref _reply, value);
        Volatile.Write(ref _completed, 1);
    }

    public void SetFault(Exception value) => Volatile.Write(ref _fault, value);

    /// <summary>True with the reply when the applier completed this proposal; otherwise the fault, if any.</summary>
    public bool TryGetReply(out object? value, out Exception? error)
    {
        error = Volatile.Read(ref _fault);
        var completed = Volatile.Read(ref _completed) == 1;
        value = completed ? Volatile.Read(ref _reply) : null;
        return error is null && completed;
    }
}
