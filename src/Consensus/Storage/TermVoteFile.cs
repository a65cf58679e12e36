namespace RaftDlm.Consensus.Storage;

/// The node's term and vote, durable before Save returns; never goes back after a crash.
internal sealed class TermVoteFile : IDisposable
{
    private TermVoteFile()
    {
    }

    public static TermVoteFile Open(IStorageFiles files, string path) => throw new NotImplementedException();

    public long Term => throw new NotImplementedException();

    public ReadOnlyMemory<byte> VotedFor => throw new NotImplementedException();   // empty = no vote in this term

    public void Save(long term, ReadOnlySpan<byte> votedFor) => throw new NotImplementedException();  // votedFor at most 64 bytes

    public void Dispose() => throw new NotImplementedException();
}
