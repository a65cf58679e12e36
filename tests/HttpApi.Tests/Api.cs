using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RaftDlm.HttpApi.Tests;

/// <summary>Small helpers to speak the HTTP contract from tests: send JSON, read JSON and problems.</summary>
internal static class Api
{
    /// <summary>
    /// Sends one request through <see cref="Http.CallAsync"/> (which retries 503 Unavailable as a client
    /// would) and returns the status with the JSON body.
    /// </summary>
    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        var reply = await Http.CallAsync(client, method, path, body);
        return (reply.Status, reply.Body);
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body)> PostAsync(HttpClient client, string path, object? body = null) =>
        SendAsync(client, HttpMethod.Post, path, body ?? "{}");

    public static Task<(HttpStatusCode Status, JsonNode? Body)> GetAsync(HttpClient client, string path) =>
        SendAsync(client, HttpMethod.Get, path);

    public static async Task<string> OpenSessionAsync(HttpClient client, string name = "test", int ttlMs = 10_000)
    {
        var (status, body) = await PostAsync(client, "/v1/sessions", new { name, ttlMs });
        Assert.Equal(HttpStatusCode.Created, status);
        return body!["sessionId"]!.GetValue<string>();
    }

    public static async Task CreateLockspaceAsync(HttpClient client, string name, int lvbBytes = 8, int lockDelayMs = 0)
    {
        var (status, body) = await SendAsync(client, HttpMethod.Put, "/v1/lockspaces/" + name, new { lvbBytes, lockDelayMs });
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, $"create lockspace answered {status}: {body}");
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body)> LockAsync(HttpClient client, string lockspace, object body) =>
        PostAsync(client, $"/v1/lockspaces/{lockspace}/locks", body);

    public static string Code(JsonNode? problem) => problem?["code"]?.GetValue<string>() ?? "(no code)";

    public static string Lvb(ulong value) => Convert.ToBase64String(BitConverter.GetBytes(value));

    public static ulong Counter(JsonNode? lvb) => BitConverter.ToUInt64(Convert.FromBase64String(lvb!.GetValue<string>()));
}

/// <summary>A whole answer: status, media type, raw text, parsed JSON (when the answer is JSON) and headers.</summary>
internal sealed record Reply(HttpStatusCode Status, string? MediaType, string Text, JsonNode? Body, System.Net.Http.Headers.HttpResponseHeaders Headers)
{
    public override string ToString() => $"{(int)Status} {MediaType} {Text}";
}

/// <summary>Bounded calls with an optional bearer token, and the problem assertions of the contract's error table.</summary>
internal static class Http
{
    public static readonly TimeSpan CallBound = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Sends one call. <paramref name="body"/>: a string is sent as raw JSON text, an <see cref="HttpContent"/>
    /// as is, anything else serialised as JSON. The call is bounded by <paramref name="bound"/> (30 s by default).
    /// A 503 Unavailable ("definitely not applied": an election is under way) is retried, as a client would,
    /// for up to 15 s, unless the body is an <see cref="HttpContent"/>, which can be sent only once.
    /// </summary>
    public static async Task<Reply> CallAsync(HttpClient client, HttpMethod method, string path, object? body = null, string? token = null, TimeSpan? bound = null)
    {
        var retryUntil = DateTime.UtcNow.AddSeconds(15);
        while (true)
        {
            var reply = await CallOnceAsync(client, method, path, body, token, bound);
            if (reply.Status != HttpStatusCode.ServiceUnavailable || body is HttpContent || DateTime.UtcNow > retryUntil) return reply;
            await Task.Delay(200);
        }
    }

    /// <summary>One call as <see cref="CallAsync"/> sends it, its 503 not retried (for a node that answers 503 for as long as it stays so).</summary>
    public static async Task<Reply> CallOnceAsync(HttpClient client, HttpMethod method, string path, object? body = null, string? token = null, TimeSpan? bound = null)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Content = body switch
        {
            null => null,
            HttpContent content => content,
            string raw => new StringContent(raw, Encoding.UTF8, "application/json"),
            _ => JsonContent.Create(body),
        };
        if (token is not null) request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        using var timeout = new CancellationTokenSource(bound ?? CallBound);
        using var response = await client.SendAsync(request, timeout.Token);
        var text = await response.Content.ReadAsStringAsync(timeout.Token);
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        JsonNode? json = null;
        if (mediaType is not null && mediaType.Contains("json", StringComparison.Ordinal) && text.Length > 0) json = JsonNode.Parse(text);
        return new Reply(response.StatusCode, mediaType, text, json, response.Headers);
    }

    public static Task<Reply> Get(HttpClient client, string path, string? token = null, TimeSpan? bound = null) =>
        CallAsync(client, HttpMethod.Get, path, null, token, bound);

    /// <summary>
    /// GET /readyz until it answers 200, for up to 5 s: a node may lag an instant behind what it knows to be
    /// committed (right after an election, or a follower after a write).
    /// </summary>
    public static async Task<Reply> ReadyAsync(HttpClient client, string? token = null)
    {
        var ready = await Get(client, "/readyz", token);
        for (var tries = 0; ready.Status != HttpStatusCode.OK && tries < 50; tries++)
        {
            await Task.Delay(100);
            ready = await Get(client, "/readyz", token);
        }
        return ready;
    }

    public static Task<Reply> Post(HttpClient client, string path, object? body = null, string? token = null, TimeSpan? bound = null) =>
        CallAsync(client, HttpMethod.Post, path, body ?? "{}", token, bound);

    public static Task<Reply> Put(HttpClient client, string path, object? body = null, string? token = null) =>
        CallAsync(client, HttpMethod.Put, path, body ?? "{}", token);

    public static Task<Reply> Delete(HttpClient client, string path, object? body = null, string? token = null) =>
        CallAsync(client, HttpMethod.Delete, path, body, token);

    /// <summary>An RFC 9457 problem of the contract: the status, application/problem+json, and the <c>code</c> field.</summary>
    public static void AssertProblem(Reply reply, HttpStatusCode status, string code)
    {
        Assert.True(
            reply.Status == status && reply.MediaType == "application/problem+json" && Api.Code(reply.Body) == code
                && reply.Body?["status"]?.GetValue<int>() == (int)status && reply.Body?["title"] is not null,
            $"expected {(int)status} application/problem+json code {code}; got {reply}");
    }

    public static void AssertStatus(Reply reply, HttpStatusCode status) =>
        Assert.True(reply.Status == status, $"expected {(int)status}; got {reply}");

    public static string Str(JsonNode? node, string field) =>
        node?[field]?.GetValue<string>() ?? throw new Xunit.Sdk.XunitException($"no string field '{field}' in {node?.ToJsonString()}");

    public static long Long(JsonNode? node, string field) =>
        node?[field]?.GetValue<long>() ?? throw new Xunit.Sdk.XunitException($"no number field '{field}' in {node?.ToJsonString()}");
}
