using System.Globalization;
using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.Cluster;
using RaftDlm.Jepsen.History;
using RaftDlm.Jepsen.Nemeses;
using RaftDlm.Jepsen.Report;
using RaftDlm.Jepsen.Workloads;

namespace RaftDlm.Jepsen.Runner;

/// <summary>
/// One run: fresh cluster, workers and nemesis for the time limit, heal, final reads, checks, report.
/// Everything it starts it stops: the cluster's processes by pid and the network namespaces, in a
/// finally block, on Ctrl-C and SIGTERM, and from a watchdog if the run overstays its bound.
/// </summary>
public sealed class JepsenRun(RunOptions options)
{
    private const int HealTimeoutSeconds = 45;
    private static readonly TimeSpan WorkerDrainWait = TimeSpan.FromSeconds(60);
    private readonly HistoryLog _history = new();
    private readonly object _cleanupGate = new();
    private readonly object _logGate = new();
    private TestCluster? _cluster;
    private Network? _network;
    private string _outDirectory = "";

    public async Task<int> RunAsync()
    {
        var workload = IWorkload.Create(options.Workload);
        _outDirectory = options.Out ?? DefaultOut();
        Directory.CreateDirectory(_outDirectory);
        using var abort = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; Log("Ctrl-C: stopping"); abort.Cancel(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Cleanup();
        // The watchdog: whatever happens, the run ends by itself.
        var overallBound = TimeSpan.FromSeconds(options.TimeLimitSeconds + 300) + PrefillBound;
        using var watchdog = new Timer(_ => { Log("watchdog: run exceeded its bound; cleaning up"); Cleanup(); Environment.Exit(2); }, null, overallBound, Timeout.InfiniteTimeSpan);
        try
        {
            return await RunInsideAsync(workload, abort.Token);
        }
        catch (Exception error) when (error is not OutOfMemoryException)
        {
            Log("run failed: " + error);
            return 2;
        }
        finally
        {
            Cleanup();
        }
    }

    private async Task<int> RunInsideAsync(IWorkload workload, CancellationToken abort)
    {
        Log($"run: {options.Command}\n  out: {_outDirectory}");
        // The membership nemesis adds fresh nodes under new ids: spare places for them (at most one per step).
        var slots = options.Nemeses.Contains("membership") ? options.Nodes + Math.Min(30, (options.TimeLimitSeconds / 6) + 1) : options.Nodes;
        _network = Network.Available() ? Network.Create(slots, Log) : null;
        if (_network is null) Log("network namespaces unavailable (not root?): nodes on 127.0.0.1, partitions skipped");
        // A prefill takes its locks under a snapshot every quarter of them (not hundreds of large snapshots);
        // the cluster is then restarted with the run's setting.
        var prefillSnapshotEvery = Math.Max(options.SnapshotEveryEntries, options.PrefillLocks / 4);
        _cluster = new TestCluster(options.Nodes, slots, _network, Path.Combine(_outDirectory, "logs"),
            ServerArguments(options.PrefillLocks > 0 ? prefillSnapshotEvery : options.SnapshotEveryEntries));
        _cluster.StartAll();
        using var client = new HttpLockClient(_cluster.HttpUrls);
        if (!await _cluster.WaitHealthyAsync(client, TimeSpan.FromSeconds(60), abort)) throw new InvalidOperationException("the cluster did not become healthy");
        using var prefillKeepAlive = CancellationTokenSource.CreateLinkedTokenSource(abort);
        var prefill = await PrefillAsync(client, prefillKeepAlive.Token, abort);
        var pauses = new ClientPauses();
        var context = new RunContext { History = _history, Client = client, Seed = options.Seed, TtlMs = options.TtlMs, Pauses = pauses, Log = Log, Network = _network };
        await workload.SetupAsync(context, abort);
        var plan = Schedule.Plan(options.Nemeses, options.Seed, options.Nodes, options.TimeLimitSeconds * 1000, context.ClientPauseMs,
            preferClientPauses: workload.Name is "unfenced-store" or "fenced-store" or "sessions" or "client-store" or "client-store-no-deadline");
        foreach (var fault in plan) Log("plan: " + fault);

        var startMs = _history.NowMs;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(abort);
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(abort);
        stop.CancelAfter(TimeSpan.FromSeconds(options.TimeLimitSeconds));
        var workers = Enumerable.Range(0, workload.WorkerCount).Select(p => workload.CreateWorker(context, p)).ToList();
        var running = workers.Select(w => Task.Run(() => w.RunAsync(stop.Token, hardStop.Token))).ToList();
        var nemesis = new Nemesis(_cluster, client, _history, pauses, Log, prefill);
        await nemesis.RunAsync(plan.Select(f => f with { AtMs = f.AtMs + startMs }).ToList(), stop.Token);
        try { await Task.Delay(Timeout.Infinite, stop.Token); }
        catch (OperationCanceledException) { }

        Log("time limit reached: healing and draining the workers");
        nemesis.HealAll();
        var healthy = await _cluster.WaitHealthyAsync(client, TimeSpan.FromSeconds(HealTimeoutSeconds), abort);
        var drained = Task.WhenAll(running);
        if (await Task.WhenAny(drained, Task.Delay(WorkerDrainWait, abort)) != drained)
        {
            Log("workers did not finish in time: cancelling their requests");
            await hardStop.CancelAsync();
            await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(15), CancellationToken.None));
        }
        if (abort.IsCancellationRequested)
        {
            Log("aborted: no checks (the history is incomplete)");
            return 2;
        }
        await workload.FinalAsync(context, abort);
        var results = workload.Check(_history.Ops(), _history.Faults(), context).ToList();
        if (nemesis.CatchUpResult is { } catchUp) results.Add(catchUp);
        results.Add(await ConvergenceAsync(client, healthy, abort));
        await prefillKeepAlive.CancelAsync();
        if (prefill is not null) Log($"prefill: {prefill.FillerPairs} filler lock/release pairs written by the nemesis");
        // compare-replicas.sh compares the nodes that are members at the end (a removed node was stopped).
        File.WriteAllText(Path.Combine(_outDirectory, "logs", "members"), string.Join('\n', _cluster.Members.Select(TestCluster.Id)) + "\n");
        return Finish(workload, results, nemesis.Skipped, plan);
    }

    private static string[] ServerArguments(int snapshotEveryEntries) =>
    [
        "--ElectionTimeoutMinMs", "600", "--ElectionTimeoutMaxMs", "1200",
        "--ProposalTimeoutMs", "3000", "--LeaderWaitMs", "2000",
        "--SnapshotEveryEntries", snapshotEveryEntries.ToString(CultureInfo.InvariantCulture),
    ];

    /// <summary>How long a prefill may take on top of the run (the watchdog's bound).</summary>
    private TimeSpan PrefillBound => options.PrefillLocks == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(180 + (options.PrefillLocks / 500));

    /// <summary>
    /// <c>--prefill-locks N</c>: N granted EX locks in the prefill's own lockspace, then every node restarted
    /// (SIGTERM) with the run's <c>SnapshotEveryEntries</c>, so every snapshot of the run carries the large table.
    /// The sessions are kept alive until <paramref name="keepAlive"/> is cancelled. Null without a prefill.
    /// </summary>
    private async Task<Prefill?> PrefillAsync(HttpLockClient client, CancellationToken keepAlive, CancellationToken abort)
    {
        if (options.PrefillLocks == 0) return null;
        var leader = await _cluster!.LeaderAsync(client, abort) ?? 0;
        Log($"prefill: {options.PrefillLocks} EX locks in lockspace {Prefill.Lockspace} (through {TestCluster.Id(leader)}, a snapshot every {_cluster.ExtraArguments[^1]} entries)");
        var prefill = new Prefill(client, Log);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(abort);
        bound.CancelAfter(PrefillBound);
        await prefill.FillAsync(options.PrefillLocks, leader, bound.Token);
        Log($"prefill: restarting every node with a snapshot every {options.SnapshotEveryEntries} entries for the run");
        _cluster.ExtraArguments = ServerArguments(options.SnapshotEveryEntries);
        foreach (var node in _cluster.Members) _cluster.Stop(node);
        _cluster.StartAll();
        if (!await _cluster.WaitHealthyAsync(client, TimeSpan.FromSeconds(120), abort)) throw new InvalidOperationException("the cluster did not become healthy after the prefill");
        var states = await _cluster.StatesAsync(client, abort);
        Log("prefill: cluster healthy again; applied index and state hash per node: " + string.Join(", ", states));
        _ = Task.Run(() => prefill.KeepAliveAsync(keepAlive), CancellationToken.None);
        return prefill;
    }

    /// <summary>After healing, every replica reaches the same applied index and state hash.</summary>
    private async Task<CheckResult> ConvergenceAsync(HttpLockClient client, bool healthy, CancellationToken abort)
    {
        var states = new List<string>();
        for (var attempt = 0; attempt < 60 && !abort.IsCancellationRequested; attempt++)
        {
            states = await _cluster!.StatesAsync(client, abort);
            if (states.Distinct().Count() == 1 && states[0] != "unavailable") return new CheckResult("replicas-converge", true, "all replicas at " + states[0], []);
            await Task.Delay(500, abort);
        }
        // Kept for the post-mortem: the snapshots and logs show where the replicas parted.
        _cluster!.KeepDataIn = Path.Combine(_outDirectory, "data");
        return new CheckResult("replicas-converge", false, $"replicas differ after healing (healthy={healthy}): {string.Join(", ", states)}", ["replicas did not converge: " + string.Join(", ", states)]);
    }

    private int Finish(IWorkload workload, List<CheckResult> results, List<string> skipped, List<FaultPlan> plan)
    {
        var ops = _history.Ops();
        _history.WriteJsonLines(Path.Combine(_outDirectory, "history.jsonl"));
        var violated = results.Any(r => !r.Valid && !r.Unknown);
        var unknown = results.Any(r => r.Unknown);
        string verdict;
        int exitCode;
        if (workload.ExpectedToFail)
        {
            // The cluster's own checks (convergence, catch-up after restarts) are not the expected violation.
            var found = results.Where(r => r.Checker is not ("replicas-converge" or "restarts-catch-up")).Any(r => !r.Valid && !r.Unknown);
            var otherBroken = results.Any(r => r.Checker is "replicas-converge" or "restarts-catch-up" && !r.Valid);
            (verdict, exitCode) = found && !otherBroken
                ? ("PASS (expected failure observed: the checker found the violation)", 0)
                : ("FAIL (expected a violation and the checker did not find one)", 1);
        }
        else
        {
            (verdict, exitCode) = violated ? ("FAIL (violation)", 1) : unknown ? ("UNKNOWN (a checker gave up)", 2) : ("PASS", 0);
        }
        var summary = new RunSummary
        {
            Command = options.Command, Workload = workload.Name, Seed = options.Seed, Nodes = options.Nodes,
            Nemeses = options.Nemeses, TimeLimitSeconds = options.TimeLimitSeconds, Verdict = verdict,
            ExpectedToFail = workload.ExpectedToFail, Network = _network is null ? "127.0.0.1 (partitions skipped)" : "network namespaces",
            Checkers = results, Counts = Counts(ops), Faults = _history.Faults(), SkippedFaults = skipped,
            Plan = plan.Select(p => p.ToString()).ToList(), HistoryTruncated = _history.Truncated,
        };
        summary.Write(_outDirectory);
        File.WriteAllText(Path.Combine(_outDirectory, "timeline.svg"), Timeline.Render(ops, _history.Faults(), options.TimeLimitSeconds));
        foreach (var result in results)
        {
            Log($"checker {result.Checker}: {(result.Unknown ? "UNKNOWN" : result.Valid ? "valid" : "INVALID")} — {result.Summary}");
            foreach (var problem in result.Problems) Log("    " + problem);
        }
        Log($"verdict: {verdict}\n  results in {_outDirectory}");
        return exitCode;
    }

    private static Dictionary<string, Dictionary<string, int>> Counts(IReadOnlyList<Op> ops) =>
        ops.GroupBy(op => op.F).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(
            g => g.Key,
            g => new Dictionary<string, int>
            {
                ["ok"] = g.Count(op => op.Type == OpType.Ok),
                ["fail"] = g.Count(op => op.Type == OpType.Fail),
                ["info"] = g.Count(op => op.Type == OpType.Info),
            });

    private string DefaultOut()
    {
        var root = FindRepositoryRoot() ?? Directory.GetCurrentDirectory();
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        return Path.Combine(root, "tests", "Jepsen-style", "runs", $"{stamp}-{options.Workload}-{options.Seed}");
    }

    private static string? FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Raft.sln"))) directory = directory.Parent;
        return directory?.FullName;
    }

    private void Cleanup()
    {
        lock (_cleanupGate)
        {
            _cluster?.Dispose();
            _cluster = null;
            _network?.Dispose();
            _network = null;
        }
    }

    private void Log(string message)
    {
        var line = $"[{_history.NowMs / 1000,7:F2}s] {message}";
        Console.WriteLine(line);
        if (_outDirectory.Length == 0) return;
        lock (_logGate) File.AppendAllText(Path.Combine(_outDirectory, "run.log"), line + "\n");
    }
}
