using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Xunit.Abstractions;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Malformed input gets a 4xx problem (never a 5xx) and leaves the lock table as it was, on the leader and
/// through a follower.
///
/// What "unchanged" means: some inputs are refused by the HTTP layer before anything is proposed; for those
/// the replicated state, applied index included, must not move (<see cref="Case.RejectedBeforeLog"/>); name
/// rules, flag combinations and bounds are among them (CommandShape). An LVB of the wrong size needs the
/// lockspace's LVB size, so it is checked by the state machine: it is logged and
/// refused when applied: the entry advances the applied index (and so the state hash, which covers it), but
/// every view of the table must stay as it was. The test output says which inputs reached the log.
/// </summary>
public sealed class MalformedInputTests(MalformedInputTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<MalformedInputTests.Fixture>
{
    /// <summary>The shared cluster with a lockspace "mal", a session holding EX on "held" and another waiting for it.</summary>
    public sealed class Fixture : ClusterFixture
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        public string Holder { get; private set; } = "";
        public string Waiter { get; private set; } = "";
        public string HeldLock { get; private set; } = "";
        public string WaitingLock { get; private set; } = "";

        public async Task EnsureTableAsync()
        {
            await _gate.WaitAsync();
            try
            {
                if (Holder.Length > 0) return;
                var (leader, _) = await NodesAsync();
                AssertStatus(await Put(leader, "/v1/lockspaces/mal", new { lvbBytes = 8, lockDelayMs = 0 }), HttpStatusCode.Created);
                Holder = Str((await Post(leader, "/v1/sessions", new { name = "holder", ttlMs = 3_600_000 })).Body, "sessionId");
                Waiter = Str((await Post(leader, "/v1/sessions", new { name = "waiter", ttlMs = 3_600_000 })).Body, "sessionId");
                var held = await Post(leader, "/v1/lockspaces/mal/locks", new { sessionId = Holder, resource = "held", mode = "EX" });
                AssertStatus(held, HttpStatusCode.OK);
                HeldLock = Str(held.Body, "lockId");
                AssertStatus(await Delete(leader, $"/v1/lockspaces/mal/locks/{HeldLock}", new { lvb = Api.Lvb(0x1234) }), HttpStatusCode.OK);
                held = await Post(leader, "/v1/lockspaces/mal/locks", new { sessionId = Holder, resource = "held", mode = "EX" });
                HeldLock = Str(held.Body, "lockId");
                var waiting = await Post(leader, "/v1/lockspaces/mal/locks", new { sessionId = Waiter, resource = "held", mode = "PR" });
                AssertStatus(waiting, HttpStatusCode.Accepted);
                WaitingLock = Str(waiting.Body, "lockId");
            }
            finally
            {
                _gate.Release();
            }
        }
    }

    /// <summary>One malformed call. The path and body may name {holder}, {lock} and {waiting}.</summary>
    public sealed record Case(string Name, string Method, string Path, string? Body, HttpStatusCode Status, string Code, bool RejectedBeforeLog, bool Chunked = false);

    private static readonly string Huge = new('x', 70 * 1024);
    private static readonly string Ascii65 = new('r', 65);
    private static readonly string Utf8Of65Bytes = string.Concat(Enumerable.Repeat("é", 32)) + "a"; // 33 chars, 65 bytes
    private static readonly string Utf8Of66Bytes = string.Concat(Enumerable.Repeat("€", 22)); // 22 chars, 66 bytes
    private const string Locks = "/v1/lockspaces/mal/locks";

    private static readonly Case[] Cases =
    [
        // Malformed JSON and bodies: refused before anything is proposed.
        new("truncated JSON", "POST", Locks, """{"sessionId": "{holder}", "resource": """, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("JSON array body", "POST", Locks, "[1, 2]", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("JSON null body", "POST", Locks, "null", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("not JSON at all", "POST", Locks, "sessionId=1&mode=EX", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("trailing comma", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX",}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("waitMs of the wrong type", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "waitMs": "soon"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("sessionId as an object", "POST", Locks, """{"sessionId": {"id": 1}, "resource": "n", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("sessionId as a fraction", "POST", Locks, """{"sessionId": 1.5, "resource": "n", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("missing body on a lock request", "POST", Locks, null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("truncated JSON on session open", "POST", "/v1/sessions", """{"name": """, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("truncated JSON on lockspace create", "PUT", "/v1/lockspaces/mal-new", """{"lvbBytes": """, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("truncated JSON on convert", "POST", Locks + "/{lock}/convert", """{"mode": """, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("truncated JSON on unlock", "DELETE", Locks + "/{lock}", """{"lvb": """, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("truncated JSON on fence check", "POST", "/v1/fence/check", """{"lockspace": "mal",""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("huge lock request", "POST", Locks, $$"""{"sessionId": "{holder}", "resource": "{{Huge}}", "mode": "EX"}""", HttpStatusCode.RequestEntityTooLarge, "InvalidRequest", true),
        new("huge session open", "POST", "/v1/sessions", $$"""{"name": "{{Huge}}", "ttlMs": 10000}""", HttpStatusCode.RequestEntityTooLarge, "InvalidRequest", true),
        new("huge chunked lock request", "POST", Locks, $$"""{"sessionId": "{holder}", "resource": "{{Huge}}", "mode": "EX"}""", HttpStatusCode.RequestEntityTooLarge, "InvalidRequest", true, Chunked: true),
        new("huge unlock body", "DELETE", Locks + "/{lock}", $$"""{"lvb": "{{Huge}}"}""", HttpStatusCode.RequestEntityTooLarge, "InvalidRequest", true),

        // LVBs.
        new("LVB not base64 on convert", "POST", Locks + "/{lock}/convert", """{"mode": "NL", "lvb": "***not base64***"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("LVB not base64 on unlock", "DELETE", Locks + "/{lock}", """{"lvb": "@@@@"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("LVB of 16 bytes in an 8-byte lockspace (convert)", "POST", Locks + "/{lock}/convert", $$"""{"mode": "NL", "lvb": "{{Convert.ToBase64String(new byte[16])}}"}""", HttpStatusCode.BadRequest, "InvalidRequest", false),
        new("LVB of 4 bytes in an 8-byte lockspace (unlock)", "DELETE", Locks + "/{lock}", $$"""{"lvb": "{{Convert.ToBase64String(new byte[4])}}"}""", HttpStatusCode.BadRequest, "InvalidRequest", false),
        new("LVB together with ivValBlk", "POST", Locks + "/{lock}/convert", $$"""{"mode": "NL", "lvb": "{{Api.Lvb(1)}}", "flags": ["ivValBlk"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),

        // Modes and flags.
        new("unknown mode", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "XX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("lower-case mode", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "ex"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("missing mode", "POST", Locks, """{"sessionId": "{holder}", "resource": "n"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown mode on convert", "POST", Locks + "/{lock}/convert", """{"mode": "SUPER"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown mode on adopt", "POST", "/v1/lockspaces/mal/orphans/adopt", """{"sessionId": "{waiter}", "resource": "held", "mode": "ZZ"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown mode on fence check", "POST", "/v1/fence/check", """{"lockspace": "mal", "resource": "held", "fencingToken": 5, "mode": "QQ"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown flag", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "flags": ["noqueue"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("null flag", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "flags": [null]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown flag on convert", "POST", Locks + "/{lock}/convert", """{"mode": "NL", "flags": ["bogus"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("unknown flag on unlock", "DELETE", Locks + "/{lock}", """{"flags": ["nope"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("quecvt on a new request", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "flags": ["quecvt"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("noQueueBast without noQueue", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "flags": ["noQueueBast"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("expedite on EX", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "flags": ["expedite"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("convDeadlk on unlock", "DELETE", Locks + "/{lock}", """{"flags": ["convDeadlk"]}""", HttpStatusCode.BadRequest, "InvalidRequest", true),

        // Names.
        new("65-byte resource name", "POST", Locks, $$"""{"sessionId": "{holder}", "resource": "{{Ascii65}}", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte UTF-8 resource name of 33 chars", "POST", Locks, $$"""{"sessionId": "{holder}", "resource": "{{Utf8Of65Bytes}}", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("66-byte UTF-8 resource name of 22 chars", "POST", Locks, $$"""{"sessionId": "{holder}", "resource": "{{Utf8Of66Bytes}}", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("empty resource name", "POST", Locks, """{"sessionId": "{holder}", "resource": "", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("missing resource name", "POST", Locks, """{"sessionId": "{holder}", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("lone surrogate in a resource name", "POST", Locks, """{"sessionId": "{holder}", "resource": "a\ud800b", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte UTF-8 name on adopt", "POST", "/v1/lockspaces/mal/orphans/adopt", $$"""{"sessionId": "{waiter}", "resource": "{{Utf8Of65Bytes}}", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte resource name view", "GET", "/v1/lockspaces/mal/resources/" + Ascii65, null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte UTF-8 resource name view", "GET", "/v1/lockspaces/mal/resources/" + Uri.EscapeDataString(Utf8Of65Bytes), null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte name on fence check", "POST", "/v1/fence/check", $$"""{"lockspace": "mal", "resource": "{{Utf8Of65Bytes}}", "fencingToken": 5, "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte session name", "POST", "/v1/sessions", $$"""{"name": "{{Ascii65}}", "ttlMs": 10000}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("66-byte UTF-8 session name", "POST", "/v1/sessions", $$"""{"name": "{{Utf8Of66Bytes}}", "ttlMs": 10000}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("empty session name", "POST", "/v1/sessions", """{"name": "", "ttlMs": 10000}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("bad lockspace name", "PUT", "/v1/lockspaces/bad!name", """{"lvbBytes": 8}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("65-byte lockspace name", "PUT", "/v1/lockspaces/" + new string('l', 65), """{"lvbBytes": 8}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("bad lockspace name on a lock request", "POST", "/v1/lockspaces/bad!name/locks", """{"sessionId": "{holder}", "resource": "n", "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("bad lockspace name on fence check", "POST", "/v1/fence/check", """{"lockspace": "bad name", "resource": "held", "fencingToken": 5, "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),

        // Bounds.
        new("LVB size not a multiple of 8", "PUT", "/v1/lockspaces/mal-new", """{"lvbBytes": 7}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("LVB size above 256", "PUT", "/v1/lockspaces/mal-new", """{"lvbBytes": 512}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("negative lock-delay", "PUT", "/v1/lockspaces/mal-new", """{"lvbBytes": 8, "lockDelayMs": -1}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("TTL below 500 ms", "POST", "/v1/sessions", """{"name": "short", "ttlMs": 10}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("TTL above 1 h", "POST", "/v1/sessions", """{"name": "long", "ttlMs": 3600001}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("negative waitMs", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "waitMs": -1}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("waitMs above 60000", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "waitMs": 60001}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("negative waitMs on convert", "POST", Locks + "/{lock}/convert", """{"mode": "NL", "waitMs": -5}""", HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("negative waitMs on events", "GET", "/v1/sessions/{holder}/events?after=0&waitMs=-1", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("waitMs above 60000 on events", "GET", "/v1/sessions/{holder}/events?after=0&waitMs=60001", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("non-numeric waitMs on events", "GET", "/v1/sessions/{holder}/events?waitMs=soon", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("negative after on events", "GET", "/v1/sessions/{holder}/events?after=-3", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("force neither true nor false", "DELETE", "/v1/lockspaces/mal?force=maybe", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("purge without a resource", "DELETE", "/v1/lockspaces/mal/orphans", null, HttpStatusCode.BadRequest, "InvalidRequest", true),
        new("fencing token 0", "POST", "/v1/fence/check", """{"lockspace": "mal", "resource": "held", "fencingToken": 0, "mode": "EX"}""", HttpStatusCode.BadRequest, "InvalidRequest", true),

        // Ids that are not numbers.
        new("non-numeric sessionId in a lock request", "POST", Locks, """{"sessionId": "abc", "resource": "n", "mode": "EX"}""", HttpStatusCode.NotFound, "SessionExpired", true),
        new("negative sessionId in a lock request", "POST", Locks, """{"sessionId": -4, "resource": "n", "mode": "EX"}""", HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric sessionId on adopt", "POST", "/v1/lockspaces/mal/orphans/adopt", """{"sessionId": "x1", "resource": "held", "mode": "EX"}""", HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric sessionId on convert", "POST", Locks + "/{lock}/convert", """{"mode": "NL", "sessionId": "me"}""", HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric session in the path (get)", "GET", "/v1/sessions/abc", null, HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric session in the path (keepalive)", "POST", "/v1/sessions/abc/keepalive", "{}", HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric session in the path (delete)", "DELETE", "/v1/sessions/12abc", null, HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric session in the path (events)", "GET", "/v1/sessions/abc/events?waitMs=0", null, HttpStatusCode.NotFound, "SessionExpired", true),
        new("non-numeric lock id (get)", "GET", Locks + "/abc", null, HttpStatusCode.NotFound, "NotFound", true),
        new("non-numeric lock id (convert)", "POST", Locks + "/abc/convert", """{"mode": "NL"}""", HttpStatusCode.NotFound, "NotFound", true),
        new("non-numeric lock id (delete)", "DELETE", Locks + "/abc", null, HttpStatusCode.NotFound, "NotFound", true),
        new("non-numeric parentLockId", "POST", Locks, """{"sessionId": "{holder}", "resource": "n", "mode": "EX", "parentLockId": "up"}""", HttpStatusCode.NotFound, "NotFound", true),
    ];

    public static TheoryData<string, string> CaseNames()
    {
        var data = new TheoryData<string, string>();
        foreach (var item in Cases)
        {
            data.Add(item.Name, "leader");
            data.Add(item.Name, "follower");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task Malformed_input_is_a_4xx_problem_and_changes_no_lock(string name, string target)
    {
        var item = Cases.Single(entry => entry.Name == name);
        await fixture.EnsureTableAsync();
        var client = await fixture.ClientAsync(target);
        var leaderId = await fixture.Cluster.WaitForLeaderAsync();

        await fixture.Cluster.WaitForSameStateAsync();
        var before = await fixture.Cluster.StateAsync(leaderId);
        var viewsBefore = await ViewsAsync();

        var path = Fill(item.Path);
        var body = item.Body is null ? null : Fill(item.Body);
        HttpContent? content = body is null ? null : item.Chunked ? new ChunkedContent(body) : new StringContent(body, Encoding.UTF8, "application/json");
        var reply = await CallAsync(client, new HttpMethod(item.Method), path, content);

        Assert.True((int)reply.Status is >= 400 and < 500, $"{name} via {target}: {reply}");
        AssertProblem(reply, item.Status, item.Code);

        await fixture.Cluster.WaitForSameStateAsync();
        var after = await fixture.Cluster.StateAsync(leaderId);
        var viewsAfter = await ViewsAsync();
        output.WriteLine($"{name} via {target}: {(int)reply.Status} {item.Code}; applied index {before.AppliedIndex} -> {after.AppliedIndex} ({(after.AppliedIndex == before.AppliedIndex ? "not logged" : "LOGGED before rejection")})");

        Assert.Equal(viewsBefore, viewsAfter);
        if (item.RejectedBeforeLog) Assert.Equal(before, after);
    }

    [Fact]
    public async Task Names_of_exactly_64_bytes_are_accepted_and_never_truncated()
    {
        await fixture.EnsureTableAsync();
        var (leader, follower) = await fixture.NodesAsync();
        var session = Str((await Post(follower, "/v1/sessions", new { name = string.Concat(Enumerable.Repeat("é", 32)), ttlMs = 3_600_000 })).Body, "sessionId");
        foreach (var name in new[] { new string('r', 64), string.Concat(Enumerable.Repeat("é", 32)), string.Concat(Enumerable.Repeat("€", 21)) + "a", "😀" + new string('s', 60) })
        {
            Assert.Equal(64, Encoding.UTF8.GetByteCount(name));
            var locked = await Post(follower, Locks, new { sessionId = session, resource = name, mode = "NL" });
            AssertStatus(locked, HttpStatusCode.OK);
            Assert.Equal(name, Str(locked.Body, "resource"));
            var view = await Get(leader, "/v1/lockspaces/mal/resources/" + Uri.EscapeDataString(name));
            AssertStatus(view, HttpStatusCode.OK);
            Assert.Equal(name, Str(view.Body, "resource"));
        }
        AssertStatus(await Delete(leader, $"/v1/sessions/{session}"), HttpStatusCode.NoContent);
    }

    private string Fill(string text) => text
        .Replace("{holder}", fixture.Holder, StringComparison.Ordinal)
        .Replace("{waiter}", fixture.Waiter, StringComparison.Ordinal)
        .Replace("{lock}", fixture.HeldLock, StringComparison.Ordinal)
        .Replace("{waiting}", fixture.WaitingLock, StringComparison.Ordinal);

    /// <summary>Everything a client can see of the table: sessions with their locks and events, the resource, the lockspaces, the counts.</summary>
    private async Task<string> ViewsAsync()
    {
        var (leader, _) = await fixture.NodesAsync();
        var text = new StringBuilder();
        foreach (var path in new[]
        {
            $"/v1/sessions/{fixture.Holder}", $"/v1/sessions/{fixture.Waiter}",
            $"/v1/sessions/{fixture.Holder}/events?after=0&waitMs=0", $"/v1/sessions/{fixture.Waiter}/events?after=0&waitMs=0",
            "/v1/lockspaces/mal/resources/held", "/v1/lockspaces",
        })
        {
            var reply = await Get(leader, path);
            text.Append(path).Append(" -> ").Append((int)reply.Status).Append(' ').Append(reply.Text).Append('\n');
        }
        var metrics = await Get(leader, "/metrics");
        foreach (var line in metrics.Text.Split('\n'))
        {
            if (line.StartsWith("raftdlm_sessions{", StringComparison.Ordinal) || line.StartsWith("raftdlm_locks{", StringComparison.Ordinal)
                || line.StartsWith("raftdlm_resources{", StringComparison.Ordinal) || line.StartsWith("raftdlm_queued_requests{", StringComparison.Ordinal)
                || line.StartsWith("raftdlm_lockspaces{", StringComparison.Ordinal))
            {
                text.Append(line).Append('\n');
            }
        }
        return text.ToString();
    }

    /// <summary>A JSON body sent with chunked transfer encoding: no Content-Length for the server to refuse up front.</summary>
    private sealed class ChunkedContent : HttpContent
    {
        private readonly byte[] _bytes;

        public ChunkedContent(string json)
        {
            _bytes = Encoding.UTF8.GetBytes(json);
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            for (var offset = 0; offset < _bytes.Length; offset += 8192)
            {
                await stream.WriteAsync(_bytes.AsMemory(offset, Math.Min(8192, _bytes.Length - offset)));
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
