using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using RaftDlm.Consensus;
using RaftDlm.Consensus.TestNode;

// A one-node host for process-level tests. Arguments are key=value:
//   id=node1 members=node1@127.0.0.1:7001,node2@127.0.0.1:7002 data=/tmp/x
//   [snapshotEvery=N] [electionMinMs=N] [electionMaxMs=N] [requestTimeoutMs=N] [proposalTimeoutMs=N] [logLevel=Warning]
//   [slowRestoreOnceMs=N]   (the first snapshot install after start takes N ms longer)
//   [slowRestoreMs=N]       (every snapshot install after start takes N ms longer)
//   [logEngine=DotNext|Segmented]
//   [refusePrefix=text]     (the machine refuses commands starting with text, as an older build would)
// Then one request per stdin line, one reply per stdout line ("OK ..." or "ERR <kind> ..."):
//   propose <text> | flood <count> <prefix> | has <text> | status | barrier | ready <timeoutMs> | quit
// (flood proposes <prefix>-0 … <prefix>-<count-1> all at once and counts the outcomes)
var settings = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
foreach (var pair in args.Select(a => a.Split('=', 2)))
{
    settings[pair[0]] = pair.Length > 1 ? pair[1] : ""; // a later argument overrides an earlier one
}
string Setting(string key, string? fallback = null)
    => settings.TryGetValue(key, out var value) ? value : fallback ?? throw new ArgumentException($"missing argument {key}=");
int IntSetting(string key, int fallback) => int.Parse(Setting(key, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);

var members = Setting("members").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(spec =>
{
    var parts = spec.Split('@', 2);
    return new RaftMember(parts[0], parts[1], $"http://{parts[1]}");
}).ToList();
var nodeId = Setting("id");
var options = new RaftNodeOptions
{
    NodeId = nodeId,
    Members = members,
    DataDirectory = Setting("data"),
    SnapshotEveryEntries = IntSetting("snapshotEvery", 100_000),
    ElectionTimeoutMinMs = IntSetting("electionMinMs", 1000),
    ElectionTimeoutMaxMs = IntSetting("electionMaxMs", 2000),
    RequestTimeoutMs = settings.ContainsKey("requestTimeoutMs") ? IntSetting("requestTimeoutMs", 0) : null,
    ProposalTimeoutMs = IntSetting("proposalTimeoutMs", 5000),
    LogEngine = Enum.Parse<LogEngine>(Setting("logEngine", RaftNodeOptions.DefaultLogEngine.ToString()), ignoreCase: true),
};

var machine = new CountingStateMachine { RefusedPrefix = settings.GetValueOrDefault("refusePrefix") };
using var loggerFactory = new StderrLoggerFactory(nodeId, Enum.Parse<LogLevel>(Setting("logLevel", "Warning")));
await using var node = new RaftNode(options, machine, loggerFactory);
await node.StartAsync(CancellationToken.None);
machine.SlowNextRestoreMs = IntSetting("slowRestoreOnceMs", 0);
machine.SlowRestoresMs = IntSetting("slowRestoreMs", 0);

var stdout = Console.Out;
stdout.WriteLine("READY");
stdout.Flush();

while (Console.ReadLine() is { } line)
{
    var space = line.IndexOf(' ', StringComparison.Ordinal);
    var verb = space < 0 ? line : line[..space];
    var argument = space < 0 ? "" : line[(space + 1)..];
    string reply;
    try
    {
        reply = verb switch
        {
            "propose" => "OK " + await node.ProposeAsync(Encoding.UTF8.GetBytes(argument), CancellationToken.None),
            "flood" => await Flood(node, argument),
            "has" => "OK " + (machine.Contains(argument) ? "true" : "false"),
            "status" => $"OK isLeader={(node.IsLeader ? "true" : "false")} leader={node.Leader?.Id ?? "-"} term={node.Term} commit={node.CommitIndex} applied={node.LastAppliedLogIndex} snapshot={node.LastSnapshotIndex} {machine.Status()}",
            "barrier" => await Barrier(node),
            "ready" => await Ready(node, int.Parse(argument, CultureInfo.InvariantCulture)),
            "quit" => "OK bye",
            _ => "ERR BadRequest unknown verb " + verb,
        };
    }
    catch (RaftDlm.Consensus.NotLeaderException e)
    {
        reply = $"ERR NotLeader leader={e.Leader?.Id ?? "-"}";
    }
    catch (OutcomeUnknownException e)
    {
        reply = "ERR Unknown " + OneLine(e.Message);
    }
    catch (Exception e)
    {
        reply = $"ERR {e.GetType().Name} {OneLine(e.Message)}";
    }

    stdout.WriteLine(reply);
    stdout.Flush();
    if (verb == "quit")
    {
        break;
    }
}

await node.StopAsync(CancellationToken.None);
return 0;

static async Task<string> Barrier(RaftNode node)
{
    await node.ReadBarrierAsync(CancellationToken.None);
    return "OK barrier";
}

static async Task<string> Ready(RaftNode node, int timeoutMs)
{
    using var timeout = new CancellationTokenSource(timeoutMs);
    await node.WaitForLeaderReadyAsync(timeout.Token);
    return "OK ready";
}

static async Task<string> Flood(RaftNode node, string argument)
{
    var parts = argument.Split(' ', 2);
    var proposals = Enumerable.Range(0, int.Parse(parts[0], CultureInfo.InvariantCulture)).Select(async i =>
    {
        try
        {
            await node.ProposeAsync(Encoding.UTF8.GetBytes($"{parts[1]}-{i}"), CancellationToken.None);
            return "ok";
        }
        catch (RaftDlm.Consensus.NotLeaderException)
        {
            return "notLeader";
        }
        catch (OutcomeUnknownException)
        {
            return "unknown";
        }
    }).ToList();
    var outcomes = await Task.WhenAll(proposals);
    return "OK " + string.Join(' ', outcomes.CountBy(o => o).OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key}={p.Value}"));
}

static string OneLine(string text) => text.ReplaceLineEndings(" ");
