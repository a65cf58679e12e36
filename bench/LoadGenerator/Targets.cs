using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using RaftDlm.LoadGenerator.Etcd;
using EtcdLock = RaftDlm.LoadGenerator.EtcdLock;
using RaftDlm.LoadGenerator.EtcdLock;

namespace RaftDlm.LoadGenerator;

/// <summary>A lock service under test: one worker owns one session (a lease for etcd).</summary>
internal interface ITarget : IAsyncDisposable
{
    string Name { get; }
    Task<IWorker> OpenWorkerAsync(int index, CancellationToken ct);
}

internal interface IWorker : IAsyncDisposable
{
    /// <summary>Takes an exclusive (or, where the service has modes, the given mode) lock and waits for the grant.</summary>
    Task LockAsync(string resource, string mode, CancellationToken ct);
    Task UnlockAsync(CancellationToken ct);
    Task KeepAliveAsync(CancellationToken ct);
}

/// <summary>Raft DLM over its HTTP API, each worker on endpoint <c>index % count</c>.</summary>
internal sealed class RaftDlmTarget : ITarget
{
    public const string Lockspace = "bench";
    private readonly HttpClient[] _clients;

    public RaftDlmTarget(IReadOnlyList<string> endpoints, int workers)
    {
        _clients = endpoints.Select(endpoint => new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = Math.Max(workers, 16),
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        {
            BaseAddress = new Uri(endpoint),
            Timeout = TimeSpan.FromSeconds(60),
        }).ToArray();
    }

    public string Name => "raft-dlm";

    /// <summary>The leader's HTTP endpoint, as the first answering node reports it.</summary>
    public static async Task<IReadOnlyList<string>> LeaderAsync(IReadOnlyList<string> endpoints)
    {
        var (_, http) = await FindLeaderAsync(endpoints);
        return [http];
    }

    public static async Task<string> LeaderIdAsync(IReadOnlyList<string> endpoints) => (await FindLeaderAsync(endpoints)).Id;

    /// <summary>":7710" for node1 of scripts/local-cluster.sh.</summary>
    public static string HttpPortOf(string nodeId) => ":" + (7700 + (10 * int.Parse(nodeId["node".Length..], CultureInfo.InvariantCulture)));

    private static async Task<(string Id, string Http)> FindLeaderAsync(IReadOnlyList<string> endpoints)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var attempt = 0; attempt < 100; attempt++)
        {
            foreach (var endpoint in endpoints)
            {
                try
                {
                    using var document = JsonDocument.Parse(await client.GetStringAsync(endpoint.TrimEnd('/') + "/v1/cluster"));
                    var root = document.RootElement;
                    if (root.TryGetProperty("leaderId", out var leaderId))
                    {
                        var leader = root.GetProperty("members").EnumerateArray().First(member => member.GetProperty("id").GetString() == leaderId.GetString());
                        return (leaderId.GetString()!, leader.GetProperty("httpEndpoint").GetString()!);
                    }
                }
                catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
                {
                }
            }
            await Task.Delay(100);
        }
        throw new InvalidOperationException("no leader found at " + string.Join(", ", endpoints));
    }

    public async Task<IWorker> OpenWorkerAsync(int index, CancellationToken ct)
    {
        var client = _clients[index % _clients.Length];
        if (index == 0) await SendAsync(client, HttpMethod.Put, $"/v1/lockspaces/{Lockspace}", "{\"lvbBytes\":8}", ct);
        // The session outlives any run up to an hour (the server's longest TTL): the lock scenarios send no
        // keep-alives, and a 10-minute soak outlived the 10-minute sessions used before.
        var opened = await SendAsync(client, HttpMethod.Post, "/v1/sessions", $"{{\"name\":\"bench-{index}\",\"ttlMs\":{FillScenarios.MaxTtlMs}}}", ct);
        using var document = JsonDocument.Parse(opened);
        return new Worker(client, document.RootElement.GetProperty("sessionId").GetString()!);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var client in _clients) client.Dispose();
        return ValueTask.CompletedTask;
    }

    internal static async Task<string> SendAsync(HttpClient client, HttpMethod method, string path, string? body, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(method, path);
            if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            using var response = await client.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            if (response.IsSuccessStatusCode) return text;
            if (response.StatusCode != HttpStatusCode.ServiceUnavailable || attempt >= 50)
            {
                throw new HttpRequestException($"{method} {path} answered {(int)response.StatusCode}: {text}");
            }
            await Task.Delay(100, ct);
        }
    }

    private sealed class Worker(HttpClient client, string sessionId) : IWorker
    {
        private string? _lockId;
        private long _requestId;

        public async Task LockAsync(string resource, string mode, CancellationToken ct)
        {
            var body = $"{{\"sessionId\":\"{sessionId}\",\"resource\":\"{resource}\",\"mode\":\"{mode}\",\"waitMs\":30000,\"requestId\":{++_requestId}}}";
            var text = await SendAsync(client, HttpMethod.Post, $"/v1/lockspaces/{Lockspace}/locks", body, ct);
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.GetProperty("state").GetString() != "granted") throw new InvalidOperationException("not granted within 30 s");
            _lockId = document.RootElement.GetProperty("lockId").GetString();
        }

        public Task UnlockAsync(CancellationToken ct) =>
            SendAsync(client, HttpMethod.Delete, $"/v1/lockspaces/{Lockspace}/locks/{_lockId}", $"{{\"requestId\":{++_requestId}}}", ct);

        public Task KeepAliveAsync(CancellationToken ct) =>
            SendAsync(client, HttpMethod.Post, $"/v1/sessions/{sessionId}/keepalive", null, ct);

        public async ValueTask DisposeAsync()
        {
            try { await SendAsync(client, HttpMethod.Delete, $"/v1/sessions/{sessionId}", null, CancellationToken.None); }
            catch (HttpRequestException) { }
        }
    }
}

/// <summary>etcd's v3 lock and lease API over gRPC (its own protos), each worker on endpoint <c>index % count</c>.</summary>
internal sealed class EtcdTarget : ITarget
{
    private readonly GrpcChannel[] _channels;

    public EtcdTarget(IReadOnlyList<string> endpoints)
    {
        _channels = endpoints.Select(endpoint => GrpcChannel.ForAddress(endpoint, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, UseProxy = false },
        })).ToArray();
    }

    public string Name => "etcd";

    public async Task<IWorker> OpenWorkerAsync(int index, CancellationToken ct)
    {
        var channel = _channels[index % _channels.Length];
        var leases = new Lease.LeaseClient(channel);
        // The lease outlives any run up to an hour, as the Raft DLM sessions do.
        var granted = await leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = FillScenarios.MaxTtlMs / 1000 }, cancellationToken: ct);
        return new Worker(leases, new EtcdLock.Lock.LockClient(channel), granted.ID);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var channel in _channels) channel.Dispose();
        return ValueTask.CompletedTask;
    }

    private sealed class Worker(Lease.LeaseClient leases, EtcdLock.Lock.LockClient locks, long leaseId) : IWorker
    {
        private ByteString? _key;
        private AsyncDuplexStreamingCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>? _keepAlive;

        public async Task LockAsync(string resource, string mode, CancellationToken ct)
        {
            // etcd's lock has one mode: every mode is taken exclusively.
            var response = await locks.LockAsync(new LockRequest { Name = ByteString.CopyFromUtf8(resource), Lease = leaseId }, cancellationToken: ct);
            _key = response.Key;
        }

        public Task UnlockAsync(CancellationToken ct) => locks.UnlockAsync(new UnlockRequest { Key = _key }, cancellationToken: ct).ResponseAsync;

        public async Task KeepAliveAsync(CancellationToken ct)
        {
            _keepAlive ??= leases.LeaseKeepAlive(cancellationToken: CancellationToken.None);
            await _keepAlive.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = leaseId }, ct);
            if (!await _keepAlive.ResponseStream.MoveNext(ct)) throw new InvalidOperationException("keep-alive stream ended");
        }

        public async ValueTask DisposeAsync()
        {
            if (_keepAlive is not null)
            {
                await _keepAlive.RequestStream.CompleteAsync();
                _keepAlive.Dispose();
            }
            try { await leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = leaseId }); }
            catch (RpcException) { }
        }
    }
}

internal static class Invariant
{
    public static string Format(double value) => value.ToString("F2", CultureInfo.InvariantCulture);
}
