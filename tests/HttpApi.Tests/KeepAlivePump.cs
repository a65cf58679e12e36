using System.Net;
using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// Keeps sessions alive the way a client would: a keep-alive every 500 ms to any node that answers,
/// trying the others when one is down. Records any 404 SessionExpired it sees. Stops on dispose.
/// </summary>
internal sealed class KeepAlivePump : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<HttpClient> _clients;

    public KeepAlivePump(ServerCluster cluster, params string[] sessions)
    {
        _clients = cluster.Ids.Select(id => new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            BaseAddress = new Uri(cluster.HttpUrl(id)),
            Timeout = TimeSpan.FromSeconds(3),
        }).ToList();
        _loop = Task.Run(() => RunAsync(sessions, _stop.Token));
    }

    public List<string> Expired { get; } = new();

    private async Task RunAsync(string[] sessions, CancellationToken stop)
    {
        var next = 0;
        while (!stop.IsCancellationRequested)
        {
            foreach (var session in sessions)
            {
                for (var attempt = 0; attempt < _clients.Count * 2 && !stop.IsCancellationRequested; attempt++)
                {
                    var client = _clients[next % _clients.Count];
                    try
                    {
                        using var response = await client.PostAsync($"/v1/sessions/{session}/keepalive", null, stop);
                        if (response.StatusCode == HttpStatusCode.OK) break;
                        if (response.StatusCode == HttpStatusCode.NotFound)
                        {
                            lock (Expired) Expired.Add(session);
                            break;
                        }
                    }
                    catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                    {
                    }
                    next++;
                }
            }
            try { await Task.Delay(500, stop); }
            catch (TaskCanceledException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _clients.ForEach(client => client.Dispose());
        _stop.Dispose();
    }
}
