using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using RaftDlm.TestSupport;

namespace RaftDlm.Cli.Tests;

/// <summary>
/// The procedures of docs/operations.md ("Add a node", "Remove a node") as written: <c>scripts/local-cluster.sh
/// start</c>, <c>add node4</c>, <c>remove</c> of the leader, <c>add node5</c>, with <c>dlmctl member list</c> between
/// them, then <c>stop</c> and <c>start</c> of the current members, and "Replace a dead node" for a killed leader. On free ports (<c>RAFTDLM_BASE_PORT</c>) and in a
/// temporary folder (<c>RAFTDLM_DATA</c>); every server the script started is stopped by its pid.
/// </summary>
public sealed class LocalClusterScriptTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(240);
    private readonly string _data = Path.Combine(Path.GetTempPath(), "raftdlm-tests", "script-" + Guid.NewGuid().ToString("N"));
    private readonly int _base = FreeBase();
    private readonly HashSet<int> _pids = [];
    private int _runs;

    [Fact]
    public async Task Add_remove_the_leader_add_again_and_restart_the_current_members()
    {
        Assert.Contains("node3 started", await ScriptOkAsync("start"));
        var added = await ScriptOkAsync("add", "node4");
        Assert.Contains("node4 is a voter", added);
        await ListedAsync(Url("node1"), ["node1", "node2", "node3", "node4"]);

        var leader = await LeaderAsync(Url("node2"));
        Says($"{leader} removed from the cluster", await ScriptOkAsync("remove", leader));
        var rest = new[] { "node1", "node2", "node3", "node4" }.Where(id => id != leader).ToList();
        Assert.False(File.Exists(Path.Combine(_data, leader + ".pid")));
        Assert.Contains("node5 is a voter", await ScriptOkAsync("add", "node5"));
        string[] expected = [.. rest, "node5"];
        var members = await ListedAsync(Url(rest[0]), expected);
        Assert.All(members, member => Assert.Equal("voter", member["role"]!.GetValue<string>()));
        Assert.Equal(expected, (await File.ReadAllLinesAsync(Path.Combine(_data, "nodes"))).Where(line => line.Length > 0));

        // A stop and a start act on the current members; the removed node is not started again.
        Assert.DoesNotContain(leader, await ScriptOkAsync("stop"));
        var started = await ScriptOkAsync("start");
        Assert.All(expected, id => Assert.Contains($"{id} started", started));
        Assert.DoesNotContain($"{leader} started", started);
        var (exit, text) = await ScriptAsync("start", leader);
        Assert.Equal(1, exit);
        Assert.Contains($"use add {leader}", text);
        await LeaderAsync(Url(rest[0]));
        await ListedAsync(Url("node5"), expected);

        // Replace a dead node, the leader: killed, removed at once (the script waits for its successor), replaced.
        var dead = await LeaderAsync(Url(rest[0]));
        Process.GetProcessById(int.Parse(await File.ReadAllTextAsync(Path.Combine(_data, dead + ".pid")), System.Globalization.CultureInfo.InvariantCulture)).Kill();
        Says($"{dead} removed from the cluster", await ScriptOkAsync("remove", dead));
        Assert.Contains("node6 is a voter", await ScriptOkAsync("add", "node6"));
        string[] replaced = [.. expected.Where(id => id != dead), "node6"];
        await ListedAsync(Url("node6"), replaced);

        // A current member (node5 may have been the dead leader replaced above).
        (exit, text) = await ScriptAsync("add", replaced[0]);
        Assert.Equal(1, exit);
        Assert.Contains("member already", text);
        (exit, _) = await ScriptAsync("add", "bogus");
        Assert.Equal(2, exit);
    }

    public void Dispose()
    {
        try
        {
            using var stop = Run(["stop"]);
            stop.WaitForExitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult();
        }
        finally
        {
            // Whatever is left of the servers the script started (their command line names this test's folder).
            Remember();
            foreach (var pid in _pids)
            {
                try
                {
                    if (File.ReadAllText($"/proc/{pid}/cmdline").Contains(_data, StringComparison.Ordinal)) Process.GetProcessById(pid).Kill();
                }
                catch (Exception error) when (error is IOException or ArgumentException or InvalidOperationException or UnauthorizedAccessException)
                {
                    // Gone already.
                }
            }
            try { Directory.Delete(_data, recursive: true); }
            catch (IOException) { }
        }
    }

    private string Url(string id) => $"http://127.0.0.1:{_base + (10 * int.Parse(id[4..], System.Globalization.CultureInfo.InvariantCulture))}";

    private static void Says(string expected, string output) => Assert.True(output.Contains(expected, StringComparison.Ordinal), $"expected '{expected}' in:\n{output}");

    private static string Id(JsonNode member) => member["id"]!.GetValue<string>();

    private ChildProcess Run(string[] args)
    {
        Directory.CreateDirectory(_data);
        var log = Path.Combine(_data, $"run-{Interlocked.Increment(ref _runs)}.log");
        var environment = new Dictionary<string, string>
        {
            ["RAFTDLM_BASE_PORT"] = _base.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RAFTDLM_DATA"] = _data,
            ["RAFTDLM_JOIN_TIMEOUT_MS"] = "120000",
        };
        // ChildProcess runs `<wrapper> dotnet <dll> <args>`; this wrapper drops "dotnet" and runs the script with bash.
        return ChildProcess.Start(Path.Combine(BuildOutput.RepositoryRoot, "scripts", "local-cluster.sh"), args, log,
            new ChildProcessOptions { Wrapper = ["sh", "-c", "shift; exec bash \"$@\"", "sh"], Environment = environment });
    }

    private async Task<(int Exit, string Output)> ScriptAsync(params string[] args)
    {
        using var process = Run(args);
        var ended = await process.WaitForExitAsync(Bound);
        Remember();
        Assert.True(ended, $"local-cluster.sh {string.Join(' ', args)} did not end:\n{process.Log()}");
        return (process.ExitCode, process.Log());
    }

    private async Task<string> ScriptOkAsync(params string[] args)
    {
        var (exit, text) = await ScriptAsync(args);
        Assert.True(exit == 0, $"local-cluster.sh {string.Join(' ', args)} exited {exit}:\n{text}");
        return text;
    }

    /// <summary>dlmctl member list --json through one node, once it answers.</summary>
    private async Task<List<JsonNode>> MembersAsync(string url)
    {
        var log = Path.Combine(_data, $"dlmctl-{Interlocked.Increment(ref _runs)}.log");
        using var process = ChildProcess.Start(BuildOutput.Find("src/Cli", "dlmctl.dll"), ["--endpoints", url, "member", "list", "--json"], log);
        Assert.True(await process.WaitForExitAsync(Bound), process.Log());
        var text = process.Log();
        Assert.True(process.ExitCode == 0, text);
        return JsonNode.Parse(text[text.IndexOf('{', StringComparison.Ordinal)..(text.LastIndexOf('}') + 1)])!["members"]!.AsArray().Select(member => member!).ToList();
    }

    /// <summary>
    /// The members once the node at <paramref name="url"/> lists exactly <paramref name="ids"/> (it answers from the
    /// membership it has applied, which may lag a change made through another node by a moment).
    /// </summary>
    private async Task<List<JsonNode>> ListedAsync(string url, string[] ids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<JsonNode> members;
        do
        {
            members = await MembersAsync(url);
            if (members.Select(Id).SequenceEqual(ids)) return members;
            await Task.Delay(300);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(ids, members.Select(Id));
        return members;
    }

    private async Task<string> LeaderAsync(string url)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            var leader = (await MembersAsync(url)).FirstOrDefault(member => member["status"]!.GetValue<string>() == "leader");
            if (leader is not null) return Id(leader);
            await Task.Delay(500);
        }
        throw new TimeoutException("no leader listed by " + url);
    }

    // The pids the script wrote, so that Dispose can stop what a failed step left running.
    private void Remember()
    {
        if (!Directory.Exists(_data)) return;
        foreach (var file in Directory.GetFiles(_data, "node*.pid"))
        {
            try
            {
                if (int.TryParse(File.ReadAllText(file).Trim(), out var pid)) _pids.Add(pid);
            }
            catch (IOException)
            {
                // Removed meanwhile.
            }
        }
    }

    /// <summary>A base port whose node1..node6 HTTP and Raft ports (base+10n, base+10n+1) are free now.</summary>
    private static int FreeBase()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var candidate = Random.Shared.Next(2_000, 5_500) * 10;
            if (Enumerable.Range(1, 6).SelectMany(n => new[] { candidate + (10 * n), candidate + (10 * n) + 1 }).All(Free)) return candidate;
        }
        throw new InvalidOperationException("no free port range found");
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
