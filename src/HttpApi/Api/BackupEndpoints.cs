using System.Globalization;
using System.Security.Cryptography;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;

namespace RaftDlm.HttpApi.Api;

/// <summary><c>GET /v1/snapshot</c>: a backup of the whole lock table, for <c>--restore-from</c>.</summary>
internal static class BackupEndpoints
{
    public static void Map(WebApplication app) =>
        app.MapGet("/v1/snapshot", SnapshotAsync).WithTags("Cluster").Produces(200, contentType: "application/octet-stream")
            .Describe("GetSnapshot", "A consistent backup of the whole lock table at the applied index, with its index, term and checksum (admin)")
            .ReadProblems();

    /// <summary>
    /// After the read barrier (so the backup holds every write acknowledged before the call), the table is
    /// serialized under the applier's gate: one point in time, the applied index. Applies wait for that copy
    /// only (as for a snapshot by count); proposals and replication go on. The copy is then streamed as a
    /// <see cref="BackupFile"/>. Answered by the leader (a follower forwards it) unless <c>?stale=true</c>.
    /// </summary>
    private static async Task<IResult> SnapshotAsync(HttpContext context, Requests requests, LockApplier applier, RaftNode node, ServerOptions options)
    {
        if (await requests.BarrierAsync(context) is { } unavailable) return unavailable;
        var term = node.Term;
        var createdAt = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture);
        var (index, leaderTimeMs, table, metadata) = applier.Read(machine => (machine.LastAppliedIndex, machine.LastLeaderTimeMs, machine.WriteSnapshot(),
            new BackupMetadata(options.NodeId, createdAt, machine.LastLeaderTimeMs, machine.LockspaceCount, machine.LiveSessionCount,
                machine.ResourceCount, machine.LockCount, machine.MaxFencingToken)));
        if (index == 0) return Problems.Unavailable("nothing has been applied yet; there is nothing to back up");

        // The snapshot part is a consensus snapshot file as a node keeps it, so a restore installs it as it is.
        var header = new byte[SnapshotFiles.HeaderSizeBytes];
        SnapshotFiles.WriteHeader(header, index, leaderTimeMs);
        var head = BackupFile.Head(index, term, metadata, header.Length + table.Length);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(head);
        hash.AppendData(header);
        hash.AppendData(table);
        var checksum = hash.GetHashAndReset();

        var headers = context.Response.Headers;
        headers[SnapshotSeeder.IndexHeader] = index.ToString(CultureInfo.InvariantCulture);
        headers[SnapshotSeeder.TermHeader] = term.ToString(CultureInfo.InvariantCulture);
        headers[SnapshotSeeder.Sha256Header] = Convert.ToHexStringLower(checksum);
        context.Response.ContentLength = head.Length + header.Length + table.Length + checksum.Length;
        return Results.Stream(async body =>
        {
            await body.WriteAsync(head, context.RequestAborted);
            await body.WriteAsync(header, context.RequestAborted);
            for (var offset = 0; offset < table.Length; offset += 1 << 16)
            {
                await body.WriteAsync(table.AsMemory(offset, int.Min(1 << 16, table.Length - offset)), context.RequestAborted);
            }
            await body.WriteAsync(checksum, context.RequestAborted);
        }, "application/octet-stream", fileDownloadName: $"raftdlm-{index}.snapshot");
    }
}
