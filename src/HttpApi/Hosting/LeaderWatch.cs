using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>Lets calls wait, with a bound, for a leader to become known; logs leader changes.</summary>
internal sealed partial class LeaderWatch
{
    private readonly object _gate = new();
    private TaskCompletionSource<RaftMember> _known = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly RaftNode _node;
    private readonly ILogger<LeaderWatch> _logger;

    public LeaderWatch(RaftNode node, ILogger<LeaderWatch> logger)
    {
        _node = node;
        _logger = logger;
        node.LeaderChanged += OnLeaderChanged;
    }

    public async Task<RaftMember?> WaitForLeaderAsync(TimeSpan bound, CancellationToken ct)
    {
        if (_node.Leader is { } leader) return leader;
        Task<RaftMember> known;
        lock (_gate) known = _known.Task;
        try
        {
            return await known.WaitAsync(bound, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return _node.Leader;
        }
    }

    private void OnLeaderChanged(RaftMember? leader)
    {
        LogLeader(leader?.Id ?? "(none)");
        if (leader is null) return;
        TaskCompletionSource<RaftMember> known;
        lock (_gate)
        {
            known = _known;
            _known = new TaskCompletionSource<RaftMember>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        known.TrySetResult(leader);
    }

    [LoggerMessage(EventId = 2400, Level = LogLevel.Information, Message = "Leader is now {LeaderId}")]
    private partial void LogLeader(string leaderId);
}
