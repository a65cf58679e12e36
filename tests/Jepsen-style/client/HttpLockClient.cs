using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Client;

/// <summary>
/// The raw HTTP API of every node, a plain HTTP client of the suite (not the product's
/// <c>RaftDlm.Client.HttpLockClient</c>, on purpose: the suite tests the wire contract). Each request has its own
/// bounded timeout.
/// </summary>
public sealed class HttpLockClient : IDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private readonly HttpClient[] _http;

    public HttpLockClient(IReadOnlyList<string> urls)
    {
        Urls = urls;
        _http = urls.Select(url => new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
        })
        { BaseAddress = new Uri(url), Timeout = Timeout.InfiniteTimeSpan }).ToArray();
    }

    public IReadOnlyList<string> Urls { get; }
    public int NodeCount => _http.Length;

    public async Task<Reply> SendAsync(int node, HttpMethod method, string path, object? body, CancellationToken cancel, TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(timeout ?? RequestTimeout);
        try
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = JsonContent.Create(body, options: HistoryLog.Json);
            using var response = await _http[node].SendAsync(request, deadline.Token);
            var text = await response.Content.ReadAsStringAsync(deadline.Token);
            var json = ParseOrEmpty(text);
            var status = (int)response.StatusCode;
            var code = json.ValueKind == JsonValueKind.Object && json.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            return new Reply(Classify(response.StatusCode), status, code, json, null);
        }
        catch (HttpRequestException error) when (IsRefused(error))
        {
            return new Reply(OpType.Fail, 0, null, default, "connection refused");
        }
        catch (Exception error) when (error is HttpRequestException or OperationCanceledException or IOException)
        {
            return new Reply(OpType.Info, 0, null, default, error is OperationCanceledException ? "timeout" : "connection: " + error.Message);
        }
    }

    public Task<Reply> GetAsync(int node, string path, CancellationToken cancel) => SendAsync(node, HttpMethod.Get, path, null, cancel);
    public Task<Reply> PostAsync(int node, string path, object body, CancellationToken cancel) => SendAsync(node, HttpMethod.Post, path, body, cancel);
    public Task<Reply> DeleteAsync(int node, string path, object? body, CancellationToken cancel) => SendAsync(node, HttpMethod.Delete, path, body, cancel);
    public Task<Reply> PutAsync(int node, string path, object body, CancellationToken cancel) => SendAsync(node, HttpMethod.Put, path, body, cancel);

    public void Dispose()
    {
        foreach (var http in _http) http.Dispose();
    }

    private static OpType Classify(HttpStatusCode status) => (int)status switch
    {
        >= 200 and < 300 => OpType.Ok,
        >= 400 and < 500 => OpType.Fail,
        503 => OpType.Fail,
        _ => OpType.Info,
    };

    private static bool IsRefused(HttpRequestException error) =>
        error.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused };

    private static JsonElement ParseOrEmpty(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) return default;
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return default;
        }
    }
}
