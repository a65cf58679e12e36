using System.Reflection;
using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>Runs the Raft node for the life of the process; a node with an empty data directory is seeded first.</summary>
internal sealed partial class RaftHost(RaftNode node, SnapshotSeeder seeder, ServerOptions options, ILogger<RaftHost> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await seeder.SeedIfEmptyAsync(cancellationToken).ConfigureAwait(false);
        await node.StartAsync(cancellationToken).ConfigureAwait(false);
        LogStarted(options.NodeId, options.RaftEndpoint, options.HttpUrl, Path.GetFullPath(options.DataDirectory));
        var build = typeof(RaftHost).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
        LogFormats(build, FormatVersions.EntryEnvelope, CommandCodec.LastCommandKind, LockMachine.SnapshotFormatVersion,
            LockMachine.FirstReadableSnapshotFormatVersion, FormatVersions.SnapshotFile, FormatVersions.DotNextVersion, options.ChunkSizeBytes);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await node.StopAsync(cancellationToken).ConfigureAwait(false);
        await node.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Node {NodeId} started: Raft on {RaftEndpoint}, HTTP on {HttpUrl}, data in {DataDirectory}")]
    private partial void LogStarted(string nodeId, string raftEndpoint, string httpUrl, string dataDirectory);

    // The formats this build writes and reads (docs/formats.md): compare the line before and after an upgrade.
    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Formats: build {Build}, entry envelope {Envelope}, command kinds 0-{LastCommandKind}, "
        + "lock table snapshot {Snapshot} (reads {FirstSnapshot}-{Snapshot}), snapshot file {SnapshotFile}, WAL of DotNext.Net.Cluster {DotNext} with {ChunkSizeBytes}-byte chunks")]
    private partial void LogFormats(string build, int envelope, int lastCommandKind, int snapshot, int firstSnapshot, int snapshotFile, string dotNext, int chunkSizeBytes);
}
