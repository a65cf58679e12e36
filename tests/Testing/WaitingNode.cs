using RaftDlm.TestSupport;

namespace RaftDlm.Testing;

/// <summary>
/// A server started outside a cluster, waiting to be added by hand (<c>POST /v1/cluster/members</c>, <c>dlmctl member
/// add</c>): an empty data directory, new free ports, and <c>--join</c> a URL where nothing listens, so that it does
/// not ask to be added itself (it retries that URL until its long join timeout) but neither votes nor stands for
/// election. Disposal kills it by pid.
/// </summary>
public sealed class WaitingNode : IDisposable
{
    private WaitingNode(ServerMember member, ServerNode node)
    {
        Member = member;
        Node = node;
    }

    public ServerMember Member { get; }

    public ServerNode Node { get; }

    /// <summary>Starts <paramref name="id"/> with its data and log under the cluster's folder.</summary>
    public static WaitingNode Start(ServerCluster cluster, string id)
    {
        var ports = LocalPorts.Free(3);
        var member = new ServerMember(id, "127.0.0.1", ports[0], ports[1]);
        string[] arguments =
        [
            "--ElectionTimeoutMinMs", "600", "--ElectionTimeoutMaxMs", "1200",
            "--join", $"http://127.0.0.1:{ports[2]}", "--JoinTimeoutMs", "600000",
        ];
        var node = ServerNode.Start(member, [member], cluster.Folder(id), cluster.Folder(Path.Combine("logs", id + ".log")), arguments);
        return new WaitingNode(member, node);
    }

    public void Dispose() => Node.Dispose();
}
