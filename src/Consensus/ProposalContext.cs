namespace RaftDlm.Consensus;

/// <summary>
/// Travels with a proposed entry as DotNext's <c>LogEntry.Context</c> (on the proposing node only) and carries
/// the reply back from the applier to the waiting proposer.
/// </summary>
internal sealed class ProposalContext(ProposalId proposalId)
{
    private byte[]? reply;
    private Exception? fault;

    public ProposalId ProposalId { get; } = proposalId;

    public void SetReply(byte[] value) => Volatile.Write(ref reply, value);

    public void SetFault(Exception value) => Volatile.Write(ref fault, value);

    /// <summary>True with the reply when the applier completed this proposal; otherwise the fault, if any.</summary>
    public bool TryGetReply(out byte[] value, out Exception? error)
    {
        error = Volatile.Read(ref fault);
        var result = Volatile.Read(ref reply);
        value = result ?? [];
        return error is null && result is not null;
    }
}
