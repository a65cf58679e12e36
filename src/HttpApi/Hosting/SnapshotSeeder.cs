using System.Globalization;
using System.Text.Json;
using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// Gives a node that starts with an empty data directory (new, or its disk lost) the newest snapshot a peer
/// has, before its Raft node starts. Raft would otherwise install the leader's snapshot in one request
/// bounded by the Raft request timeout, which a large table cannot meet; and an install that ends after the
/// leader gave up leaves the leader resending it forever (trap 13 in docs/consensus-notes.md). Here the
/// snapshot comes over HTTP with its own time bound and a checksum, is written crash-safely
/// (<see cref="SnapshotFiles.InstallAsync"/>), and the node then starts from it as from its own: the leader
/// only has to send the log after it.
/// </summary>
/// <remarks>
/// Only an empty node is seeded. A node that still has a log keeps it: DotNext's follower refuses an append
/// whose previous index lies below its snapshot, and the leader then walks its next index down to 0 and
/// offers its snapshot, which the follower refuses as not above its commit index (the loop of trap 13).
/// </remarks>
internal sealed partial class SnapshotSeeder(ServerOptions options, ILogger<SnapshotSeeder> logger)
{
    public const string IndexHeader = "X-RaftDlm-Snapshot-Index";
    public const string TermHeader = "X-RaftDlm-Snapshot-Term";
    public const string Sha256Header = "X-RaftDlm-Snapshot-Sha256";

    /// <summary>Fetches and installs a peer's newest snapshot when the data directory is empty. Never throws but for cancellation.</summary>
    public Task SeedIfEmptyAsync(CancellationToken ct) =>
        SeedIfEmptyAsync(options.ParseMembers().Where(member => member.Id != options.NodeId).ToList(), ct);

    /// <inheritdoc cref="SeedIfEmptyAsync(CancellationToken)"/>
    public async Task SeedIfEmptyAsync(IReadOnlyList<RaftMember> peers, CancellationToken ct)
    {
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        if (!options.SeedFromPeers || peers.Count == 0 || !IsEmpty(dataDirectory)) return;

        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(options.SeedTimeoutMs);
        using var client = Peers.Client(options);
        try
        {
            var best = await FindNewestAsync(client, peers, bounded.Token).ConfigureAwait(false);
            if (best is not { } source)
            {
                LogNoSnapshot(peers.Count);
                return;
            }
            LogSeeding(source.Member.Id, source.SnapshotIndex);
            var installed = await DownloadAsync(client, source.Member, dataDirectory, bounded.Token).ConfigureAwait(false);
            LogSeeded(installed.Index, installed.Term, installed.SizeBytes, source.Member.Id);
        }
        catch (Exception error) when (!ct.IsCancellationRequested
            && error is HttpRequestException or IOException or InvalidDataException or OperationCanceledException or JsonException or FormatException)
        {
            // The node can still join: Raft installs a snapshot itself (which works for small tables).
            LogSeedFailed(error.Message);
        }
    }

    /// <summary>No log and no snapshot here; a checkpoint of a format this build cannot read is not empty.</summary>
    private bool IsEmpty(string dataDirectory)
    {
        try
        {
            return SnapshotFiles.LastLogIndex(dataDirectory) == 0;
        }
        catch (InvalidDataException error)
        {
            LogSeedFailed(error.Message);
            return false;
        }
    }

    private static async Task<(RaftMember Member, long SnapshotIndex)?> FindNewestAsync(HttpClient client, IReadOnlyList<RaftMember> peers, CancellationToken ct)
    {
        (RaftMember, long)? best = null;
        foreach (var peer in peers)
        {
            // A peer that is down or slow is skipped: another may have a snapshot.
            if (await Peers.ViewAsync(client, peer, ct).ConfigureAwait(false) is { SnapshotIndex: > 0 and var index }
                && (best is null || index > best.Value.Item2))
            {
                best = (peer, index);
            }
        }
        return best;
    }

    private static async Task<SnapshotFile> DownloadAsync(HttpClient client, RaftMember peer, string dataDirectory, CancellationToken ct)
    {
        using var response = await client.GetAsync(peer.HttpEndpoint + "/v1/cluster/snapshot", HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var index = long.Parse(Header(response, IndexHeader), CultureInfo.InvariantCulture);
        var term = long.Parse(Header(response, TermHeader), CultureInfo.InvariantCulture);
        var sha256 = Header(response, Sha256Header);
        var size = response.Content.Headers.ContentLength ?? throw new InvalidDataException("the snapshot came without a length");
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        return await SnapshotFiles.InstallAsync(dataDirectory, index, term, size, sha256, body, ct).ConfigureAwait(false);
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? values.First() : throw new InvalidDataException($"the snapshot came without {name}");

    [LoggerMessage(EventId = 2500, Level = LogLevel.Information, Message = "Empty data directory: fetching the snapshot at index {Index} from {PeerId}")]
    private partial void LogSeeding(string peerId, long index);

    [LoggerMessage(EventId = 2501, Level = LogLevel.Information, Message = "Seeded the snapshot at index {Index} (term {Term}, {SizeBytes} bytes) from {PeerId}")]
    private partial void LogSeeded(long index, long term, long sizeBytes, string peerId);

    [LoggerMessage(EventId = 2502, Level = LogLevel.Information, Message = "Empty data directory: none of {Peers} peers has a snapshot; joining with an empty log")]
    private partial void LogNoSnapshot(int peers);

    [LoggerMessage(EventId = 2503, Level = LogLevel.Warning, Message = "Fetching a peer's snapshot failed ({Reason}); joining with an empty log")]
    private partial void LogSeedFailed(string reason);
}
