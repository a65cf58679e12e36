using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>Runs the Raft node for the life of the process; a node with an empty data directory is seeded first.</summary>
internal sealed partial class RaftHost(RaftNode node, SnapshotSeeder seeder, ServerOptions options, ILogger<RaftHost> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await seeder.SeedIfEmptyAsync(cancellationToken).ConfigureAwait(false);
        await node.StartAsync(cancellationToken).ConfigureAwait(false);
        LogStarted(options.NodeId, options.RaftEndpoint, options.HttpUrl, Path.GetFullPath(options.DataDirectory));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await node.StopAsync(cancellationToken).ConfigureAwait(false);
        await node.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Node {NodeId} started: Raft on {RaftEndpoint}, HTTP on {HttpUrl}, data in {DataDirectory}")]
    private partial void LogStarted(string nodeId, string raftEndpoint, string httpUrl, string dataDirectory);
}
