namespace RaftDlm.Consensus;

/// <summary>
/// Travels with a proposed entry as DotNext's <c>LogEntry.Context</c> (on the proposing node only) and carries
/// the reply back from the applier to the waiting proposer.
/// </summary>
internal sealed class ProposalContext(ProposalId proposalId)
{
    private byte[]? _reply;
    private Exception? _fault;

    public ProposalId ProposalId { get; } = proposalId;

    public void SetReply(byte[] value) => Volatile.Write(ref _reply, value);

    public void SetFault(Exception value) => Volatile.Write(ref _fault, value);

    /// <summary>True with the reply when the applier completed this proposal; otherwise the fault, if any.</summary>
    public bool TryGetReply(out byte[] value, out Exception? error)
    {
        error = Volatile.Read(ref _fault);
        var result = Volatile.Read(ref _reply);
        value = result ?? [];
        return error is null && result is not null;
    }
}
