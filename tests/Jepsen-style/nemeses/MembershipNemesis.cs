using System.Text.Json;
using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.Cluster;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Nemeses;

/// <summary>
/// The membership nemesis: one change of the cluster's membership per step, through the membership API, while
/// the workload runs. A step adds a fresh node under a new id (started with an empty data directory and
/// <c>--join</c>: a learner until it has caught up, then a voter), removes a follower, removes the leader, or
/// replaces a node (removes one, then adds a fresh one). The cluster stays at 3 to 5 voters at the end of every
/// step: an add at 5 becomes a replace, a removal at 3 first adds a fresh node. A removed node is stopped (as an
/// operator would) and is no longer one of <see cref="TestCluster.Members"/>, so healing, the final checks and
/// the replica comparison leave it out. Each step is recorded as a <c>membership</c> window in the history.
/// A step runs to its end (bounded), even past the time limit, so the run always ends with a complete cluster.
/// </summary>
public sealed class MembershipNemesis(TestCluster cluster, HttpLockClient client, HistoryLog history, Action<string> log)
{
    public const int MinVoters = 3;
    public const int MaxVoters = 5;
    private static readonly TimeSpan StepBound = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan JoinWait = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RemoveWait = TimeSpan.FromSeconds(60);

    public async Task StepAsync(string variant, int? leader, List<string> skipped, CancellationToken abort)
    {
        // Not the run's stop token: a change half made at the time limit would leave the cluster incomplete.
        using var bound = new CancellationTokenSource(StepBound);
        var cancel = bound.Token;
        if (abort.IsCancellationRequested) return;
        var voters = cluster.Size;
        var fresh = cluster.FreshSlot;
        var step = variant;
        if (step == "add" && voters >= MaxVoters) step = "replace";
        if (step is "add" or "replace" && fresh is null) step = voters > MinVoters ? "remove-follower" : "none";
        if (step is "remove-follower" or "remove-leader" && voters <= MinVoters)
        {
            // A removal at 3 voters adds a fresh node first, so the removal still happens and 3 remain.
            if (fresh is null) step = "none";
            else if (!await AddAsync(fresh.Value, leader, $"{step} at {voters} voters: first add", cancel)) return;
            else leader = await cluster.LeaderAsync(client, cancel);
        }
        if (step == "remove-leader" && leader is null) step = "remove-follower";
        if (step == "none")
        {
            skipped.Add($"membership/{variant} (no fresh node left and the cluster is at {voters} voters)");
            return;
        }
        var followers = cluster.Members.Where(n => n != leader).ToList();
        // A seeded choice would be nicer, but which nodes are members depends on the run; take the lowest id
        // among the followers, so an initial member goes first and later a joined one.
        switch (step)
        {
            case "add":
                await AddAsync(fresh!.Value, leader, "add", cancel);
                break;
            case "remove-follower":
                await RemoveAsync(followers[0], leader, "remove-follower", cancel);
                break;
            case "remove-leader":
                await RemoveAsync(leader!.Value, leader, "remove-leader", cancel);
                break;
            case "replace":
            {
                // Remove the oldest follower, then a fresh node under a new id takes its place.
                var gone = followers[0];
                if (await RemoveAsync(gone, leader, $"replace {TestCluster.Id(gone)} by {TestCluster.Id(fresh!.Value)}: remove", cancel))
                {
                    await AddAsync(fresh!.Value, await cluster.LeaderAsync(client, cancel), $"replace {TestCluster.Id(gone)} by {TestCluster.Id(fresh.Value)}: add", cancel);
                }
                break;
            }
        }
    }

    /// <summary>Starts a fresh node with <c>--join</c> and waits until the cluster lists it as a voter.</summary>
    private async Task<bool> AddAsync(int node, int? leader, string what, CancellationToken cancel)
    {
        var through = leader ?? cluster.Members.First(cluster.IsRunning);
        var id = TestCluster.Id(node);
        var window = history.BeginFault("membership", $"{what}: {id} (fresh, --join {TestCluster.Id(through)})");
        log($"nemesis: membership {window.Detail}");
        cluster.StartJoining(node, through);
        var started = history.NowMs;
        var deadline = DateTime.UtcNow + JoinWait;
        var voter = false;
        while (!voter && DateTime.UtcNow < deadline && !cancel.IsCancellationRequested && cluster.IsRunning(node))
        {
            voter = await RoleAsync(id, cancel) == "voter";
            if (!voter) await DelayAsync(500, cancel);
        }
        if (voter)
        {
            log($"nemesis: {id} is a voter after {(history.NowMs - started) / 1000:F1} s");
            history.EndFault(window);
            return true;
        }
        log($"nemesis: {id} did not become a voter ({(cluster.IsRunning(node) ? "timed out" : "its process exited")}); removing it");
        await DeleteAsync(id, node, cancel);
        cluster.Retire(node);
        window.Detail += " — did not become a voter, removed";
        history.EndFault(window);
        return false;
    }

    /// <summary>Removes a member through the API (forwarded to the leader), then stops its process.</summary>
    private async Task<bool> RemoveAsync(int node, int? leader, string what, CancellationToken cancel)
    {
        var id = TestCluster.Id(node);
        var window = history.BeginFault("membership", $"{what}: {id}{(node == leader ? " (leader)" : "")}");
        log($"nemesis: membership {window.Detail}");
        var removed = await DeleteAsync(id, node, cancel);
        if (removed)
        {
            cluster.Retire(node);
            log($"nemesis: {id} removed and stopped; members now {string.Join(' ', cluster.Members.Select(TestCluster.Id))}");
        }
        else
        {
            log($"nemesis: removing {id} failed; it stays a member");
            window.Detail += " — failed, still a member";
        }
        history.EndFault(window);
        return removed;
    }

    /// <summary>DELETE /v1/cluster/members/{id}, retried (bounded) on a conflict or an unknown outcome; true once it is gone.</summary>
    private async Task<bool> DeleteAsync(string id, int node, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + RemoveWait;
        for (var attempt = 0; attempt < 60 && DateTime.UtcNow < deadline && !cancel.IsCancellationRequested; attempt++)
        {
            // Through another member when there is one: it forwards to the leader.
            var others = cluster.Members.Where(n => n != node && cluster.IsRunning(n)).ToList();
            var via = others.Count > 0 ? others[attempt % others.Count] : node;
            var reply = await client.SendAsync(via, HttpMethod.Delete, $"/v1/cluster/members/{id}", null, cancel, TimeSpan.FromSeconds(30));
            if (reply.Type == OpType.Ok || reply.Status == 404) return true;
            log($"nemesis: DELETE {id} through {TestCluster.Id(via)}: {reply.Describe()}; retrying");
            await DelayAsync(1000, cancel);
        }
        return await RoleAsync(id, cancel) is null;
    }

    /// <summary>The role ("voter", "learner") the leader's membership gives <paramref name="id"/>, null when it is not a member, "?" when unknown.</summary>
    private async Task<string?> RoleAsync(string id, CancellationToken cancel)
    {
        var leader = await cluster.LeaderAsync(client, cancel);
        if (leader is null) return "?";
        var reply = await client.SendAsync(leader.Value, HttpMethod.Get, "/v1/cluster/members", null, cancel, TimeSpan.FromSeconds(3));
        if (reply.Type != OpType.Ok || reply.Body.ValueKind != JsonValueKind.Object || !reply.Body.TryGetProperty("members", out var members)) return "?";
        foreach (var member in members.EnumerateArray())
        {
            if (member.GetProperty("id").GetString() == id) return member.GetProperty("role").GetString();
        }
        return null;
    }

    private static async Task DelayAsync(int ms, CancellationToken cancel)
    {
        try { await Task.Delay(ms, cancel); }
        catch (OperationCanceledException) { }
    }
}
