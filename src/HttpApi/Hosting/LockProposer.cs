using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>The one way the server proposes a command: encode it, replicate it, return the applier's reply.</summary>
internal sealed class LockProposer(RaftNode node)
{
    /// <summary>
    /// Proposes a command on this node (the leader) and returns the machine's result.
    /// Throws <see cref="NotLeaderException"/> (not applied) or <see cref="OutcomeUnknownException"/>.
    /// </summary>
    public async Task<Result> ProposeAsync(Command command, CancellationToken ct)
    {
        var reply = await node.ProposeAsync(CommandCodec.Encode(command), ct).ConfigureAwait(false);
        return reply as Result ?? throw new InvalidOperationException($"The applier answered {reply?.GetType().Name ?? "null"}, not a result.");
    }
}
