using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>Creates the Raft node over the lock service and runs it for the life of the process.</summary>
internal sealed partial class RaftHost : IHostedService
{
    private readonly RaftNode _node;
    private readonly ServerOptions _options;
    private readonly ILogger<RaftHost> _logger;

    public RaftHost(LockService service, LeaderWatch leaders, ServerOptions options, ILoggerFactory loggers)
    {
        _options = options;
        _logger = loggers.CreateLogger<RaftHost>();
        _node = new RaftNode(options.ToRaftOptions(), service, loggers);
        service.Node = _node;
        leaders.Attach(_node);
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await _node.StartAsync(cancellationToken).ConfigureAwait(false);
        LogStarted(_options.NodeId, _options.RaftEndpoint, _options.HttpUrl, Path.GetFullPath(_options.DataDirectory));
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _node.StopAsync(cancellationToken).ConfigureAwait(false);
        await _node.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Node {NodeId} started: Raft on {RaftEndpoint}, HTTP on {HttpUrl}, data in {DataDirectory}")]
    private partial void LogStarted(string nodeId, string raftEndpoint, string httpUrl, string dataDirectory);
}
