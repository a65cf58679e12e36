using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Api;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// How a node with an empty data directory comes into a cluster. With <see cref="ServerOptions.Join"/> it joins
/// the cluster of that member. Without it, a node of a static member list whose peers already hold committed
/// entries has lost its data: it is readmitted through the same path, because a voter that forgot its term and
/// vote could vote twice in one term (two leaders). Only when no peer has committed anything (a new cluster) does
/// it start the membership from <see cref="ServerOptions.Members"/>. A joining node starts outside the membership
/// (it neither votes nor stands for election), asks the cluster to add it, and is added once it has caught up.
/// </summary>
internal sealed partial class ClusterJoin(RaftNode node, ServerOptions options, IHostApplicationLifetime lifetime, ILogger<ClusterJoin> logger)
{
    /// <summary>The exit code of a node whose join failed.</summary>
    public const int JoinFailedExitCode = 3;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The HTTP URLs of members to join through (tried in turn), or empty when this node starts with the membership
    /// it has or with <see cref="ServerOptions.Members"/>.
    /// </summary>
    public async Task<IReadOnlyList<string>> JoinThroughAsync(CancellationToken ct)
    {
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        // A membership stored, or a log of a version that kept none (its membership then starts from Members).
        if (RaftNode.HasStoredMembership(dataDirectory) || SnapshotFiles.LastLogIndex(dataDirectory) > 0) return [];
        if (!string.IsNullOrWhiteSpace(options.Join)) return [options.Join.Trim().TrimEnd('/')];
        var peers = options.ParseMembers().Where(member => member.Id != options.NodeId).ToList();
        if (peers.Count == 0) return [];
        using var client = CreateClient();
        var formed = new List<string>();
        foreach (var peer in peers)
        {
            // Down or not started yet (a new cluster's nodes start one after another) counts as not formed.
            if (await Peers.ViewAsync(client, peer, ct).ConfigureAwait(false) is { CommitIndex: > 0 and var commit })
            {
                LogReadmission(peer.Id, commit);
                formed.Add(peer.HttpEndpoint);
            }
        }
        if (formed.Count == 0) LogNewCluster(peers.Count);
        return formed;
    }

    /// <summary>The members of the cluster at <paramref name="joinUrl"/> but this node; empty when it does not answer.</summary>
    public async Task<IReadOnlyList<RaftMember>> MembersAsync(string joinUrl, CancellationToken ct)
    {
        using var client = CreateClient();
        return await MembersAsync(client, joinUrl, ct).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<RaftMember>> MembersAsync(HttpClient client, string joinUrl, CancellationToken ct)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(ct);
        probe.CancelAfter(Peers.ProbeTimeout * 5);
        try
        {
            var members = await client.GetFromJsonAsync<MembersJson>(joinUrl + "/v1/cluster/members?stale=true", Wire.Json, probe.Token).ConfigureAwait(false);
            return members?.Members.Where(m => m.Id != options.NodeId).Select(m => new RaftMember(m.Id, m.RaftEndpoint, m.HttpUrl)).ToList() ?? [];
        }
        catch (Exception error) when (!ct.IsCancellationRequested && error is HttpRequestException or OperationCanceledException or JsonException)
        {
            LogJoinRetry(joinUrl, error.Message);
            return [];
        }
    }

    /// <summary>
    /// Asks the cluster to add this node (the node must be started) and waits until it is a voter, logging
    /// progress. A member that does not answer, or has no leader, or was removed itself, is left for the next
    /// (the members it lists are tried too). On a refusal or timeout it logs why and stops the process with
    /// <see cref="JoinFailedExitCode"/>.
    /// </summary>
    public async Task JoinAsync(IReadOnlyList<string> joinUrls, CancellationToken ct)
    {
        using var client = CreateClient();
        var self = node.Self;
        var targets = new List<string>(joinUrls);
        var deadline = DateTime.UtcNow.AddMilliseconds(options.JoinTimeoutMs);
        using var progress = new Timer(_ => LogProgress(node.LastAppliedLogIndex, node.CommitIndex), null, ProgressEvery, ProgressEvery);
        LogJoining(string.Join(", ", targets), self.Id, self.RaftEndpoint);
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                if (node.Membership == MembershipState.Member)
                {
                    // Added meanwhile (by an earlier attempt whose answer was lost, or by hand).
                    LogJoined(self.Id, node.LastAppliedLogIndex);
                    return;
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    Fail($"the cluster ({string.Join(", ", targets)}) did not add this node within {options.JoinTimeoutMs} ms");
                    return;
                }
                var target = targets[attempt % targets.Count];
                foreach (var member in await MembersAsync(client, target, ct).ConfigureAwait(false))
                {
                    if (!targets.Contains(member.HttpEndpoint, StringComparer.OrdinalIgnoreCase)) targets.Add(member.HttpEndpoint);
                }
                HttpResponseMessage response;
                try
                {
                    response = await client.PostAsJsonAsync(target + "/v1/cluster/members",
                        new AddMemberRequest(self.Id, self.RaftEndpoint, self.HttpEndpoint, (int)Math.Max(1, left.TotalMilliseconds)), Wire.Json, ct).ConfigureAwait(false);
                }
                catch (HttpRequestException error)
                {
                    LogJoinRetry(target, error.Message);
                    await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
                    continue;
                }
                using (response)
                {
                    if (response.IsSuccessStatusCode)
                    {
                        LogJoined(self.Id, node.LastAppliedLogIndex);
                        return;
                    }
                    var detail = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                    if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests
                        || (response.StatusCode == HttpStatusCode.Conflict && detail.Contains("another membership change is in progress", StringComparison.Ordinal)))
                    {
                        LogJoinRetry(target, $"{(int)response.StatusCode} {detail}");
                        await Task.Delay(RetryDelay, ct).ConfigureAwait(false);
                        continue;
                    }
                    Fail($"the cluster at {target} refused to add this node: {(int)response.StatusCode} {detail}");
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The node is stopping.
        }
    }

    private void Fail(string reason)
    {
        LogJoinFailed(reason);
        Environment.ExitCode = JoinFailedExitCode;
        lifetime.StopApplication();
    }

    private HttpClient CreateClient() => Peers.Client(options);

    [LoggerMessage(EventId = 2600, Level = LogLevel.Information, Message = "Joining the cluster through {JoinUrl} as {NodeId} ({RaftEndpoint}): this node does not vote until it has been added")]
    private partial void LogJoining(string joinUrl, string nodeId, string raftEndpoint);

    [LoggerMessage(EventId = 2601, Level = LogLevel.Information, Message = "Joining: applied {AppliedIndex} of {CommitIndex} committed entries")]
    private partial void LogProgress(long appliedIndex, long commitIndex);

    [LoggerMessage(EventId = 2602, Level = LogLevel.Information, Message = "Joined the cluster as voter {NodeId} at applied index {AppliedIndex}")]
    private partial void LogJoined(string nodeId, long appliedIndex);

    [LoggerMessage(EventId = 2603, Level = LogLevel.Warning, Message = "Joining through {JoinUrl}: {Reason}; trying again")]
    private partial void LogJoinRetry(string joinUrl, string reason);

    [LoggerMessage(EventId = 2604, Level = LogLevel.Critical, Message = "Joining failed: {Reason}. This node was not added; it stops (exit code 3)")]
    private partial void LogJoinFailed(string reason);

    [LoggerMessage(EventId = 2605, Level = LogLevel.Warning, Message = "Empty data directory, and peer {PeerId} has committed entries up to {CommitIndex}: this node lost its data and is readmitted through the join path (it will not vote until it is caught up and added again)")]
    private partial void LogReadmission(string peerId, long commitIndex);

    [LoggerMessage(EventId = 2606, Level = LogLevel.Information, Message = "Empty data directory and none of {Peers} peers has committed entries: starting a new cluster with the configured members")]
    private partial void LogNewCluster(int peers);
}
