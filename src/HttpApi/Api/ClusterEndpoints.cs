using System.Globalization;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;

namespace RaftDlm.HttpApi.Api;

internal static class ClusterEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/v1/cluster", Cluster).WithTags("Cluster").Produces<ClusterJson>()
            .Describe("GetCluster", "This node's view of the cluster: leader, term, indexes, members").Problems();
        app.MapGet("/v1/cluster/state", State).WithTags("Cluster").Produces<StateJson>()
            .Describe("GetClusterState", "This node's applied index and lock-table hash, to compare replicas").Problems();
        app.MapGet("/v1/cluster/snapshot", SnapshotAsync).WithTags("Cluster").Produces(200, contentType: "application/octet-stream")
            .Describe("GetNodeSnapshot", "This node's newest snapshot file (admin)").Problems(404);
        // Every request, these too, passes the per-address rate limit (429).
        app.MapGet("/healthz", () => Results.Text("ok\n")).WithTags("Operations").Produces<string>(200, "text/plain").Produces<ProblemJson>(429, Problems.ContentType)
            .Describe("GetHealth", "Whether the process is alive");
        app.MapGet("/readyz", Ready).WithTags("Operations").Produces<string>(200, "text/plain").Produces<ProblemJson>(429, Problems.ContentType).Produces<ProblemJson>(503, Problems.ContentType)
            .Describe("GetReadiness", "Whether a leader is known and this node has applied what it knows to be committed");
    }

    private static IResult Cluster(RaftNode node, LockApplier applier, ServerOptions options)
    {
        // As this view always showed it: "leader" or "follower" for this node, and for a peer its role and
        // its reachability from here ("follower/available"); learners are listed by /v1/cluster/members.
        var members = node.MembersView
            .Where(entry => entry.Role == "voter")
            .Select(entry => new MemberJson(entry.Member.Id, entry.Member.RaftEndpoint, entry.Member.HttpEndpoint, LegacyStatus(entry, options.NodeId)))
            .ToList();
        return Results.Json(
            new ClusterJson(options.NodeId, node.Leader?.Id, node.Term, node.CommitIndex, applier.LastAppliedIndex, members, node.LastSnapshotIndex),
            Wire.Json);
    }

    private static string LegacyStatus(MemberView entry, string self)
    {
        var role = entry.Status == "leader" ? "leader" : "follower";
        if (entry.Member.Id == self) return role;
        return role + "/" + (entry.Status is "unavailable" or "unknown" ? entry.Status : "available");
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
    /// The newest snapshot this node has on disk, streamed as it is stored, with its index, term, size and
    /// SHA-256 in headers. A node that starts with an empty data directory fetches it from a peer
    /// (<see cref="SnapshotSeeder"/>). Answered locally, never forwarded; admin only when auth is on.
    /// </summary>
    private static async Task<IResult> SnapshotAsync(HttpContext context, ServerOptions options)
    {
        // The node may replace its newest snapshot while this runs; an open file stays readable when it is
        // deleted, and a file deleted between listing and opening is simply looked up again (bounded).
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (SnapshotFiles.Newest(Path.GetFullPath(options.DataDirectory)) is not { } newest)
            {
                return Problems.NotFound("this node has no snapshot yet");
            }
            FileStream file;
            try
            {
                file = new FileStream(newest.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, FileOptions.Asynchronous);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            var sha256 = await SnapshotFiles.Sha256Async(file, context.RequestAborted);
            file.Position = 0;
            var headers = context.Response.Headers;
            headers[SnapshotSeeder.IndexHeader] = newest.Index.ToString(CultureInfo.InvariantCulture);
            headers[SnapshotSeeder.TermHeader] = newest.Term.ToString(CultureInfo.InvariantCulture);
            headers[SnapshotSeeder.Sha256Header] = sha256;
            return Results.Stream(file, "application/octet-stream");
        }
        return Problems.Unavailable("the node's snapshots kept changing; try again");
    }

    /// <summary>
    /// Ready when a leader is known and this node has applied everything it knows to be committed. The log's
    /// applied index is compared, not the lock table's: a committed entry of consensus' own (the new leader's
    /// no-op) never reaches the table, and would keep the table's index below the commit index.
    /// </summary>
    private static IResult Ready(RaftNode node)
    {
        switch (node.Membership)
        {
            case MembershipState.Removed:
                return Problems.Unavailable("this node was removed from the cluster's membership (or was never readmitted): it serves no writes; stop it, or empty its data directory and start it with --join to add it again");
            case MembershipState.Joining:
                return Problems.Unavailable("this node is joining the cluster: it has not been added yet");
        }
        if (node.Leader is null) return Problems.Unavailable("no leader is known");
        if (node.LastAppliedLogIndex < node.CommitIndex)
        {
            return Problems.Unavailable($"applied {node.LastAppliedLogIndex} of {node.CommitIndex} committed entries");
        }
        return Results.Text("ready\n");
    }
}
