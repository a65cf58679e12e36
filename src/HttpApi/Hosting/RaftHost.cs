using System.Reflection;
using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// Runs the Raft node for the life of the process. A node with an empty data directory is seeded with a peer's
/// snapshot first, and one that joins an existing cluster (<see cref="ClusterJoin"/>) asks to be added once its
/// Raft node listens.
/// </summary>
internal sealed partial class RaftHost(RaftNode node, SnapshotSeeder seeder, ClusterJoin join, ServerOptions options, ILogger<RaftHost> logger) : IHostedService
{
    private readonly CancellationTokenSource _stopping = new();
    private Task _joining = Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var joinUrls = await join.JoinThroughAsync(cancellationToken).ConfigureAwait(false);
        if (joinUrls.Count == 0)
        {
            await seeder.SeedIfEmptyAsync(cancellationToken).ConfigureAwait(false);
            await node.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var peers = await join.MembersAsync(joinUrls[0], cancellationToken).ConfigureAwait(false);
            await seeder.SeedIfEmptyAsync(peers.Count > 0 ? peers : options.ParseMembers().Where(m => m.Id != options.NodeId).ToList(), cancellationToken).ConfigureAwait(false);
            await node.StartAsync(joinExisting: true, cancellationToken).ConfigureAwait(false);
            // In the background: the HTTP server starts meanwhile, and /readyz says the node is joining.
            _joining = Task.Run(() => join.JoinAsync(joinUrls, _stopping.Token), CancellationToken.None);
        }
        LogStarted(options.NodeId, options.RaftEndpoint, options.HttpUrl, Path.GetFullPath(options.DataDirectory));
        var build = typeof(RaftHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        LogFormats(build, FormatVersions.EntryEnvelope, CommandCodec.LastCommandKind, LockMachine.SnapshotFormatVersion,
            LockMachine.FirstReadableSnapshotFormatVersion, FormatVersions.SnapshotFile, node.LogEngineInUse.ToString(), FormatVersions.DotNextVersion, options.ChunkSizeBytes);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _joining.ConfigureAwait(false);
        await node.StopAsync(cancellationToken).ConfigureAwait(false);
        await node.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Node {NodeId} started: Raft on {RaftEndpoint}, HTTP on {HttpUrl}, data in {DataDirectory}")]
    private partial void LogStarted(string nodeId, string raftEndpoint, string httpUrl, string dataDirectory);

    // The formats this build writes and reads (docs/formats.md): compare the line before and after an upgrade.
    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Formats: build {Build}, entry envelope {Envelope}, command kinds 0-{LastCommandKind}, "
        + "lock table snapshot {Snapshot} (reads {FirstSnapshot}-{Snapshot}), snapshot file {SnapshotFile}, log {Log} (segmented log 1, or the WAL of DotNext.Net.Cluster {DotNext}) with {ChunkSizeBytes}-byte segments or chunks")]
    private partial void LogFormats(string build, int envelope, int lastCommandKind, int snapshot, int firstSnapshot, int snapshotFile, string log, string dotNext, int chunkSizeBytes);
}
