using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;

namespace RaftDlm.HttpApi.Api;

internal static class ClusterEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/cluster", Cluster).WithTags("Cluster").Produces<ClusterJson>();
        app.MapGet("/v1/cluster/state", State).WithTags("Cluster").Produces<StateJson>();
        app.MapGet("/healthz", () => Results.Text("ok\n")).WithTags("Operations");
        app.MapGet("/readyz", Ready).WithTags("Operations");
    }

    private static IResult Cluster(RaftNode node, LockApplier applier, ServerOptions options)
    {
        var members = node.MembersView
            .Select(entry => new MemberJson(entry.Member.Id, entry.Member.RaftEndpoint.ToString(), entry.Member.HttpEndpoint, entry.Status))
            .ToList();
        return Results.Json(
            new ClusterJson(options.NodeId, node.Leader?.Id, node.Term, node.CommitIndex, applier.LastAppliedIndex, members),
            Wire.Json);
    }

    /// <summary>
    /// This node's applied index and the SHA-256 of its lock table at that index: replicas at the same index
    /// must show the same hash. It serialises the whole table, so it is for operators and tests.
    /// </summary>
    private static IResult State(LockApplier applier)
    {
        var (index, hash) = applier.Read(machine => (machine.LastAppliedIndex, machine.StateHash()));
        return Results.Json(new StateJson(index, hash), Wire.Json);
    }

    /// <summary>
    /// Ready when a leader is known and this node has applied everything it knows to be committed. The log's
    /// applied index is compared, not the lock table's: a committed entry of consensus' own (the new leader's
    /// no-op) never reaches the table, and would keep the table's index below the commit index.
    /// </summary>
    private static IResult Ready(RaftNode node)
    {
        if (node.Leader is null) return Problems.Unavailable("no leader is known");
        if (node.LastAppliedLogIndex < node.CommitIndex)
        {
            return Problems.Unavailable($"applied {node.LastAppliedLogIndex} of {node.CommitIndex} committed entries");
        }
        return Results.Text("ready\n");
    }
}
