using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using RaftDlm.Consensus;
using RaftDlm.Consensus.Bench;

// The replication layer alone: three node processes of RaftNode (DotNext's Raft, the project's log) with a
// state machine that only counts, and proposers inside the leader's process: no HTTP, no lock table. It says
// what a commit costs below the service (the servers' CPU per commit, summed over the three processes, and
// the disk's flushes), to set against what the service's pairs cost (scripts/compare-etcd.sh).
//   dotnet bench/Consensus.Bench/bin/Release/net10.0/RaftDlm.Consensus.Bench.dll
//     [--dir ./data/consensus-bench] [--proposers 1,8,32] [--seconds 10] [--rounds 3] [--bytes 64]
//     [--warmup 20] [--base-port 9700] [--disk vda] [--out results.jsonl]
// --dir on a tmpfs (/dev/shm/…) takes the disk out of the measurement. Each node runs as
//   RaftDlm.Consensus.Bench.dll node --id nodeK --members nodeK=127.0.0.1:P,… --data DIR [--bytes B]
// and is driven over its standard input ("run P S" | "quit"); the driver starts and stops them by process id.
if (args.Length > 0 && args[0] == "node")
{
    return await BenchNode.RunAsync(args);
}

var options = Arguments.Parse(args);
var directory = Path.GetFullPath(options.Value("dir", "./data/consensus-bench"));
var proposerCounts = options.Value("proposers", "1,8,32").Split(',').Select(int.Parse).ToArray();
var seconds = options.Int("seconds", 10);
var rounds = options.Int("rounds", 3);
var bytes = options.Int("bytes", 64);
var warmup = options.Int("warmup", 20);
var basePort = options.Int("base-port", 9700);
var disk = options.Value("disk", "");
var output = options.Value("out", "");
if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);

var ids = new[] { "node1", "node2", "node3" };
var members = string.Join(',', ids.Select((id, i) => $"{id}=127.0.0.1:{basePort + 1 + i}"));
var nodes = ids.Select(id => NodeProcess.Start(id, members, Path.Combine(directory, id), bytes)).ToList();
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
var results = new List<RunResult>();
try
{
    foreach (var node in nodes) await node.WaitReadyAsync(TimeSpan.FromSeconds(30));
    var leader = await FindLeaderAsync(nodes, stop.Token);
    // Unmeasured: the nodes compile their hot paths in the first seconds.
    Console.Error.WriteLine($"leader {leader.Id}; warming up ({warmup} s of 32 proposers, {Math.Min(warmup, 5)} s of one)");
    await leader.RunAsync(32, warmup);
    await leader.RunAsync(1, Math.Min(warmup, 5));
    for (var round = 1; round <= rounds && !stop.IsCancellationRequested; round++)
    {
        foreach (var proposers in proposerCounts)
        {
            var before = Counters.Take(nodes, disk);
            var reply = await leader.RunAsync(proposers, seconds);
            var used = Counters.Take(nodes, disk).Since(before);
            var result = RunResult.From(round, proposers, seconds, reply, used, disk.Length > 0);
            results.Add(result);
            var line = JsonSerializer.Serialize(result);
            Console.WriteLine(line);
            if (output.Length > 0) await File.AppendAllTextAsync(output, line + Environment.NewLine);
        }
    }

    Console.WriteLine();
    Console.WriteLine("| proposers | commits/s | p50 ms | p99 ms | servers' CPU ms per commit | flushes per commit |");
    Console.WriteLine("|---|---|---|---|---|---|");
    foreach (var group in results.GroupBy(r => r.Proposers))
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {group.Key} | {Median(group, r => r.CommitsPerSecond):F0} | {Median(group, r => r.P50Ms):F2} | {Median(group, r => r.P99Ms):F2} | {Median(group, r => r.ServerCpuMsPerCommit):F4} | {(disk.Length > 0 ? Median(group, r => r.FlushesPerCommit ?? 0).ToString("F2", CultureInfo.InvariantCulture) : "-")} |"));
    }

    return results.Any(r => r.Errors > 0) ? 1 : 0;
}
finally
{
    foreach (var node in nodes) await node.StopAsync(TimeSpan.FromSeconds(10));
    if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
}

static double Median(IEnumerable<RunResult> runs, Func<RunResult, double> value)
{
    var sorted = runs.Select(value).Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
}

// The node that accepts a short run is the leader; an election takes a second or two after the start.
static async Task<NodeProcess> FindLeaderAsync(IReadOnlyList<NodeProcess> nodes, CancellationToken ct)
{
    for (var attempt = 0; attempt < 100; attempt++)
    {
        foreach (var node in nodes)
        {
            if (await node.TryRunAsync(1, 1) is not null) return node;
        }

        await Task.Delay(200, ct);
    }

    throw new TimeoutException("no node became the leader within 20 s");
}
