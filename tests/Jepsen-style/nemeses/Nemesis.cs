using System.Globalization;
using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.Cluster;
using RaftDlm.Jepsen.History;
using RaftDlm.Jepsen.Workloads;

namespace RaftDlm.Jepsen.Nemeses;

/// <summary>
/// Runs the fault schedule against the cluster, one fault at a time: start it, hold it for its
/// duration, heal it, wait (bounded) for the cluster to be healthy again. Every fault is recorded as a
/// window in the history. <see cref="HealAll"/> undoes anything still in effect.
/// With a <paramref name="prefill"/> (a large lock table) a killed node is started again only once the leader's
/// newest snapshot is above the node's last index, so it comes back with a log behind the snapshot (Raft's own
/// snapshot install), while a wiped node comes back empty (it seeds from a peer's snapshot); after either, the
/// nemesis follows the node until it has applied the leader's commit index (bounded), for <see cref="CatchUpResult"/>.
/// </summary>
public sealed class Nemesis(TestCluster cluster, HttpLockClient client, HistoryLog history, ClientPauses pauses, Action<string> log, Prefill? prefill = null)
{
    private static readonly TimeSpan HealthyWait = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan BehindWait = TimeSpan.FromSeconds(60);

    /// <summary>Entries a killed node's log may hold beyond the index it reported (proposals in flight at the kill).</summary>
    private const long InFlightMargin = 100;

    /// <summary>How long a node restarted under a large table may take to apply the leader's commit index.</summary>
    private static readonly TimeSpan CatchUpWait = TimeSpan.FromSeconds(30);
    private readonly List<string> _caughtUp = [];
    private readonly List<string> _stuck = [];
    private readonly MembershipNemesis _membership = new(cluster, client, history, log);

    public List<string> Skipped { get; } = [];

    public async Task RunAsync(IReadOnlyList<FaultPlan> plan, CancellationToken stop)
    {
        foreach (var fault in plan)
        {
            var waitMs = fault.AtMs - history.NowMs;
            if (waitMs > 0)
            {
                try { await Task.Delay(TimeSpan.FromMilliseconds(waitMs), stop); }
                catch (OperationCanceledException) { return; }
            }
            if (stop.IsCancellationRequested) return;
            await InjectAsync(fault, stop);
            HealAll();
            await cluster.WaitHealthyAsync(client, HealthyWait, stop);
        }
    }

    private async Task InjectAsync(FaultPlan fault, CancellationToken stop)
    {
        var leader = await cluster.LeaderAsync(client, stop);
        // The plan names nodes 0..n-1 of the initial cluster; after membership changes they stand for the
        // current members in the plan's order.
        var nodes = Members(fault.Nodes);
        var chosen = nodes[0];
        var leaderOrChosen = leader ?? chosen;
        switch (fault.Kind, fault.Variant)
        {
            case ("membership", var variant):
                await _membership.StepAsync(variant, leader, Skipped, stop);
                break;
            case ("kill", var variant):
            {
                var node = variant == "leader" ? leaderOrChosen : chosen;
                var window = history.BeginFault("kill", $"{TestCluster.Id(node)}{(node == leader ? " (leader)" : "")}");
                log($"nemesis: kill -9 {window.Detail}");
                var lastIndex = prefill is null ? 0 : await LastIndexAsync(node, stop);
                cluster.Kill(node);
                await HoldAsync(fault.DurationMs, stop);
                if (prefill is not null) window.Detail += await PushPastSnapshotAsync(prefill, node, lastIndex, stop);
                cluster.Start(node);
                history.EndFault(window);
                if (prefill is not null) await FollowCatchUpAsync(node, "killed, behind the snapshot", stop);
                break;
            }
            case ("pause", "client"):
            {
                pauses.Post(fault.DurationMs);
                // The client takes the pause at its next pause point; the window is recorded by the client.
                for (var i = 0; i < 100 && pauses.Pending && !stop.IsCancellationRequested; i++) await HoldAsync(100, stop);
                if (pauses.Withdraw()) log("nemesis: no client reached a pause point in time; client pause withdrawn");
                else await HoldAsync(fault.DurationMs, stop);
                break;
            }
            case ("pause", var variant):
            {
                var node = variant == "server-leader" ? leaderOrChosen : chosen;
                var window = history.BeginFault("pause", $"{TestCluster.Id(node)}{(node == leader ? " (leader)" : "")}");
                log($"nemesis: SIGSTOP {window.Detail}");
                cluster.Pause(node);
                await HoldAsync(fault.DurationMs, stop);
                cluster.Resume(node);
                history.EndFault(window);
                break;
            }
            case ("partition", var variant):
                await PartitionAsync(nodes, fault, variant, leaderOrChosen, stop);
                break;
            case ("restart-all", _):
                await RestartAllAsync(fault, "restart-all", "every node stopped (SIGTERM), then started", cluster.Stop, stop);
                break;
            case ("restart-all-crash", _):
                // Every node crashes at once (what found bug B1 in the README).
                await RestartAllAsync(fault, "restart-all-crash", "every node kill -9, then start", cluster.Kill, stop);
                break;
            case ("client-partition", _):
            {
                if (cluster.Network is null)
                {
                    Skipped.Add("client-partition (no network namespaces: not root or ip netns unavailable)");
                    break;
                }
                // The client that takes it cuts itself from every node (its own address) and records the window.
                pauses.PostCut(fault.DurationMs);
                for (var i = 0; i < 100 && pauses.CutPending && !stop.IsCancellationRequested; i++) await HoldAsync(100, stop);
                if (pauses.WithdrawCut())
                {
                    log("nemesis: no client reached a pause point in time; client partition withdrawn");
                    Skipped.Add("client-partition (no client of this workload holds locks at pause points)");
                }
                else
                {
                    await HoldAsync(fault.DurationMs, stop);
                }
                break;
            }
            case ("wipe", _):
            {
                // Only an initial member is wiped: it is readmitted under the static member list.
                var node = nodes.FirstOrDefault(n => n != leader && cluster.IsRunning(n) && cluster.IsInitial(n), -1);
                if (node < 0)
                {
                    Skipped.Add("wipe (no initial member other than the leader is running)");
                    break;
                }
                var window = history.BeginFault("wipe", $"{TestCluster.Id(node)} loses its data directory");
                log($"nemesis: wipe {TestCluster.Id(node)}");
                cluster.Kill(node);
                cluster.Wipe(node);
                await HoldAsync(fault.DurationMs, stop);
                cluster.Start(node);
                history.EndFault(window);
                if (prefill is not null) await FollowCatchUpAsync(node, "wiped, seeded", stop);
                break;
            }
        }
    }

    /// <summary>
    /// With a prefill: whether every node the nemesis restarted (killed behind the leader's snapshot, or wiped)
    /// applied the leader's commit index of its restart within <see cref="CatchUpWait"/>; null without a prefill.
    /// </summary>
    public CheckResult? CatchUpResult => prefill is null
        ? null
        : CheckResult.From("restarts-catch-up",
            $"{_caughtUp.Count} restarted node(s) caught up within {CatchUpWait.TotalSeconds:F0} s{(_caughtUp.Count == 0 ? "" : $" ({string.Join("; ", _caughtUp)})")}, {_stuck.Count} did not", _stuck);

    /// <summary>
    /// Polls the restarted node until its applied index reaches the leader's commit index as read at the poll
    /// before (so a node that applied a few entries after an install and then stopped is not taken for caught up).
    /// </summary>
    private async Task FollowCatchUpAsync(int node, string how, CancellationToken stop)
    {
        var startMs = history.NowMs;
        long? commit = null;
        long applied = 0, snapshot = 0;
        while (!stop.IsCancellationRequested && history.NowMs - startMs < CatchUpWait.TotalMilliseconds)
        {
            var view = await client.SendAsync(node, HttpMethod.Get, "/v1/cluster?stale=true", null, stop, TimeSpan.FromSeconds(2));
            applied = view.Number("appliedIndex") ?? applied;
            snapshot = view.Number("snapshotIndex") ?? snapshot;
            if (commit is { } previous && applied >= previous)
            {
                var seconds = ((history.NowMs - startMs) / 1000).ToString("F1", CultureInfo.InvariantCulture);
                _caughtUp.Add($"{TestCluster.Id(node)} {how}: {seconds} s");
                log($"nemesis: {TestCluster.Id(node)} ({how}) applied the leader's commit index {previous} {seconds} s after its start");
                return;
            }
            if (await cluster.LeaderAsync(client, stop) is { } leader && leader != node)
            {
                commit = (await client.SendAsync(leader, HttpMethod.Get, "/v1/cluster", null, stop, TimeSpan.FromSeconds(2))).Number("commitIndex") ?? commit;
            }
            await HoldAsync(250, stop);
        }
        if (stop.IsCancellationRequested)
        {
            log($"nemesis: {TestCluster.Id(node)} ({how}) not followed to the end: the run's time is up");
            return;
        }
        var problem = $"{TestCluster.Id(node)} ({how}) did not apply the leader's commit index ({commit?.ToString(CultureInfo.InvariantCulture) ?? "no leader"}) within {CatchUpWait.TotalSeconds:F0} s of its start: applied index {applied}, newest snapshot {snapshot}";
        _stuck.Add(problem);
        log("nemesis: " + problem);
    }

    /// <summary>The highest index a node reports (commit or applied; 0 when it does not answer).</summary>
    private async Task<long> LastIndexAsync(int node, CancellationToken stop)
    {
        var view = await client.SendAsync(node, HttpMethod.Get, "/v1/cluster?stale=true", null, stop, TimeSpan.FromSeconds(2));
        return Math.Max(view.Number("commitIndex") ?? 0, view.Number("appliedIndex") ?? 0);
    }

    /// <summary>
    /// While <paramref name="node"/> is down: writes filler entries until the leader's newest snapshot is above
    /// the node's last index (and what may have been in flight at the kill), bounded by <see cref="BehindWait"/>.
    /// Returns what happened, for the fault window.
    /// </summary>
    private async Task<string> PushPastSnapshotAsync(Prefill filler, int node, long lastIndex, CancellationToken stop)
    {
        var deadline = DateTime.UtcNow + BehindWait;
        var pairs = 0;
        long? target = null;
        while (!stop.IsCancellationRequested && DateTime.UtcNow < deadline)
        {
            if (await cluster.LeaderAsync(client, stop) is { } leader && leader != node)
            {
                var view = await client.SendAsync(leader, HttpMethod.Get, "/v1/cluster", null, stop, TimeSpan.FromSeconds(2));
                // Above both the index the node reported and the leader's commit index first seen after the kill
                // (what was in flight then and got committed); the margin covers entries the node appended that
                // were never committed (a killed leader's last proposals).
                target ??= view.Number("commitIndex") is { } commit ? Math.Max(lastIndex, commit) + InFlightMargin : null;
                if (target is { } above && view.Number("snapshotIndex") is { } snapshot && snapshot > above)
                {
                    var detail = $"; restarted behind {TestCluster.Id(leader)}'s snapshot at {snapshot} (its last index at most about {above}; {pairs} filler pairs)";
                    log("nemesis: " + TestCluster.Id(node) + detail[1..]);
                    return detail;
                }
                pairs += await filler.PushLogAsync(50, stop);
            }
            else
            {
                await HoldAsync(200, stop);
            }
        }
        log($"nemesis: {TestCluster.Id(node)} restarted without the leader's snapshot passing its last index {lastIndex}");
        return "; the leader's snapshot did not pass its last index";
    }

    /// <summary>Takes every node down with <paramref name="takeDown"/>, holds, then starts them all.</summary>
    private async Task RestartAllAsync(FaultPlan fault, string name, string description, Action<int> takeDown, CancellationToken stop)
    {
        // Both variants are recorded as one fault kind, "restart-all"; the description tells them apart.
        var window = history.BeginFault("restart-all", description);
        log("nemesis: " + name);
        foreach (var node in cluster.Members) takeDown(node);
        await HoldAsync(fault.DurationMs, stop);
        cluster.StartAll();
        history.EndFault(window);
    }

    private async Task PartitionAsync(int[] nodes, FaultPlan fault, string variant, int leader, CancellationToken stop)
    {
        if (cluster.Network is not { } network)
        {
            Skipped.Add($"partition/{variant} (no network namespaces: not root or ip netns unavailable)");
            return;
        }
        var cuts = new List<(int, int)>();
        string detail;
        switch (variant)
        {
            case "isolate-leader":
                cuts.AddRange(cluster.Members.Where(n => n != leader).Select(n => (leader, n)));
                detail = $"{TestCluster.Id(leader)} (leader) isolated";
                break;
            case "majority-minority":
            {
                var minority = nodes.Take(cluster.Size / 2).ToArray();
                var majority = nodes.Skip(cluster.Size / 2).ToArray();
                cuts.AddRange(minority.SelectMany(a => majority.Select(b => (a, b))));
                detail = $"[{Ids(minority)}] | [{Ids(majority)}]";
                break;
            }
            default:
            {
                // Bridge: two halves that only the middle node joins.
                var half = cluster.Size / 2;
                var left = nodes.Take(half).ToArray();
                var right = nodes.Skip(half + 1).ToArray();
                cuts.AddRange(left.SelectMany(a => right.Select(b => (a, b))));
                detail = $"[{Ids(left)}] <- {TestCluster.Id(nodes[half])} -> [{Ids(right)}]";
                break;
            }
        }
        var window = history.BeginFault("partition", detail);
        log($"nemesis: partition {detail}");
        foreach (var (a, b) in cuts) network.Cut(a, b);
        await HoldAsync(fault.DurationMs, stop);
        network.HealAll();
        history.EndFault(window);
    }

    /// <summary>Undoes every fault still in effect: heal the network, resume and start every node.</summary>
    public void HealAll()
    {
        cluster.Network?.HealAll();
        foreach (var node in cluster.Members)
        {
            if (cluster.IsPaused(node)) cluster.Resume(node);
            if (!cluster.IsRunning(node)) cluster.Start(node);
        }
        foreach (var window in history.Faults().Where(w => w.EndMs is null && w.Kind != "client-pause")) history.EndFault(window);
    }

    /// <summary>The current members, those the plan names first in its order, then the others.</summary>
    private int[] Members(int[] planned)
    {
        var members = cluster.Members;
        return planned.Where(members.Contains).Concat(members.Where(n => !planned.Contains(n))).ToArray();
    }

    private static string Ids(IEnumerable<int> nodes) => string.Join(' ', nodes.Select(TestCluster.Id));

    private static async Task HoldAsync(int ms, CancellationToken stop)
    {
        try { await Task.Delay(ms, stop); }
        catch (OperationCanceledException) { }
    }
}
