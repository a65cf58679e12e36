using RaftDlm.Client;
using RaftDlm.Samples.ClusterizedExceptionStore;

// dotnet run --project samples/ClusterizedExceptionStore -- <node-name> <store-dir> [commits] [endpoints]
// Start several at once against the same store directory (scripts/local-cluster.sh start first).
var name = args.Length > 0 ? args[0] : "node-" + Environment.ProcessId;
var storeDirectory = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "raftdlm-exception-store");
var commits = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20;
var endpoints = (args.Length > 3 ? args[3] : Environment.GetEnvironmentVariable("RAFTDLM_ENDPOINTS") ?? "http://127.0.0.1:7710,http://127.0.0.1:7720,http://127.0.0.1:7730")
    .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(5));
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
await using var client = new DlmClient(new DlmClientOptions { Endpoints = endpoints, Name = name });
await client.CreateLockspaceAsync("exception-store", lvbBytes: 8, ct: stop.Token);
await using var session = await client.OpenSessionAsync(name, TimeSpan.FromSeconds(5), stop.Token);
session.StateChanged += (_, change) => Console.WriteLine($"[{name}] session {change.Previous} -> {change.Current}");
var node = new ExceptionStoreNode(name, session, "exception-store", new SharedStore(storeDirectory));
for (var i = 0; i < commits && !stop.IsCancellationRequested; i++)
{
    var key = $"{name}/chunk-{i}";
    var seq = await node.CommitAsync(key, $"block {Random.Shared.Next(1_000_000)}", stop.Token);
    Console.WriteLine($"[{name}] committed {key} as #{seq}");
    var probe = $"node-{Random.Shared.Next(3)}/chunk-{Random.Shared.Next(Math.Max(1, i))}";
    var found = await node.LookupAsync(probe, stop.Token);
    Console.WriteLine($"[{name}] lookup {probe}: {(found is null ? "miss" : "hit")} (rescans so far {node.Rescans})");
}
var counters = node.ObservedCounters;
var monotonic = counters.Zip(counters.Skip(1)).All(pair => pair.First <= pair.Second);
Console.WriteLine($"[{name}] done: {counters.Count} counter reads, monotonic: {monotonic}, rescans: {node.Rescans}");
await node.DisposeAsync();
return monotonic ? 0 : 1;
