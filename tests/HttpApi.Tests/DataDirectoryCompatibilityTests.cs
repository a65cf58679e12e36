using System.Net;
using System.Text.Json.Nodes;
using RaftDlm.Testing;
using RaftDlm.TestSupport;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The upgrade promise of docs/formats.md: the current server opens a data directory written by an earlier
/// version (checked in under Fixtures, made by <c>Fixtures/make-datadir-v1.sh</c>) and serves exactly what that
/// version recorded, then accepts new writes: one data directory on each log a version-1 server could write.
/// Every later version keeps this test and adds one per fixture it adds when a format changes.
/// </summary>
public sealed class DataDirectoryCompatibilityTests
{
    private static readonly TimeSpan ReadyWait = TimeSpan.FromSeconds(60);

    /// <param name="fixture">"v1": DotNext's WAL (<c>wal/</c>); "log-v1": the segmented log (<c>log/</c>), which a new data directory gets.</param>
    [Theory]
    [InlineData("v1")]
    [InlineData("log-v1")]
    public async Task A_version_1_data_directory_opens_with_every_lock_lvb_and_token_as_recorded_and_takes_new_writes(string fixture)
    {
        var fixtures = Path.Combine(BuildOutput.RepositoryRoot, "tests", "HttpApi.Tests", "Fixtures");
        var expected = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(fixtures, $"expected-{fixture}.json")))!;
        var root = Path.Combine(Path.GetTempPath(), "raftdlm-tests", Guid.NewGuid().ToString("N"));
        var data = Path.Combine(root, "node1");
        CopyFolder(Path.Combine(fixtures, $"datadir-{fixture}"), data);
        var ports = LocalPorts.Free(2);
        var self = new ServerMember("node1", "127.0.0.1", ports[0], ports[1]);
        // The WAL's chunk size is part of its layout (docs/formats.md): the node runs with the fixture's, which
        // is also the segment size of a segmented-log fixture.
        string[] settings = ["--ChunkSizeBytes", expected["server"]!["chunkSizeBytes"]!.ToString(), "--SnapshotEveryEntries", "1000"];
        using var node = ServerNode.Start(self, [self], data, Path.Combine(root, "node1.log"), settings);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(self.HttpUrl), Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            await WaitReadyAsync(client, node);
            var cluster = (await Get(client, "/v1/cluster")).Body!;
            Assert.True(Long(cluster, "appliedIndex") >= Long(expected, "appliedIndex"), $"the node did not replay the log's tail: {cluster.ToJsonString()}\n{node.Output()}");
            Assert.True(Long(cluster, "snapshotIndex") == Long(expected, "snapshotIndex"), $"the node did not keep the fixture's snapshot: {cluster.ToJsonString()}");

            await AssertAsRecordedAsync(client, expected);
            await AssertTakesNewWritesAsync(client, expected);
        }
        finally
        {
            node.Stop();
            try { Directory.Delete(root, recursive: true); }
            catch (IOException) { }
        }
    }

    private static async Task AssertAsRecordedAsync(HttpClient client, JsonNode expected)
    {
        AssertSame(expected["lockspaces"], (await Get(client, "/v1/lockspaces")).Body!["lockspaces"], "the lockspaces");
        foreach (var recorded in expected["locks"]!.AsArray())
        {
            var reply = await Get(client, $"/v1/lockspaces/{Str(recorded, "lockspace")}/locks/{Str(recorded, "lockId")}");
            AssertStatus(reply, HttpStatusCode.OK);
            // Every field: state, modes, fencing token, LVB, lvbSeq, lvbValid, parent, persistent, owner.
            AssertSame(recorded, reply.Body, "lock " + Str(recorded, "lockId"));
        }
        foreach (var recorded in expected["resources"]!.AsArray())
        {
            var view = recorded!.DeepClone().AsObject();
            var lockspace = Str(view, "lockspace");
            view.Remove("lockspace");
            var reply = await Get(client, $"/v1/lockspaces/{lockspace}/resources/{Str(view, "resource")}");
            AssertStatus(reply, HttpStatusCode.OK);
            AssertSame(view, reply.Body, $"resource {lockspace}/{Str(view, "resource")} (queues, their order, LVB, lvbSeq, lvbValid)");
        }
        var sessions = (await Get(client, "/v1/sessions?limit=1000")).Body!["sessions"]!.AsArray();
        foreach (var session in sessions) session!.AsObject().Remove("ttlLeftMs");
        AssertSame(expected["sessions"], sessions, "the sessions (a new leader gives each its TTL again)");
    }

    private static async Task AssertTakesNewWritesAsync(HttpClient client, JsonNode expected)
    {
        var newest = expected["locks"]!.AsArray().Max(item => item!["fencingToken"]?.GetValue<long>() ?? 0);
        var writer = Str(expected["sessions"]!.AsArray().Single(s => Str(s, "name") == "writer"), "sessionId");
        var held = await Post(client, "/v1/lockspaces/alpha/locks", new { sessionId = writer, resource = "after-upgrade", mode = "EX" });
        AssertStatus(held, HttpStatusCode.OK);
        Assert.True(Long(held.Body, "fencingToken") > newest, $"a new grant's fencing token must pass every recorded one ({newest}): {held}");
        var lvb = Convert.ToBase64String("after-upgrade-1 "u8);
        var written = await Post(client, $"/v1/lockspaces/alpha/locks/{Str(held.Body, "lockId")}/convert", new { mode = "PR", lvb });
        AssertStatus(written, HttpStatusCode.OK);
        Assert.True(Str(written.Body, "lvb") == lvb && Long(written.Body, "lvbSeq") == 1, $"the LVB write after the upgrade: {written}");

        // The LVB its dead writer left invalid stays invalid for a new reader until a PW/EX holder writes it.
        var fresh = await Post(client, "/v1/sessions", new { name = "after-upgrade", ttlMs = 60_000 });
        AssertStatus(fresh, HttpStatusCode.Created);
        var lost = await Post(client, "/v1/lockspaces/alpha/locks", new { sessionId = Str(fresh.Body, "sessionId"), resource = "lost", mode = "PR" });
        AssertStatus(lost, HttpStatusCode.OK);
        Assert.True(lost.Body!["lvbValid"]!.GetValue<bool>() == false && Long(lost.Body, "lvbSeq") == 2, $"a grant on the invalidated resource: {lost}");
    }

    private static void AssertSame(JsonNode? expected, JsonNode? actual, string what) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"{what} changed across the upgrade:\nrecorded {expected?.ToJsonString()}\nnow      {actual?.ToJsonString()}");

    private static async Task WaitReadyAsync(HttpClient client, ServerNode node)
    {
        var deadline = DateTime.UtcNow + ReadyWait;
        while (DateTime.UtcNow < deadline && node.Running)
        {
            try
            {
                using var response = await client.GetAsync(new Uri("/readyz", UriKind.Relative));
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(200);
        }
        throw new TimeoutException($"the server on the version-1 data directory is not ready (running: {node.Running})\n{node.Output()}");
    }

    private static void CopyFolder(string source, string destination)
    {
        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(destination, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
