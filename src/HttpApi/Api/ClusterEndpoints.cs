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
        app.MapGet("/metrics", (LockService service, ServerMetrics metrics) =>
            Results.Text(metrics.Render(service), "text/plain; version=0.0.4; charset=utf-8")).WithTags("Operations");
    }

    private static IResult Cluster(LockService service, ServerOptions options)
    {
        var node = service.Node;
        var members = node.MembersView
            .Select(entry => new MemberJson(entry.Member.Id, entry.Member.RaftEndpoint.ToString(), entry.Member.HttpEndpoint, entry.Status))
            .ToList();
        return Results.Json(
            new ClusterJson(options.NodeId, node.Leader?.Id, node.Term, node.CommitIndex, service.LastAppliedIndex, members),
            Wire.Json);
    }

    /// <summary>
    /// This node's applied index and the SHA-256 of its lock table at that index: replicas at the same index
    /// must show the same hash. It serialises the whole table, so it is for operators and tests.
    /// </summary>
    private static IResult State(LockService service)
    {
        var (index, hash) = service.Read(machine => (machine.LastAppliedIndex, machine.StateHash()));
        return Results.Json(new StateJson(index, hash), Wire.Json);
    }

    /// <summary>Ready when a leader is known and this node has applied everything it knows to be committed.</summary>
    private static IResult Ready(LockService service)
    {
        var node = service.Node;
        if (node.Leader is null) return Problems.Unavailable("no leader is known");
        if (service.LastAppliedIndex < node.CommitIndex)
        {
            return Problems.Unavailable($"applied {service.LastAppliedIndex} of {node.CommitIndex} committed entries");
        }
        return Results.Text("ready\n");
    }
}
