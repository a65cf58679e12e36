using System.Text.Json;
using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>A node's own calls to its peers before it serves: fetching a snapshot, finding its cluster, asking to join.</summary>
internal static class Peers
{
    /// <summary>The bound on one probe of a peer, and on connecting to one.</summary>
    public static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// A client for those calls: no proxy, the peers' CA trusted, the first admin token as bearer (a cluster with
    /// auth on admits those calls only from admins), and no overall timeout: each call is bounded by its caller.
    /// </summary>
    public static HttpClient Client(ServerOptions options)
    {
        var client = new HttpClient(TlsFiles.TrustPeers(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = ProbeTimeout }, options))
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (options.AdminTokens.FirstOrDefault() is { } token)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    /// <summary>
    /// A peer's own view (<c>GET /v1/cluster?stale=true</c>, within <see cref="ProbeTimeout"/>): its commit index and
    /// the index of its newest snapshot; null when it is down or slow, or its answer is not JSON.
    /// </summary>
    public static async Task<(long CommitIndex, long SnapshotIndex)?> ViewAsync(HttpClient client, RaftMember peer, CancellationToken ct)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(ProbeTimeout);
        try
        {
            using var document = JsonDocument.Parse(await client.GetStringAsync(peer.HttpEndpoint + "/v1/cluster?stale=true", probe.Token).ConfigureAwait(false));
            var root = document.RootElement;
            return (root.TryGetProperty("commitIndex", out var commit) ? commit.GetInt64() : 0,
                root.TryGetProperty("snapshotIndex", out var snapshot) ? snapshot.GetInt64() : 0);
        }
        catch (Exception error) when (!ct.IsCancellationRequested && error is HttpRequestException or OperationCanceledException or JsonException)
        {
            return null;
        }
    }
}
