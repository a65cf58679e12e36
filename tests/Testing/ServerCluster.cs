using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using RaftDlm.TestSupport;

namespace RaftDlm.Testing;

/// <summary>
/// A cluster of real server processes on 127.0.0.1 with free ports and data in a temporary folder.
/// Every wait is bounded; disposal kills every process it started (by pid) and deletes the folder.
/// </summary>
public sealed class ServerCluster : IAsyncDisposable
{
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(30);
    private readonly Dictionary<string, ServerMember> _members = new();
    private readonly Dictionary<string, ServerNode> _running = new();
    private readonly Dictionary<string, HttpClient> _clients = new();
    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly string? _probeToken;
    private readonly string _root;

    private ServerCluster(int size, IReadOnlyDictionary<string, string>? settings, string? probeToken, bool tls)
    {
        Ids = Enumerable.Range(1, size).Select(i => "node" + i).ToList();
        var ports = LocalPorts.Free(2 * size);
        for (var i = 0; i < size; i++)
        {
            _members[Ids[i]] = new ServerMember(Ids[i], "127.0.0.1", ports[2 * i], ports[(2 * i) + 1]) { Scheme = tls ? "https" : "http" };
        }
        _settings = settings ?? new Dictionary<string, string>();
        _probeToken = probeToken;
        _root = Path.Combine(Path.GetTempPath(), "raftdlm-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        if (tls) Certificates = TestCertificates.Create(Path.Combine(_root, "tls"));
    }

    public IReadOnlyList<string> Ids { get; }
    public IEnumerable<string> RunningIds => _running.Keys.Order();

    /// <summary>
    /// Starts every node and waits for a leader that all of them agree on. <paramref name="settings"/> are
    /// passed as <c>--key value</c>; <paramref name="probeToken"/> is the bearer token the cluster's own
    /// probes (<c>/v1/cluster</c>, <c>/v1/cluster/state</c>) send, for a cluster that requires one.
    /// </summary>
    /// <remarks>
    /// With <paramref name="tls"/> the cluster gets a throw-away CA (<see cref="Certificates"/>): every node serves
    /// HTTPS with its own certificate, trusts the CA for forwarding, and speaks mutual TLS on Raft; the cluster's
    /// clients trust the CA. <paramref name="startOnly"/> starts just those nodes (the others stay configured
    /// members that are down).
    /// </remarks>
    public static async Task<ServerCluster> StartAsync(
        int size = 3, IReadOnlyDictionary<string, string>? settings = null, string? probeToken = null,
        bool tls = false, IReadOnlyCollection<string>? startOnly = null)
    {
        var cluster = new ServerCluster(size, settings, probeToken, tls);
        try
        {
            foreach (var id in startOnly ?? cluster.Ids) cluster.Start(id);
            await cluster.WaitForLeaderAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public string HttpUrl(string id) => _members[id].HttpUrl;

    /// <summary>The CA and node certificates of a cluster started with TLS; null otherwise.</summary>
    public TestCertificates? Certificates { get; }

    public ServerMember Member(string id) => _members[id];

    /// <summary>Every configured member, in id order: the value a node's <c>--members</c> is made from.</summary>
    public IReadOnlyList<ServerMember> Members => Ids.Select(id => _members[id]).ToList();

    /// <summary>A folder under the cluster's temporary root (deleted with the cluster).</summary>
    public string Folder(string name) => Path.Combine(_root, name);

    public string DataDirectory(string id) => Path.Combine(_root, id);

    public ServerNode Node(string id) => _running[id];

    public HttpClient Client(string id)
    {
        if (!_clients.TryGetValue(id, out var client))
        {
            var handler = new SocketsHttpHandler { UseProxy = false };
            client = new HttpClient(Certificates?.Trusting(handler) ?? handler) { BaseAddress = new Uri(HttpUrl(id)), Timeout = TimeSpan.FromSeconds(90) };
            _clients[id] = client;
        }
        return client;
    }

    public void Start(string id) => Start(id, []);

    /// <summary>
    /// Starts <paramref name="id"/>, a member not configured at first (new free ports on first use), with an empty
    /// data directory and <c>--join</c> the HTTP URL of <paramref name="through"/>: it asks that cluster to add it.
    /// </summary>
    /// <param name="host">How the new member names itself: an IP literal, or a DNS name such as "localhost".</param>
    public void StartJoining(string id, string through, string host = "127.0.0.1")
    {
        if (!_members.ContainsKey(id))
        {
            var ports = LocalPorts.Free(2);
            _members[id] = new ServerMember(id, host, ports[0], ports[1]);
        }
        Start(id, ["--join", HttpUrl(through)]);
    }

    private void Start(string id, IReadOnlyList<string> extraArguments)
    {
        if (_running.ContainsKey(id)) return;
        var arguments = new List<string> { "--ElectionTimeoutMinMs", "600", "--ElectionTimeoutMaxMs", "1200" };
        var settings = new Dictionary<string, string>(_settings);
        if (Certificates is { } certificates)
        {
            foreach (var (key, value) in certificates.HttpSettings(id).Concat(certificates.RaftSettings(id))) settings.TryAdd(key, value);
        }
        foreach (var (key, value) in settings)
        {
            arguments.Add("--" + key);
            arguments.Add(value);
        }
        arguments.AddRange(extraArguments);
        // A member that joined at run time is not in the configured list; it knows the cluster from its data.
        var members = Ids.Contains(id) ? Ids.Select(member => _members[member]).ToList() : [_members[id]];
        _running[id] = ServerNode.Start(_members[id], members, DataDirectory(id), Path.Combine(_root, "logs", id + ".log"), arguments);
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
        using var response = await ProbeAsync(id, "/v1/cluster/state", CancellationToken.None);
        response.EnsureSuccessStatusCode();
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
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

    public string Diagnostics() => string.Join("\n", _running.Values.Select(node =>
        $"--- {node.Id} (pid {node.ProcessId}, {(node.Running ? "running" : "exited")}) ---\n{node.Output()}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _running.Values) node.Dispose();
        _running.Clear();
        foreach (var client in _clients.Values) client.Dispose();
        Certificates?.Dispose();
        await Task.Yield();
        try { Directory.Delete(_root, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>A GET of the cluster's own, with the probe token when there is one.</summary>
    private async Task<HttpResponseMessage> ProbeAsync(string id, string path, CancellationToken cancel)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (_probeToken is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _probeToken);
        return await Client(id).SendAsync(request, cancel);
    }

    private async Task<ClusterInfo?> TryClusterAsync(string id)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var response = await ProbeAsync(id, "/v1/cluster", timeout.Token);
            return response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadFromJsonAsync<ClusterInfo>(timeout.Token) : null;
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

    private sealed record ClusterInfo(string NodeId, string? LeaderId, long Term);
}
