using System.Net;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The calls the endpoint tests share: a fresh lockspace, a long-lived session, a lock request and a fence
/// check, each asserting the status it expects. Names are unique across the test classes, which share one
/// cluster.
/// </summary>
internal static class EndpointCalls
{
    public const int LongTtlMs = 600_000;
    private static int _names;

    public static string Unique(string prefix) => $"{prefix}-{Interlocked.Increment(ref _names)}";

    public static async Task<string> CreateLockspace(HttpClient client, int lvbBytes = 8)
    {
        var name = Unique("ep");
        AssertStatus(await Put(client, $"/v1/lockspaces/{name}", new { lvbBytes, lockDelayMs = 0 }), HttpStatusCode.Created);
        return name;
    }

    public static async Task<string> OpenSession(HttpClient client, string name = "ep")
    {
        var reply = await Post(client, "/v1/sessions", new { name, ttlMs = LongTtlMs });
        AssertStatus(reply, HttpStatusCode.Created);
        return Str(reply.Body, "sessionId");
    }

    public static Task<Reply> Lock(
        HttpClient client, string ls, string sessionId, string resource, string mode,
        string[]? flags = null, int? waitMs = null, string? parent = null, long? requestId = null) =>
        Post(client, $"/v1/lockspaces/{ls}/locks", new { sessionId, resource, mode, parentLockId = parent, flags, waitMs, requestId });

    public static async Task<bool> Fence(HttpClient client, string ls, string resource, long token, string mode)
    {
        var reply = await Post(client, "/v1/fence/check", new { lockspace = ls, resource, fencingToken = token, mode });
        AssertStatus(reply, HttpStatusCode.OK);
        return reply.Body!["valid"]!.GetValue<bool>();
    }
}
