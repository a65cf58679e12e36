using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RaftDlm.HttpApi.Tests;

/// <summary>Small helpers to speak the HTTP contract from tests: send JSON, read JSON and problems.</summary>
internal static class Api
{
    public static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = JsonContent.Create(body);
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
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
        var (status, _) = await SendAsync(client, HttpMethod.Put, "/v1/lockspaces/" + name, new { lvbBytes, lockDelayMs });
        Assert.True(status is HttpStatusCode.Created or HttpStatusCode.OK, $"create lockspace answered {status}");
    }

    public static Task<(HttpStatusCode Status, JsonNode? Body)> LockAsync(HttpClient client, string lockspace, object body) =>
        PostAsync(client, $"/v1/lockspaces/{lockspace}/locks", body);

    public static string Code(JsonNode? problem) => problem?["code"]?.GetValue<string>() ?? "(no code)";

    public static string Lvb(ulong value) => Convert.ToBase64String(BitConverter.GetBytes(value));

    public static ulong Counter(JsonNode? lvb) => BitConverter.ToUInt64(Convert.FromBase64String(lvb!.GetValue<string>()));
}
