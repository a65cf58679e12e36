using System.Net.Http.Json;
using System.Text.Json.Nodes;
using RaftDlm.Testing;
using RaftDlm.TestSupport;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaftDlm.Cli.Tests;

/// <summary>One real node for the dlmctl tests.</summary>
public sealed class NodeFixture : IAsyncLifetime
{
    public ServerCluster Cluster { get; private set; } = null!;
    public string Url => Cluster.HttpUrl(Cluster.Ids[0]);
    public HttpClient Api => Cluster.Client(Cluster.Ids[0]);

    public async Task InitializeAsync() => Cluster = await ServerCluster.StartAsync(1);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>
/// Every dlmctl command run as a process against a real node, with its output (JSON parsed where --json) and
/// its exit code, and the errors a user meets.
/// </summary>
public sealed class DlmctlTests(NodeFixture node) : IClassFixture<NodeFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Status_and_lockspaces()
    {
        var (exit, text) = await RunAsync("status");
        Assert.Equal(0, exit);
        Assert.Contains("node1", text);
        var status = Json(await RunOkAsync("status", "--json")).AsArray();
        Assert.Equal("node1", status[0]!["view"]!["nodeId"]!.GetValue<string>());

        Assert.Contains("created", await RunOkAsync("lockspaces", "create", "cli-a", "--lvb-bytes", "8"));
        var spaces = Json(await RunOkAsync("lockspaces", "--json"))["lockspaces"]!.AsArray();
        Assert.Contains(spaces, item => item!["name"]!.GetValue<string>() == "cli-a");
        Assert.Contains("deleted", await RunOkAsync("lockspaces", "delete", "cli-a"));
        Assert.DoesNotContain("cli-a", await RunOkAsync("lockspaces"));
    }

    [Fact]
    public async Task Session_open_show_close_and_sessions_list()
    {
        await RunOkAsync("lockspaces", "create", "cli-s", "--lvb-bytes", "8");
        using var open = Start("session", "open", "--name", "cli-open", "--ttl-ms", "30000");
        var sessionId = await SessionIdAsync(open);
        var locked = await LockAsync("cli-s", sessionId, "r", "EX");

        var shown = Json(await RunOkAsync("session", "show", sessionId, "--json"));
        Assert.Equal("cli-open", shown["name"]!.GetValue<string>());
        Assert.Equal(locked, shown["locks"]![0]!["lockId"]!.GetValue<string>());
        var listed = Json(await RunOkAsync("sessions", "list", "--json"))["sessions"]!.AsArray();
        var row = Assert.Single(listed, item => item!["sessionId"]!.GetValue<string>() == sessionId);
        Assert.Equal(1, row!["locks"]!.GetValue<int>());
        Assert.Contains("cli-open", await RunOkAsync("sessions", "list"));

        Assert.Contains("closed", await RunOkAsync("session", "close", sessionId));
        // The process that kept the session alive learns it is gone, and says so with exit code 75.
        Assert.True(await open.WaitForExitAsync(Bound), open.Log());
        Assert.Equal(75, open.ExitCode);
        var (exit, text) = await RunAsync("session", "show", sessionId);
        Assert.Equal(1, exit);
        Assert.Contains("SessionExpired", text);
    }

    [Fact]
    public async Task Lock_runs_a_command_and_no_wait_timeout_and_convert_behave()
    {
        await RunOkAsync("lockspaces", "create", "cli-l", "--lvb-bytes", "8");
        var ran = await RunOkAsync("lock", "cli-l", "free", "--mode", "EX", "--", "sh", "-c", "echo token=$RAFTDLM_FENCING_TOKEN");
        Assert.Matches(@"token=\d+", ran);

        using var open = Start("session", "open", "--name", "holder", "--ttl-ms", "30000");
        var holder = await SessionIdAsync(open);
        var held = await LockAsync("cli-l", holder, "busy", "EX");

        var (exit, text) = await RunAsync("lock", "cli-l", "busy", "--no-wait", "--", "true");
        Assert.Equal(1, exit);
        Assert.Contains("WouldBlock", text);
        (exit, text) = await RunAsync("lock", "cli-l", "busy", "--timeout-ms", "500", "--", "true");
        Assert.Equal(1, exit);
        Assert.Contains("Timeout", text);

        // The holder's lock converted down by id, writing the LVB on the way.
        var converted = Json(await RunOkAsync("lock", "convert", "cli-l", held, "--mode", "NL", "--lvb", "2a00000000000000", "--json"));
        Assert.Equal("NL", converted["mode"]!.GetValue<string>());
        Assert.Equal("granted", converted["state"]!.GetValue<string>());
        Assert.Contains("u64 42", await RunOkAsync("lvb", "get", "cli-l", "busy"));
        (exit, text) = await RunAsync("lock", "convert", "cli-l", held, "--mode", "EX", "--lvb", "zz");
        Assert.NotEqual(0, exit);
        Assert.Contains("--lvb must be hex", text);
        await RunOkAsync("session", "close", holder);
    }

    [Fact]
    public async Task Lvb_set_and_get()
    {
        await RunOkAsync("lockspaces", "create", "cli-v", "--lvb-bytes", "8");
        using var open = Start("session", "open", "--name", "keeper", "--ttl-ms", "30000");
        var keeper = await SessionIdAsync(open);
        await LockAsync("cli-v", keeper, "v", "NL"); // an LVB lives while some lock exists
        await RunOkAsync("lvb", "set", "cli-v", "v", "7");
        Assert.Contains("u64 7", await RunOkAsync("lvb", "get", "cli-v", "v"));
        await RunOkAsync("session", "close", keeper);
    }

    [Fact]
    public async Task Resources_and_waitfor_show_who_holds_and_who_waits()
    {
        await RunOkAsync("lockspaces", "create", "cli-w", "--lvb-bytes", "8");
        using var openA = Start("session", "open", "--name", "a", "--ttl-ms", "30000");
        using var openB = Start("session", "open", "--name", "b", "--ttl-ms", "30000");
        var (a, b) = (await SessionIdAsync(openA), await SessionIdAsync(openB));
        var held = await LockAsync("cli-w", a, "vol-1", "PR");
        var waiting = await LockAsync("cli-w", b, "vol-1", "EX", waitMs: 0);
        await LockAsync("cli-w", a, "db-1", "EX");

        var resource = Json(await RunOkAsync("resources", "cli-w", "vol-1", "--json"));
        Assert.Equal(held, resource["granted"]![0]!["lockId"]!.GetValue<string>());
        Assert.Equal(waiting, resource["waiting"]![0]!["lockId"]!.GetValue<string>());
        var listed = Json(await RunOkAsync("resources", "list", "cli-w", "--prefix", "vol-", "--json"))["resources"]!.AsArray();
        var only = Assert.Single(listed);
        Assert.Equal(("vol-1", 1, 1), (only!["resource"]!.GetValue<string>(), only["granted"]!.GetValue<int>(), only["waiting"]!.GetValue<int>()));
        Assert.Contains("db-1", await RunOkAsync("resources", "list", "cli-w"));

        var edge = Assert.Single(Json(await RunOkAsync("waitfor", "cli-w", "--json"))["edges"]!.AsArray());
        Assert.Equal((b, a, "EX", "PR"), (edge!["waiterSessionId"]!.GetValue<string>(), edge["holderSessionId"]!.GetValue<string>(), edge["waiterMode"]!.GetValue<string>(), edge["holderMode"]!.GetValue<string>()));
        Assert.Contains("vol-1", await RunOkAsync("waitfor", "cli-w"));
        await RunOkAsync("session", "close", a);
        await RunOkAsync("session", "close", b);
    }

    [Fact]
    public async Task Orphans_list_adopt_and_purge()
    {
        await RunOkAsync("lockspaces", "create", "cli-o", "--lvb-bytes", "8");
        using var openDying = Start("session", "open", "--name", "dying", "--ttl-ms", "30000");
        using var openHeir = Start("session", "open", "--name", "heir", "--ttl-ms", "30000");
        var (dying, heir) = (await SessionIdAsync(openDying), await SessionIdAsync(openHeir));
        var kept = await LockAsync("cli-o", dying, "keep", "EX", persistent: true);
        var dropped = await LockAsync("cli-o", dying, "drop", "PW", persistent: true);
        await RunOkAsync("session", "close", dying);

        var orphans = Json(await RunOkAsync("orphans", "list", "cli-o", "--json"))["orphans"]!.AsArray();
        Assert.Equal(new[] { dropped, kept }.Order(), orphans.Select(item => item!["lockId"]!.GetValue<string>()).Order());
        Assert.Contains("keep", await RunOkAsync("orphans", "list", "cli-o"));

        var adopted = Json(await RunOkAsync("orphans", "adopt", "cli-o", "keep", "--mode", "EX", "--session", heir, "--json"));
        Assert.Equal((kept, heir), (adopted["lockId"]!.GetValue<string>(), adopted["sessionId"]!.GetValue<string>()));
        var (exit, text) = await RunAsync("orphans", "adopt", "cli-o", "drop", "--mode", "EX", "--session", heir);
        Assert.Equal(1, exit);
        Assert.Contains("NotFound", text);

        await RunOkAsync("orphans", "purge", "cli-o", "drop");
        Assert.Empty(Json(await RunOkAsync("orphans", "list", "cli-o", "--json"))["orphans"]!.AsArray());
        await RunOkAsync("session", "close", heir);
    }

    [Fact]
    public async Task Snapshot_save_writes_a_checked_backup_and_status_reads_it_offline()
    {
        await RunOkAsync("lockspaces", "create", "cli-s", "--lvb-bytes", "8");
        var opened = await node.Api.PostAsJsonAsync("/v1/sessions", new { name = "cli-s", ttlMs = 600_000 });
        var sessionId = (await opened.Content.ReadFromJsonAsync<JsonObject>())!["sessionId"]!.GetValue<string>();
        await LockAsync("cli-s", sessionId, "held", "EX");
        var file = Path.Combine(node.Cluster.Folder("dlmctl"), "backup.snapshot");

        var saved = await RunOkAsync("snapshot", "save", file);
        Assert.Contains("checksum    ok", saved);
        Assert.True(File.Exists(file));
        Assert.False(File.Exists(file + ".partial"));
        var info = Json(await RunOkAsync("snapshot", "status", file, "--json"))["info"]!;
        Assert.True(info["checksumOk"]!.GetValue<bool>());
        Assert.Equal(1, info["version"]!.GetValue<int>());
        Assert.True(info["index"]!.GetValue<long>() > 0);
        Assert.True(info["lockspaces"]!.GetValue<int>() >= 1);
        Assert.True(info["locks"]!.GetValue<int>() >= 1);
        Assert.True(info["sessions"]!.GetValue<int>() >= 1);
        Assert.True(info["maxFencingToken"]!.GetValue<long>() is var token && token > 0 && token <= info["index"]!.GetValue<long>());
        Assert.Equal(new FileInfo(file).Length, info["sizeBytes"]!.GetValue<long>());

        // A flipped byte: the header still reads, the checksum does not hold.
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[^40] ^= 0x5a;
        var corrupt = file + ".corrupt";
        await File.WriteAllBytesAsync(corrupt, bytes);
        var (exit, text) = await RunAsync("snapshot", "status", corrupt);
        Assert.Equal(1, exit);
        Assert.Contains("MISMATCH", text);
        Assert.Contains("the checksum does not match", text);

        var truncated = file + ".truncated";
        await File.WriteAllBytesAsync(truncated, bytes[..^100]);
        (exit, text) = await RunAsync("snapshot", "status", truncated);
        Assert.Equal(1, exit);
        Assert.Contains("truncated", text);

        (exit, text) = await RunAsync("snapshot", "status", "/nonexistent/backup.snapshot");
        Assert.Equal(1, exit);
        Assert.Contains("/nonexistent/backup.snapshot", text);
        (await node.Api.DeleteAsync($"/v1/sessions/{sessionId}")).EnsureSuccessStatusCode();
    }

    [Fact]
    public async Task Bad_input_gets_a_clear_message_and_a_failing_exit_code()
    {
        var (exit, text) = await RunAsync("lockspaces", "create", "bad name");
        Assert.Equal(1, exit);
        Assert.Contains("InvalidRequest", text);
        (exit, text) = await RunAsync("--cacert", "/nonexistent/ca.pem", "status");
        Assert.NotEqual(0, exit);
        Assert.Contains("/nonexistent/ca.pem", text);
        (exit, text) = await RunAsync("lock", "cli-none", "r", "--mode", "XX", "--", "true");
        Assert.Equal(1, exit);
        Assert.Contains("XX", text);
        (exit, text) = await RunAsync("lock", "cli-none", "r", "--ttl-ms", "2000", "--kill-grace-ms", "1000", "--", "true");
        Assert.Equal(1, exit);
        Assert.Contains("--kill-grace-ms must be", text);
        (exit, _) = await RunAsync("no-such-command");
        Assert.NotEqual(0, exit);
    }

    private Dlmctl Cli => new(node.Cluster.Folder("dlmctl"), node.Url, Bound);

    private ChildProcess Start(params string[] args) => Cli.Start(args);

    private Task<(int Exit, string Output)> RunAsync(params string[] args) => Cli.RunAsync(args);

    private Task<string> RunOkAsync(params string[] args) => Cli.RunOkAsync(args);

    // The JSON a command printed (the log also holds its start line and anything on stderr).
    private static JsonNode Json(string text)
    {
        var start = text.IndexOfAny(['{', '[']);
        var end = text.LastIndexOfAny(['}', ']']);
        return JsonNode.Parse(text[start..(end + 1)])!;
    }

    private static async Task<string> SessionIdAsync(ChildProcess open)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline)
        {
            var line = open.Log().Split('\n').FirstOrDefault(item => item.StartsWith("session ", StringComparison.Ordinal) && !item.Contains("->", StringComparison.Ordinal));
            if (line is not null) return line["session ".Length..].Trim();
            await Task.Delay(50);
        }
        throw new TimeoutException("dlmctl session open printed no session id:\n" + open.Log());
    }

    private async Task<string> LockAsync(string lockspace, string sessionId, string resource, string mode, int? waitMs = null, bool persistent = false)
    {
        var reply = await node.Api.PostAsJsonAsync($"/v1/lockspaces/{lockspace}/locks",
            new { sessionId, resource, mode, waitMs, flags = persistent ? new[] { "persistent" } : null });
        var body = await reply.Content.ReadFromJsonAsync<JsonObject>();
        Assert.True(reply.IsSuccessStatusCode, $"{reply.StatusCode}: {body}");
        return body!["lockId"]!.GetValue<string>();
    }
}
