using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace RaftDlm.Testing;

/// <summary>
/// A cluster of real server processes on 127.0.0.1 with free ports and data in a temporary folder.
/// Every wait is bounded; disposal kills every process it started (by pid) and deletes the folder.
/// </summary>
public sealed class ServerCluster : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, (int Http, int Raft)> _ports = new();
    private readonly Dictionary<string, ServerNode> _running = new();
    private readonly Dictionary<string, HttpClient> _clients = new();
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly string _root;

    private ServerCluster(int size, IReadOnlyDictionary<string, string>? settings)
    {
        Ids = Enumerable.Range(1, size).Select(i => "node" + i).ToList();
        foreach (var id in Ids) _ports[id] = (FreePort(), FreePort());
        _settings = settings ?? new Dictionary<string, string>();
        _root = Path.Combine(Path.GetTempPath(), "raftdlm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
    }

    public IReadOnlyList<string> Ids { get; }
    public IEnumerable<string> RunningIds => _running.Keys.Order();

    /// <summary>Starts every node and waits for a leader that all of them agree on.</summary>
    public static async Task<ServerCluster> StartAsync(int size = 3, IReadOnlyDictionary<string, string>? settings = null)
    {
        var cluster = new ServerCluster(size, settings);
        try
        {
            foreach (var id in cluster.Ids) cluster.Start(id);
            await cluster.WaitForLeaderAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public string HttpUrl(string id) => $"http://127.0.0.1:{_ports[id].Http}";

    public string DataDirectory(string id) => Path.Combine(_root, id);

    public ServerNode Node(string id) => _running[id];

    public HttpClient Client(string id)
    {
        if (!_clients.TryGetValue(id, out var client))
        {
            client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri(HttpUrl(id)), Timeout = TimeSpan.FromSeconds(90) };
            _clients[id] = client;
        }
        return client;
    }

    public void Start(string id)
    {
        if (_running.ContainsKey(id)) return;
        var members = string.Join(',', Ids.Select(member => $"{member}=127.0.0.1:{_ports[member].Raft}={HttpUrl(member)}"));
        var arguments = new List<string>
        {
            "--node-id", id,
            "--http", HttpUrl(id),
            "--raft", $"127.0.0.1:{_ports[id].Raft}",
            "--data", DataDirectory(id),
            "--members", members,
            "--ElectionTimeoutMinMs", "600",
            "--ElectionTimeoutMaxMs", "1200",
        };
        foreach (var (key, value) in _settings)
        {
            arguments.Add("--" + key);
            arguments.Add(value);
        }
        _running[id] = ServerNode.Start(id, ServerBinary.Path, arguments);
    }

    /// <summary>kill -9.</summary>
    public void Kill(string id)
    {
        if (_running.Remove(id, out var node)) node.Dispose();
    }

    public void Wipe(string id)
    {
        if (Directory.Exists(DataDirectory(id))) Directory.Delete(DataDirectory(id), recursive: true);
    }

    /// <summary>The leader every running node agrees on, once it answers /readyz.</summary>
    public async Task<string> WaitForLeaderAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        while (DateTime.UtcNow < deadline)
        {
            var leaders = new HashSet<string?>();
            foreach (var id in RunningIds) leaders.Add((await TryClusterAsync(id))?.LeaderId);
            if (leaders.Count == 1 && leaders.First() is { } leader && _running.ContainsKey(leader) && await ReadyAsync(leader)) return leader;
            await Task.Delay(100);
        }
        throw new TimeoutException("no agreed leader within the wait\n" + Diagnostics());
    }

    public async Task<string> FollowerAsync()
    {
        var leader = await WaitForLeaderAsync();
        return RunningIds.First(id => id != leader);
    }

    /// <summary>This node's applied index and state hash.</summary>
    public async Task<(long AppliedIndex, string StateHash)> StateAsync(string id)
    {
        using var document = JsonDocument.Parse(await Client(id).GetStringAsync("/v1/cluster/state"));
        return (document.RootElement.GetProperty("appliedIndex").GetInt64(), document.RootElement.GetProperty("stateHash").GetString()!);
    }

    /// <summary>Waits until every running node has applied the same index with the same state hash.</summary>
    public async Task<string> WaitForSameStateAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultWait);
        var last = "";
        while (DateTime.UtcNow < deadline)
        {
            var states = new List<(long, string)>();
            foreach (var id in RunningIds)
            {
                try { states.Add(await StateAsync(id)); }
                catch (HttpRequestException) { states.Add((-1, id)); }
            }
            last = string.Join(", ", states);
            if (states.Distinct().Count() == 1 && states[0].Item1 >= 0) return states[0].Item2;
            await Task.Delay(100);
        }
        throw new TimeoutException("nodes did not converge: " + last + "\n" + Diagnostics());
    }

    public string Diagnostics() => string.Join("\n", _running.Values.Select(node => $"--- {node.Id} (pid {node.ProcessId}) ---\n{node.Output()}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _running.Values) node.Dispose();
        _running.Clear();
        foreach (var client in _clients.Values) client.Dispose();
        await Task.Yield();
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    private async Task<ClusterInfo?> TryClusterAsync(string id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            return await Client(id).GetFromJsonAsync<ClusterInfo>("/v1/cluster", timeout.Token);
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException or JsonException)
        {
            return null;
        }
    }

    private async Task<bool> ReadyAsync(string id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            return (await Client(id).GetAsync("/readyz", timeout.Token)).StatusCode == HttpStatusCode.OK;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed record ClusterInfo(string NodeId, string? LeaderId, long Term);
}

/// <summary>Finds the server built beside the tests (same configuration).</summary>
public static class ServerBinary
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(System.IO.Path.Combine(directory.FullName, "Raft.sln"))) directory = directory.Parent;
        if (directory is null) throw new InvalidOperationException("Raft.sln not found above " + AppContext.BaseDirectory);
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = System.IO.Path.Combine(directory.FullName, "src", "HttpApi", "bin", configuration, "net10.0", "RaftDlm.Server.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("build src/HttpApi first", path);
    }
}
