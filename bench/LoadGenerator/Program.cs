using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RaftDlm.LoadGenerator;

// dotnet run -c Release --project bench/LoadGenerator -- <scenario> [--target raft-dlm|etcd]
//   [--endpoints url,url] [--workers N] [--seconds S] [--warmup S] [--sessions N] [--pids pid,pid] [--disk vda]
//   [--timeline FILE]
// Scenarios: uncontended, contended, modes, sessions, cached, failover. Prints one JSON line of results. The workers first run
// for --warmup seconds (default 3) unmeasured: both the servers and this process compile their hot paths
// in their first seconds, which a short run would otherwise measure. On Linux the result also gives what
// one operation cost in the measured window: CPU time of the servers (--pids) and of this process, and the
// write and flush requests that reached the block device the servers write to (--disk, from
// /proc/diskstats: the whole machine's, so keep it otherwise idle). SIGTERM or SIGINT ends the measured
// window early; the line then gives the time measured (MeasuredSeconds). The lock and sessions scenarios
// also count, per whole second of the measured window, the operations and errors that completed in it:
// the line gives the median and the lowest second (MedianSecondOps, MinSecondOps, MinSecond), and
// --timeline FILE writes every second as "second,operations,errors" (scripts/full-load.sh judges a run by it).
// fill --endpoints url,… --locks N --sessions S --workers W [--ttl-ms T] [--lockspace fill] [--hold-seconds H]
//   takes N EX locks on fill-0 … fill-(N-1) over S sessions of TTL T (default and at most 1 h) and exits
//   without closing the sessions; keepalive --endpoints … --session-ids id,… --seconds N keeps them alive
//   (see FillScenarios.cs).
if (args.Length is 2 or 4 && args[0] == "report")
{
    Report.Print(args[1]);
    if (args.Length == 4 && args[2] == "--svg") Report.WriteChart(args[1], args[3]);
    return;
}
Interruption.Install();
if (args.Length > 0 && args[0] is "fill" or "keepalive")
{
    var filled = args[0] == "fill"
        ? await FillScenarios.FillAsync(args, Interruption.Token)
        : await FillScenarios.KeepAliveAsync(args, Interruption.Token);
    Console.WriteLine(JsonSerializer.Serialize(filled));
    return;
}
var options = Options.Parse(args);
await using ITarget target = options.Target == "etcd"
    ? new EtcdTarget(options.Endpoints)
    : new RaftDlmTarget(options.AnyNode ? options.Endpoints : await RaftDlmTarget.LeaderAsync(options.Endpoints), options.Workers);
var result = options.Scenario switch
{
    "uncontended" => await Scenarios.LockUnlockAsync(target, options, worker => $"resource-{worker}", _ => "EX"),
    "contended" => await Scenarios.LockUnlockAsync(target, options, _ => "hot", _ => "EX"),
    "modes" => await Scenarios.LockUnlockAsync(target, options, worker => $"shared-{worker % 4}", random => random.Next(5) == 0 ? "EX" : "PR"),
    "sessions" => await Scenarios.SessionsAsync(target, options),
    "cached" => await ClientScenarios.CachedAsync(options),
    "failover" => await ClientScenarios.FailoverAsync(target, options),
    _ => throw new ArgumentException($"unknown scenario '{options.Scenario}'"),
};
Console.WriteLine(JsonSerializer.Serialize(result, Report.Json));

/// <param name="AnyNode">Raft DLM only: spread workers over every endpoint (followers forward) instead of
/// sending to the leader, which a leader-aware client does.</param>
internal sealed record Options(string Scenario, string Target, IReadOnlyList<string> Endpoints, int Workers, int Seconds, int WarmupSeconds,
    int Sessions, bool AnyNode, IReadOnlyList<int> ServerPids, string? Disk, string? Timeline)
{
    public static Options Parse(string[] args)
    {
        string Value(string name, string fallback)
        {
            var at = Array.IndexOf(args, "--" + name);
            return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
        }
        int Number(string name, int fallback) => int.Parse(Value(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
        var target = Value("target", "raft-dlm");
        var endpoints = Value("endpoints", target == "etcd" ? "http://127.0.0.1:2379" : "http://127.0.0.1:7700");
        return new Options(args.Length > 0 ? args[0] : "uncontended", target, endpoints.Split(','), Number("workers", 1), Number("seconds", 10),
            Number("warmup", 3), Number("sessions", 1000), args.Contains("--any-node"),
            [.. Value("pids", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(pid => int.Parse(pid, CultureInfo.InvariantCulture))],
            Value("disk", "") is { Length: > 0 } disk ? disk : null,
            Value("timeline", "") is { Length: > 0 } timeline ? timeline : null);
    }
}

internal sealed record Result(string Target, string Scenario, int Workers, int Seconds, long Operations, long Errors,
    double OpsPerSecond, double P50Ms, double P90Ms, double P99Ms, double P999Ms)
{
    /// <summary>HTTP requests made by the measured loop, where a scenario counts them.</summary>
    public long? Requests { get; init; }

    /// <summary>CPU time of the server processes given by --pids, summed, per operation (ms).</summary>
    public double? ServerCpuMsPerOp { get; init; }

    /// <summary>CPU time of the load generator itself per operation (ms).</summary>
    public double? ClientCpuMsPerOp { get; init; }

    /// <summary>Write requests completed by the --disk device per operation.</summary>
    public double? DiskWritesPerOp { get; init; }

    /// <summary>Flush (cache flush / FUA barrier) requests completed by the --disk device per operation.</summary>
    public double? DiskFlushesPerOp { get; init; }

    /// <summary>Seconds the measured window lasted: the --seconds asked for, or less when a signal ended it.</summary>
    public double? MeasuredSeconds { get; init; }

    /// <summary>When the measured window began (UTC, ISO 8601): second 0 of the timeline.</summary>
    public string? MeasuredFromUtc { get; init; }

    /// <summary>The median of the operations completed per whole second of the measured window.</summary>
    public double? MedianSecondOps { get; init; }

    /// <summary>The fewest operations completed in one whole second of the measured window, and which second (from 0).</summary>
    public long? MinSecondOps { get; init; }

    /// <inheritdoc cref="MinSecondOps"/>
    public int? MinSecond { get; init; }
}

internal static class Scenarios
{
    /// <summary>Each worker loops lock + unlock for the time limit; one operation is one lock+unlock pair.</summary>
    public static async Task<Result> LockUnlockAsync(ITarget target, Options options, Func<int, string> resource, Func<Random, string> mode)
    {
        var workers = new List<IWorker>();
        for (var i = 0; i < options.Workers; i++) workers.Add(await target.OpenWorkerAsync(i, CancellationToken.None));
        var latencies = new List<double>[options.Workers];
        var errors = 0L;
        using var window = new Window(options);
        await Task.WhenAll(workers.Select((worker, index) => Task.Run(async () =>
        {
            var mine = latencies[index] = new List<double>(100_000);
            var random = new Random(index);
            while (!window.Stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await worker.LockAsync(resource(index), mode(random), CancellationToken.None);
                    await worker.UnlockAsync(CancellationToken.None);
                    var latencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    if (window.Measures(started)) mine.Add(latencyMs);
                    window.Completed(failed: false, latencyMs);
                }
                catch (Exception error) when (error is HttpRequestException or Grpc.Core.RpcException or InvalidOperationException)
                {
                    if (window.Measures(started) && Interlocked.Increment(ref errors) == 1) Console.Error.WriteLine($"first error: {error.Message}");
                    window.Completed(failed: true);
                }
            }
        })));
        var elapsed = window.MeasuredSeconds;
        var result = window.WithTimeline(await window.WithUsageAsync(Summarise(target, options, latencies.SelectMany(list => list).ToList(), errors, elapsed)));
        foreach (var worker in workers) await worker.DisposeAsync();
        return result;
    }

    /// <summary>N sessions each kept alive every second by a pool of workers; measures keep-alive latency.</summary>
    public static async Task<Result> SessionsAsync(ITarget target, Options options)
    {
        var sessions = new IWorker[options.Sessions];
        using (var opening = new SemaphoreSlim(64))
        {
            await Task.WhenAll(Enumerable.Range(0, options.Sessions).Select(async i =>
            {
                await opening.WaitAsync();
                try { sessions[i] = await target.OpenWorkerAsync(i, CancellationToken.None); }
                finally { opening.Release(); }
            }));
        }
        var latencies = new List<double>[options.Workers];
        var errors = 0L;
        using var window = new Window(options);
        await Task.WhenAll(Enumerable.Range(0, options.Workers).Select(index => Task.Run(async () =>
        {
            var mine = latencies[index] = new List<double>();
            while (!window.Stop.IsCancellationRequested)
            {
                var round = Stopwatch.StartNew();
                for (var s = index; s < sessions.Length && !window.Stop.IsCancellationRequested; s += options.Workers)
                {
                    var started = Stopwatch.GetTimestamp();
                    try
                    {
                        await sessions[s].KeepAliveAsync(CancellationToken.None);
                        var latencyMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                        if (window.Measures(started)) mine.Add(latencyMs);
                        window.Completed(failed: false, latencyMs);
                    }
                    catch (Exception error) when (error is HttpRequestException or Grpc.Core.RpcException or InvalidOperationException)
                    {
                        if (window.Measures(started) && Interlocked.Increment(ref errors) == 1) Console.Error.WriteLine($"first error: {error.Message}");
                        window.Completed(failed: true);
                    }
                }
                var rest = TimeSpan.FromSeconds(1) - round.Elapsed;
                if (rest > TimeSpan.Zero && !window.Stop.IsCancellationRequested) await Task.Delay(rest, CancellationToken.None);
            }
        })));
        var elapsed = window.MeasuredSeconds;
        var result = window.WithTimeline(await window.WithUsageAsync(Summarise(target, options with { Workers = options.Sessions }, latencies.SelectMany(list => list).ToList(), errors, elapsed)));
        await Task.WhenAll(sessions.Select(session => session.DisposeAsync().AsTask()));
        return result;
    }

    /// <summary>
    /// A run's time: <see cref="Options.WarmupSeconds"/> unmeasured, then <see cref="Options.Seconds"/> in which
    /// every operation that started counts; <see cref="Stop"/> fires at the end of both. Its timeline counts
    /// the operations and errors completed in each whole second of the measured window, with the p99 and the
    /// longest latency of the operations completed in it (one slot per second, allocated once; a completion
    /// outside the window is not counted there).
    /// </summary>
    private sealed class Window : IDisposable
    {
        private readonly Options _options;
        private readonly long _measureFrom;
        private readonly DateTime _measureFromUtc;
        private readonly Task<Usage> _usageAtStart;
        private readonly long[] _operationsPerSecond;
        private readonly long[] _errorsPerSecond;
        private readonly List<double>?[] _latenciesPerSecond;

        public Window(Options options)
        {
            _options = options;
            _measureFrom = Stopwatch.GetTimestamp() + (options.WarmupSeconds * Stopwatch.Frequency);
            _measureFromUtc = DateTime.UtcNow.AddSeconds(options.WarmupSeconds);
            _operationsPerSecond = new long[Math.Max(options.Seconds, 0)];
            _errorsPerSecond = new long[Math.Max(options.Seconds, 0)];
            _latenciesPerSecond = new List<double>?[Math.Max(options.Seconds, 0)];
            Stop = CancellationTokenSource.CreateLinkedTokenSource(Interruption.Token);
            Stop.CancelAfter(TimeSpan.FromSeconds(options.WarmupSeconds + options.Seconds));
            _usageAtStart = Task.Delay(TimeSpan.FromSeconds(options.WarmupSeconds)).ContinueWith(_ => Usage.Take(options), TaskScheduler.Default);
        }

        public CancellationTokenSource Stop { get; }

        public bool Measures(long started) => started >= _measureFrom;

        public double MeasuredSeconds => Stopwatch.GetElapsedTime(_measureFrom).TotalSeconds;

        /// <summary>Counts one operation (or error) in the second of the measured window it completed in, with its latency.</summary>
        public void Completed(bool failed, double latencyMs = 0)
        {
            var sinceStart = Stopwatch.GetTimestamp() - _measureFrom;
            if (sinceStart < 0) return;
            var second = sinceStart / Stopwatch.Frequency;
            if (second >= _operationsPerSecond.Length) return;
            Interlocked.Increment(ref (failed ? _errorsPerSecond : _operationsPerSecond)[second]);
            if (failed || _options.Timeline is null) return; // the latencies of each second are only for the timeline
            var latencies = _latenciesPerSecond[second];
            if (latencies is null)
            {
                Interlocked.CompareExchange(ref _latenciesPerSecond[second], [], null);
                latencies = _latenciesPerSecond[second]!;
            }
            lock (latencies) latencies.Add(latencyMs);
        }

        /// <summary>
        /// Adds the median and the lowest whole second of the measured window to the result and writes the
        /// timeline to <see cref="Options.Timeline"/>, if given. Call once the workers have stopped: a second
        /// a signal cut short is left out.
        /// </summary>
        public Result WithTimeline(Result result)
        {
            var seconds = (int)Math.Clamp(Math.Floor(MeasuredSeconds), 0, _operationsPerSecond.Length);
            if (_options.Timeline is { } path)
            {
                using var writer = new StreamWriter(path);
                writer.WriteLine("second,operations,errors,p99_ms,max_ms");
                for (var second = 0; second < seconds; second++)
                {
                    var latencies = _latenciesPerSecond[second] is { } list ? list.Order().ToArray() : [];
                    var (p99, max) = latencies.Length == 0 ? (double.NaN, double.NaN)
                        : (latencies[Math.Min(latencies.Length - 1, (int)(0.99 * latencies.Length))], latencies[^1]);
                    writer.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"{second},{_operationsPerSecond[second]},{_errorsPerSecond[second]},{Math.Round(p99, 3)},{Math.Round(max, 3)}"));
                }
            }
            result = result with { MeasuredFromUtc = _measureFromUtc.ToString("O", CultureInfo.InvariantCulture) };
            if (seconds == 0) return result;
            var sorted = _operationsPerSecond[..seconds].Order().ToArray();
            var median = seconds % 2 == 1 ? sorted[seconds / 2] : (sorted[(seconds / 2) - 1] + sorted[seconds / 2]) / 2.0;
            var lowest = Array.IndexOf(_operationsPerSecond, sorted[0], 0, seconds);
            return result with { MedianSecondOps = median, MinSecondOps = sorted[0], MinSecond = lowest };
        }

        /// <summary>Adds the resources used per operation since the warm-up ended (see <see cref="Usage"/>).</summary>
        public async Task<Result> WithUsageAsync(Result result) =>
            result.Operations == 0 ? result : Usage.Take(_options).Since(await _usageAtStart).PerOperation(result);

        public void Dispose() => Stop.Dispose();
    }

    private static Result Summarise(ITarget target, Options options, List<double> latencies, long errors, double seconds)
    {
        latencies.Sort();
        double At(double quantile) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)(quantile * latencies.Count))];
        return new Result(target.Name, options.Scenario, options.Workers, options.Seconds, latencies.Count, errors,
            Math.Round(latencies.Count / Math.Max(seconds, 0.001), 1), Math.Round(At(0.5), 3), Math.Round(At(0.9), 3), Math.Round(At(0.99), 3), Math.Round(At(0.999), 3))
        {
            MeasuredSeconds = Math.Round(Math.Max(seconds, 0), 1),
        };
    }
}

/// <summary>Medians of the runs per scenario and target, as a Markdown table with ours/etcd ratios.</summary>
internal static class Report
{
    /// <summary>Results as JSON lines: a run that measured nothing (ended in its warm-up) has NaN percentiles.</summary>
    public static readonly JsonSerializerOptions Json = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static void Print(string path)
    {
        var results = File.ReadLines(path).Where(line => line.StartsWith('{'))
            .Select(line => JsonSerializer.Deserialize<Result>(line, Json)!).ToList();
        Console.WriteLine("| scenario | workers | raft-dlm ops/s | etcd ops/s | ratio | raft-dlm p50 / p99 ms | etcd p50 / p99 ms | server CPU ms/op, ours / etcd | disk writes/op, ours / etcd | disk flushes/op, ours / etcd |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var group in results.GroupBy(result => (result.Scenario, result.Workers)))
        {
            var ours = group.Where(result => result.Target == "raft-dlm").ToList();
            var etcd = group.Where(result => result.Target == "etcd").ToList();
            var oursOps = Median(ours.Select(result => result.OpsPerSecond));
            var etcdOps = Median(etcd.Select(result => result.OpsPerSecond));
            string Pair(Func<Result, double?> figure, string format) =>
                Median(ours.Select(figure)).ToString(format, CultureInfo.InvariantCulture) + " / " + Median(etcd.Select(figure)).ToString(format, CultureInfo.InvariantCulture);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {group.Key.Scenario} | {group.Key.Workers} | {oursOps:F0} | {etcdOps:F0} | {oursOps / etcdOps:F2} | " +
                $"{Median(ours.Select(result => result.P50Ms)):F2} / {Median(ours.Select(result => result.P99Ms)):F2} | " +
                $"{Median(etcd.Select(result => result.P50Ms)):F2} / {Median(etcd.Select(result => result.P99Ms)):F2} | " +
                $"{Pair(result => result.ServerCpuMsPerOp, "F2")} | {Pair(result => result.DiskWritesPerOp, "F1")} | {Pair(result => result.DiskFlushesPerOp, "F1")} |"));
        }
    }

    /// <summary>
    /// A bar chart of the same medians: per scenario, ours and etcd's ops/s as bars scaled to the larger of
    /// the two (the scenarios' scales differ by orders of magnitude), each labelled with its value.
    /// </summary>
    public static void WriteChart(string resultsPath, string svgPath)
    {
        var results = File.ReadLines(resultsPath).Where(line => line.StartsWith('{'))
            .Select(line => JsonSerializer.Deserialize<Result>(line, Json)!).ToList();
        var groups = results.GroupBy(result => (result.Scenario, result.Workers)).ToList();
        const int rowHeight = 56, left = 190, width = 420;
        var svg = new System.Text.StringBuilder();
        var height = 40 + (groups.Count * rowHeight);
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{left + width + 120}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
        svg.Append("<text x=\"10\" y=\"20\" font-size=\"14\">ops/s, medians (blue: Raft DLM, grey: etcd)</text>");
        for (var row = 0; row < groups.Count; row++)
        {
            var group = groups[row];
            var ours = Median(group.Where(result => result.Target == "raft-dlm").Select(result => result.OpsPerSecond));
            var etcd = Median(group.Where(result => result.Target == "etcd").Select(result => result.OpsPerSecond));
            var max = Math.Max(double.IsNaN(ours) ? 0 : ours, double.IsNaN(etcd) ? 0 : etcd);
            var y = 36 + (row * rowHeight);
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"10\" y=\"{y + 22}\">{group.Key.Scenario}, workers: {group.Key.Workers}</text>");
            foreach (var (value, offset, colour) in new[] { (ours, 0, "#2f6db5"), (etcd, 22, "#9a9a9a") })
            {
                var length = max > 0 && !double.IsNaN(value) ? width * value / max : 0;
                svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{left}\" y=\"{y + offset}\" width=\"{length:F1}\" height=\"18\" fill=\"{colour}\"/>");
                svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{left + length + 6:F1}\" y=\"{y + offset + 14}\">{value:F0}</text>");
            }
        }
        svg.Append("</svg>");
        File.WriteAllText(svgPath, svg.ToString());
    }

    private static double Median(IEnumerable<double?> values) => Median(values.OfType<double>());

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
