using System.Net;

namespace RaftDlm.Consensus;

/// <summary>One member of the static cluster membership.</summary>
/// <param name="Id">A stable, unique node name (for example "node1").</param>
/// <param name="RaftEndpoint">The TCP endpoint of the Raft transport.</param>
/// <param name="HttpEndpoint">The client-facing address, carried along so that hosts can redirect to the leader.</param>
public sealed record RaftMember(string Id, IPEndPoint RaftEndpoint, string HttpEndpoint);
