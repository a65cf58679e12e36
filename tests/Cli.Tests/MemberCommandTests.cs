using System.Text.Json.Nodes;
using RaftDlm.Testing;
using RaftDlm.TestSupport;

namespace RaftDlm.Cli.Tests;

/// <summary>Three real nodes, for the commands that change nothing.</summary>
public sealed class MembersFixture : IAsyncLifetime
{
    public ServerCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await ServerCluster.StartAsync(3);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// <c>dlmctl member list|add|remove</c> run as processes against a real 3-node cluster: the table and the JSON,
/// a node added by hand becoming a voter, the leader removed, and the refusals with their codes and exit code.
/// </summary>
public sealed class MemberCommandTests(MembersFixture fixture) : IClassFixture<MembersFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(120);

    private ServerCluster Cluster => _own ?? fixture.Cluster;

    private ServerCluster? _own;

    [Fact]
    public async Task A_node_added_by_hand_becomes_a_voter_and_the_leader_can_be_removed()
    {
        // A cluster of its own: it ends with one node removed.
        await using var own = await ServerCluster.StartAsync(3);
        _own = own;
        var table = await RunOkAsync("member", "list");
        Assert.StartsWith("ID", table.Split('\n').First(line => line.StartsWith("ID", StringComparison.Ordinal)));
        Assert.Contains("RAFT ENDPOINT", table);
        var before = Members(await RunOkAsync("member", "list", "--json"));
        Assert.Equal(3, before.Count);
        Assert.All(before, member => Assert.Equal("voter", member["role"]!.GetValue<string>()));
        var node1 = before.Single(member => member["id"]!.GetValue<string>() == "node1");
        Assert.Equal((Cluster.Member("node1").RaftEndpoint, Cluster.HttpUrl("node1")), (node1["raftEndpoint"]!.GetValue<string>(), node1["httpUrl"]!.GetValue<string>()));

        using var waiting = WaitingNode.Start(Cluster, "node4");
        var added = Json(await RunOkAsync("member", "add", "node4", waiting.Member.RaftEndpoint, waiting.Member.HttpUrl, "--timeout-ms", "90000", "--json"));
        Assert.Equal(("node4", "voter"), (added["id"]!.GetValue<string>(), added["role"]!.GetValue<string>()));
        // A node answers from the membership it has applied: a follower may list the change a moment later.
        var four = await EventuallyAsync(async () =>
        {
            var list = Members(await RunOkAsync("member", "list", "--json"));
            return list.Count == 4 ? list : null;
        });
        Assert.Equal(["node1", "node2", "node3", "node4"], four.Select(member => member["id"]!.GetValue<string>()));
        Assert.All(four, member => Assert.Equal("voter", member["role"]!.GetValue<string>()));
        var row = await EventuallyAsync(async () => (await RunOkAsync("member", "list")).Split('\n').FirstOrDefault(line => line.StartsWith("node4", StringComparison.Ordinal)));
        Assert.Contains(waiting.Member.HttpUrl, row);
        Assert.Contains("voter", row);

        // The leader removed through dlmctl: it hands over, and the other three go on with a new leader.
        var leader = await Cluster.WaitForLeaderAsync();
        var removed = await RunOkAsync("member", "remove", leader);
        Assert.Contains("removed", removed);
        var others = new[] { "node1", "node2", "node3", "node4" }.Where(id => id != leader).ToList();
        var endpoints = string.Join(',', others.Select(id => id == "node4" ? waiting.Member.HttpUrl : Cluster.HttpUrl(id)));
        var after = await EventuallyAsync(async () =>
        {
            var list = Members(await RunOkAsync(["--endpoints", endpoints, "member", "list", "--json"]));
            return list.Count == 3 && list.Any(member => member["status"]!.GetValue<string>() == "leader") ? list : null;
        });
        Assert.Equal(others, after.Select(member => member["id"]!.GetValue<string>()));
        Assert.DoesNotContain(after, member => member["id"]!.GetValue<string>() == leader);
    }

    [Fact]
    public async Task Refusals_print_the_code_and_detail_and_exit_non_zero()
    {
        var (exit, text) = await RunAsync("member", "remove", "node-none");
        Assert.Equal(1, exit);
        Assert.Contains("NotFound", text);
        Assert.Contains("node-none", text);

        var taken = Members(await RunOkAsync("member", "list", "--json"))[0]!;
        (exit, text) = await RunAsync("member", "add", taken["id"]!.GetValue<string>(), "127.0.0.1:1", "http://127.0.0.1:2");
        Assert.Equal(1, exit);
        Assert.Contains("Conflict", text);

        // Nothing listens there: it cannot catch up, and is not added.
        var ports = LocalPorts.Free(2);
        (exit, text) = await RunAsync("member", "add", "node9", $"127.0.0.1:{ports[0]}", $"http://127.0.0.1:{ports[1]}", "--timeout-ms", "1500");
        Assert.Equal(1, exit);
        Assert.Contains("Timeout", text);
        Assert.Contains("not added", text);
        Assert.DoesNotContain("node9", await RunOkAsync("member", "list"));

        (exit, text) = await RunAsync("member", "add", "bad id", "127.0.0.1:1", "http://127.0.0.1:2");
        Assert.Equal(1, exit);
        Assert.Contains("InvalidRequest", text);
        (exit, text) = await RunAsync("member", "add", "node9", "no-port", "http://127.0.0.1:2");
        Assert.Equal(1, exit);
        Assert.Contains("InvalidRequest", text);
        (exit, text) = await RunAsync("member", "add", "node9", "127.0.0.1:1", "http://127.0.0.1:2", "--timeout-ms", "0");
        Assert.NotEqual(0, exit);
        Assert.Contains("--timeout-ms must be between", text);
        (exit, _) = await RunAsync("member", "add", "node9");
        Assert.NotEqual(0, exit);
    }

    private string Endpoints => string.Join(',', Cluster.Ids.Select(Cluster.HttpUrl));

    private Dlmctl Cli => new(Cluster.Folder("dlmctl"), Endpoints, Bound);

    private Task<(int Exit, string Output)> RunAsync(params string[] args) => Cli.RunAsync(args);

    private Task<string> RunOkAsync(params string[] args) => Cli.RunOkAsync(args);

    private static async Task<T> EventuallyAsync<T>(Func<Task<T?>> probe)
        where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found) return found;
            await Task.Delay(200);
        }
        return await probe() ?? throw new TimeoutException("the condition did not hold within 30 s");
    }

    private static List<JsonNode> Members(string text) => Json(text)["members"]!.AsArray().Select(member => member!).ToList();

    // The JSON a command printed (the log also holds its start line and anything on stderr).
    private static JsonNode Json(string text)
    {
        var start = text.IndexOfAny(['{', '[']);
        var end = text.LastIndexOfAny(['}', ']']);
        return JsonNode.Parse(text[start..(end + 1)])!;
    }
}
