using System.Net;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Every endpoint × {no token, a tenant of another lockspace, another tenant of the same lockspace, the owner's
/// token, an admin token}: the answer each caller gets, on the leader and through a follower. Each call acts on a
/// scene of its own (a session of the owner's token holding an EX lock, an orphan, a scratch lockspace), so a
/// call that succeeds cannot change what the next caller sees; after every refused call the owner's session and
/// lock are checked to be untouched.
/// </summary>
public sealed partial class AuthMatrixTests
{
    private const string OtherSpaceCaller = "other lockspace";
    private const string SameSpaceCaller = "same lockspace";

    private static readonly Expect Unauthorized = new(HttpStatusCode.Unauthorized, "Unauthorized");
    private static readonly Expect Forbidden = new(HttpStatusCode.Forbidden, "Forbidden");
    private static readonly Expect NoSuchSession = new(HttpStatusCode.NotFound, "SessionExpired");
    private static readonly Expect NoSuchLock = new(HttpStatusCode.NotFound, "NotFound");
    private static readonly Expect Ok = new(HttpStatusCode.OK);
    private static readonly Expect Created = new(HttpStatusCode.Created);
    private static readonly Expect NoContent = new(HttpStatusCode.NoContent);

    /// <summary>The answer a caller must get: a status, and for a problem its code; <c>Or</c> is a second allowed status.</summary>
    private sealed record Expect(HttpStatusCode Status, string? Code = null, HttpStatusCode? Or = null)
    {
        public bool Refused => Status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound && Or is null;

        public override string ToString() => $"{(int)Status}{(Code is null ? "" : " " + Code)}{(Or is { } or ? $" or {(int)or}" : "")}";
    }

    /// <summary>What one call acts on: the owner's session and EX lock on a resource, an orphan, a scratch lockspace.</summary>
    private sealed record Scene(string SessionId, string LockId, string Resource, long FencingToken, string Orphan, string Scratch);

    /// <summary>One endpoint: how to call it on a scene, and what each caller gets (none, other lockspace, same lockspace, owner, admin).</summary>
    private sealed record Row(
        string Name, Func<Scene, (HttpMethod Method, string Path, object? Body)> Call,
        Expect None, Expect OtherSpace, Expect SameSpace, Expect Owner, Expect Admin,
        bool Orphan = false, bool Scratch = false);

    private static Row[] EveryEndpoint =>
    [
        new("open session", s => (HttpMethod.Post, "/v1/sessions", new { name = "matrix", ttlMs = 60_000 }),
            Unauthorized, Created, Created, Created, Created),
        new("list sessions", s => (HttpMethod.Get, "/v1/sessions?limit=1000", null), Unauthorized, Ok, Ok, Ok, Ok),
        new("list sessions (stale)", s => (HttpMethod.Get, "/v1/sessions?limit=1000&stale=true", null), Unauthorized, Ok, Ok, Ok, Ok),
        new("keepalive", s => (HttpMethod.Post, $"/v1/sessions/{s.SessionId}/keepalive", "{}"), Unauthorized, NoSuchSession, NoSuchSession, Ok, Ok),
        new("get session", s => (HttpMethod.Get, $"/v1/sessions/{s.SessionId}", null), Unauthorized, NoSuchSession, NoSuchSession, Ok, Ok),
        new("get session (stale)", s => (HttpMethod.Get, $"/v1/sessions/{s.SessionId}?stale=true", null), Unauthorized, NoSuchSession, NoSuchSession, Ok, Ok),
        new("events", s => (HttpMethod.Get, $"/v1/sessions/{s.SessionId}/events?after=0&waitMs=0", null), Unauthorized, NoSuchSession, NoSuchSession, Ok, Ok),
        new("events (long-poll)", s => (HttpMethod.Get, $"/v1/sessions/{s.SessionId}/events?after=1000&waitMs=50", null), Unauthorized, NoSuchSession, NoSuchSession, Ok, Ok),
        new("close session", s => (HttpMethod.Delete, $"/v1/sessions/{s.SessionId}", null), Unauthorized, NoSuchSession, NoSuchSession, NoContent, NoContent),
        new("create lockspace", s => (HttpMethod.Put, "/v1/lockspaces/auth-a", new { lvbBytes = 8, lockDelayMs = 0 }), Unauthorized, Forbidden, Forbidden, Forbidden, Ok),
        new("list lockspaces", s => (HttpMethod.Get, "/v1/lockspaces", null), Unauthorized, Ok, Ok, Ok, Ok),
        new("delete lockspace", s => (HttpMethod.Delete, $"/v1/lockspaces/{s.Scratch}", null), Unauthorized, Forbidden, Forbidden, Forbidden, NoContent, Scratch: true),
        new("lock", s => (HttpMethod.Post, "/v1/lockspaces/auth-a/locks", new { sessionId = s.SessionId, resource = s.Resource + "-new", mode = "EX" }),
            Unauthorized, Forbidden, NoSuchSession, Ok, Ok),
        new("lock with a parent", s => (HttpMethod.Post, "/v1/lockspaces/auth-a/locks", new { sessionId = s.SessionId, resource = "child", mode = "EX", parentLockId = s.LockId }),
            Unauthorized, Forbidden, NoSuchSession, Ok, Ok),
        new("convert", s => (HttpMethod.Post, $"/v1/lockspaces/auth-a/locks/{s.LockId}/convert", new { mode = "PR" }), Unauthorized, Forbidden, NoSuchLock, Ok, Ok),
        new("convert with session", s => (HttpMethod.Post, $"/v1/lockspaces/auth-a/locks/{s.LockId}/convert", new { mode = "PR", sessionId = s.SessionId }),
            Unauthorized, Forbidden, NoSuchSession, Ok, Ok),
        new("unlock", s => (HttpMethod.Delete, $"/v1/lockspaces/auth-a/locks/{s.LockId}", null), Unauthorized, Forbidden, NoSuchLock, Ok, Ok),
        new("unlock with session", s => (HttpMethod.Delete, $"/v1/lockspaces/auth-a/locks/{s.LockId}", new { sessionId = s.SessionId }),
            Unauthorized, Forbidden, NoSuchSession, Ok, Ok),
        new("force unlock", s => (HttpMethod.Delete, $"/v1/lockspaces/auth-a/locks/{s.LockId}", new { force = true }), Unauthorized, Forbidden, NoSuchLock, Ok, Ok),
        new("get lock", s => (HttpMethod.Get, $"/v1/lockspaces/auth-a/locks/{s.LockId}", null), Unauthorized, Forbidden, NoSuchLock, Ok, Ok),
        new("get lock (stale)", s => (HttpMethod.Get, $"/v1/lockspaces/auth-a/locks/{s.LockId}?stale=true", null), Unauthorized, Forbidden, NoSuchLock, Ok, Ok),
        new("adopt", s => (HttpMethod.Post, "/v1/lockspaces/auth-a/orphans/adopt", new { sessionId = s.SessionId, resource = s.Orphan, mode = "EX" }),
            Unauthorized, Forbidden, NoSuchSession, Ok, Ok, Orphan: true),
        new("purge orphans", s => (HttpMethod.Delete, $"/v1/lockspaces/auth-a/orphans?resource={s.Orphan}", null),
            Unauthorized, Forbidden, Forbidden, Forbidden, NoContent, Orphan: true),
        new("get resource", s => (HttpMethod.Get, $"/v1/lockspaces/auth-a/resources/{s.Resource}", null), Unauthorized, Forbidden, Ok, Ok, Ok),
        new("list resources", s => (HttpMethod.Get, $"/v1/lockspaces/auth-a/resources?prefix={s.Resource}", null), Unauthorized, Forbidden, Ok, Ok, Ok),
        new("wait-for graph", s => (HttpMethod.Get, "/v1/lockspaces/auth-a/waitfor", null), Unauthorized, Forbidden, Ok, Ok, Ok),
        new("fence check", s => (HttpMethod.Post, "/v1/fence/check", new { lockspace = "auth-a", resource = s.Resource, fencingToken = s.FencingToken, mode = "EX" }),
            Unauthorized, Forbidden, Ok, Ok, Ok),
        new("cluster", s => (HttpMethod.Get, "/v1/cluster", null), Unauthorized, Ok, Ok, Ok, Ok),
        new("cluster state", s => (HttpMethod.Get, "/v1/cluster/state", null), Unauthorized, Ok, Ok, Ok, Ok),
        // No snapshot may have been taken yet: an admin gets the file or a plain 404, never a refusal.
        new("snapshot", s => (HttpMethod.Get, "/v1/cluster/snapshot", null),
            Unauthorized, Forbidden, Forbidden, Forbidden, new Expect(HttpStatusCode.OK, Or: HttpStatusCode.NotFound)),
        new("backup snapshot", s => (HttpMethod.Get, "/v1/snapshot", null), Unauthorized, Forbidden, Forbidden, Forbidden, Ok),
        new("backup snapshot (stale)", s => (HttpMethod.Get, "/v1/snapshot?stale=true", null), Unauthorized, Forbidden, Forbidden, Forbidden, Ok),
        new("list members", s => (HttpMethod.Get, "/v1/cluster/members", null), Unauthorized, Ok, Ok, Ok, Ok),
        // Nothing listens at port 1: an admin's add is tried and times out (the learner is not left behind).
        new("add member", s => (HttpMethod.Post, "/v1/cluster/members", new { id = "ghost", raftEndpoint = "127.0.0.1:1", httpUrl = "http://127.0.0.1:1", timeoutMs = 300 }),
            Unauthorized, Forbidden, Forbidden, Forbidden, new Expect(HttpStatusCode.Conflict, "Timeout")),
        new("remove member", s => (HttpMethod.Delete, "/v1/cluster/members/ghost", null),
            Unauthorized, Forbidden, Forbidden, Forbidden, new Expect(HttpStatusCode.NotFound, "NotFound")),
        new("healthz", s => (HttpMethod.Get, "/healthz", null), Ok, Ok, Ok, Ok, Ok),
        new("metrics", s => (HttpMethod.Get, "/metrics", null), Ok, Ok, Ok, Ok, Ok),
        new("openapi", s => (HttpMethod.Get, "/openapi/v1.json", null), Ok, Ok, Ok, Ok, Ok),
        new("status page", s => (HttpMethod.Get, "/ui/", null), Ok, Ok, Ok, Ok, Ok),
    ];

    [Theory]
    [MemberData(nameof(Targets))]
    public async Task Every_endpoint_answers_each_caller_as_the_contract_says(string target)
    {
        var client = await fixture.ClientAsync(target);
        await AuthTests.EnsureLockspacesAsync(fixture);
        var (leader, _) = await fixture.NodesAsync();
        var failures = new List<string>();
        var scenes = 0;
        foreach (var row in EveryEndpoint)
        {
            (string Name, string? Token, Expect Expect)[] callers =
            [
                ("no token", null, row.None),
                (OtherSpaceCaller, OtherSpaceTenant, row.OtherSpace),
                (SameSpaceCaller, SameSpaceTenant, row.SameSpace),
                ("owner", Owner, row.Owner),
                ("admin", Admin, row.Admin),
            ];
            foreach (var (caller, token, expect) in callers)
            {
                var scene = await SceneAsync(leader, $"{target}-{scenes++}", row.Orphan, row.Scratch);
                var (method, path, body) = row.Call(scene);
                var reply = await CallAsync(client, method, path, body, token);
                // A stale read through a follower may not have applied the scene yet: wait for it (bounded), but
                // only where the caller must see the scene, so a refusal is never waited away.
                var stale = path.Contains("stale=true", StringComparison.Ordinal);
                for (var tries = 0; stale && token is Owner or Admin && expect.Status == HttpStatusCode.OK && tries < 100 && !Shows(reply, scene); tries++)
                {
                    await Task.Delay(50);
                    reply = await CallAsync(client, method, path, body, token);
                }
                var matches = (reply.Status == expect.Status || reply.Status == expect.Or)
                    && (expect.Code is null || (reply.MediaType == "application/problem+json" && Api.Code(reply.Body) == expect.Code));
                if (!matches) failures.Add($"{row.Name} by {caller} via {target}: expected {expect}, got {reply}");
                if (expect.Refused && matches && await UntouchedAsync(leader, scene) is { } touched)
                {
                    failures.Add($"{row.Name} by {caller} via {target} was refused but changed the scene: {touched}");
                }
                if (row.Name.StartsWith("list sessions", StringComparison.Ordinal) && reply.Status == HttpStatusCode.OK)
                {
                    var listed = reply.Body!["sessions"]!.AsArray().Any(item => Str(item, "sessionId") == scene.SessionId);
                    if (listed != token is Owner or Admin) failures.Add($"{row.Name} by {caller} via {target}: the owner's session {(listed ? "is" : "is not")} listed");
                }
                await CleanUpAsync(leader, scene);
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>Whether a 200 answer shows the scene's session (a session view or a sessions list); other answers as they are.</summary>
    private static bool Shows(Reply reply, Scene scene) => reply.Status switch
    {
        HttpStatusCode.OK when reply.Body?["sessions"] is { } sessions => sessions.AsArray().Any(item => Str(item, "sessionId") == scene.SessionId),
        HttpStatusCode.OK => true,
        _ => false,
    };

    /// <summary>A fresh scene, made by the owner's token (and the admin's for the orphan and the scratch lockspace).</summary>
    private static async Task<Scene> SceneAsync(HttpClient leader, string name, bool orphan, bool scratch)
    {
        var resource = "matrix-" + name;
        var opened = await Post(leader, "/v1/sessions", new { name = "matrix-owner", ttlMs = 60_000 }, Owner);
        AssertStatus(opened, HttpStatusCode.Created);
        var sessionId = Str(opened.Body, "sessionId");
        var locked = await Post(leader, "/v1/lockspaces/auth-a/locks", new { sessionId, resource, mode = "EX" }, Owner);
        AssertStatus(locked, HttpStatusCode.OK);
        var orphanName = resource + "-orphan";
        if (orphan)
        {
            var adminSession = Str((await Post(leader, "/v1/sessions", new { name = "matrix-admin", ttlMs = 60_000 }, Admin)).Body, "sessionId");
            AssertStatus(await Post(leader, "/v1/lockspaces/auth-a/locks", new { sessionId = adminSession, resource = orphanName, mode = "EX", flags = new[] { "persistent" } }, Admin), HttpStatusCode.OK);
            AssertStatus(await Delete(leader, $"/v1/sessions/{adminSession}", null, Admin), HttpStatusCode.NoContent);
        }
        var scratchName = "auth-scratch-" + name;
        if (scratch) AssertStatus(await Put(leader, $"/v1/lockspaces/{scratchName}", new { lvbBytes = 8, lockDelayMs = 0 }, Admin), HttpStatusCode.Created);
        return new Scene(sessionId, Str(locked.Body, "lockId"), resource, Long(locked.Body, "fencingToken"), orphanName, scratchName);
    }

    /// <summary>Null when the owner's session is live with its EX lock granted, as the scene made it; else what changed.</summary>
    private static async Task<string?> UntouchedAsync(HttpClient leader, Scene scene)
    {
        var session = await Get(leader, $"/v1/sessions/{scene.SessionId}", Admin);
        if (session.Status != HttpStatusCode.OK) return $"session: {session}";
        var held = await Get(leader, $"/v1/lockspaces/auth-a/locks/{scene.LockId}", Admin);
        if (held.Status != HttpStatusCode.OK || held.Body?["state"]?.GetValue<string>() != "granted" || held.Body?["mode"]?.GetValue<string>() != "EX")
        {
            return $"lock: {held}";
        }
        var locks = session.Body!["locks"]!.AsArray().Count;
        return locks == 1 ? null : $"the session owns {locks} locks";
    }

    private static async Task CleanUpAsync(HttpClient leader, Scene scene)
    {
        var closed = await Delete(leader, $"/v1/sessions/{scene.SessionId}", null, Admin);
        Assert.True(closed.Status is HttpStatusCode.NoContent or HttpStatusCode.NotFound, $"closing the scene's session: {closed}");
        await Delete(leader, $"/v1/lockspaces/auth-a/orphans?resource={scene.Orphan}", null, Admin);
        await Delete(leader, $"/v1/lockspaces/{scene.Scratch}?force=true", null, Admin);
    }
}
