using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using RaftDlm.Jepsen.Client;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>
/// The cluster under test: 3 or 5 server processes, each in its own network namespace when
/// <see cref="Network"/> is given, else on 127.0.0.1 with free ports. Every process is stopped by pid
/// on dispose, and the data folders are deleted.
/// </summary>
public sealed class TestCluster : IDisposable
{
    private readonly Network? _network;
    private readonly string _serverDll;
    private readonly string _dataRoot;
    private readonly string _logDirectory;
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly (int Http, int Raft)[] _ports;
    private readonly NodeProcess?[] _nodes;
    private readonly bool[] _paused;

    public TestCluster(int size, Network? network, string serverDll, string logDirectory, IReadOnlyList<string> extraArguments)
    {
        Size = size;
        _network = network;
        _serverDll = serverDll;
        _logDirectory = logDirectory;
        _extraArguments = extraArguments;
        _dataRoot = Path.Combine(Path.GetTempPath(), $"rdlm-jepsen-{Environment.ProcessId}-{Guid.NewGuid():N}");
        _ports = Enumerable.Range(0, size).Select(_ => network is null ? (FreePort(), FreePort()) : (7700, 7701)).ToArray();
        _nodes = new NodeProcess?[size];
        _paused = new bool[size];
        Directory.CreateDirectory(_dataRoot);
        Directory.CreateDirectory(logDirectory);
    }

    public int Size { get; }
    public Network? Network => _network;
    public IReadOnlyList<string> HttpUrls => Enumerable.Range(0, Size).Select(HttpUrl).ToList();
    public static string Id(int node) => "n" + (node + 1).ToString(CultureInfo.InvariantCulture);
    public bool IsRunning(int node) => _nodes[node] is { Running: true };
    public bool IsPaused(int node) => _paused[node];

    private string Host(int node) => _network?.Address(node) ?? "127.0.0.1";
    public string HttpUrl(int node) => $"http://{Host(node)}:{_ports[node].Http}";
    private string DataDirectory(int node) => Path.Combine(_dataRoot, Id(node));

    public void StartAll()
    {
        for (var node = 0; node < Size; node++) Start(node);
    }

    public void Start(int node)
    {
        if (IsRunning(node)) return;
        _nodes[node]?.Dispose();
        var members = string.Join(',', Enumerable.Range(0, Size).Select(m => $"{Id(m)}={Host(m)}:{_ports[m].Raft}={HttpUrl(m)}"));
        var arguments = new List<string>
        {
            "--node-id", Id(node),
            "--http", HttpUrl(node),
            "--raft", $"{Host(node)}:{_ports[node].Raft}",
            "--data", DataDirectory(node),
            "--members", members,
            // One line per applied entry: two replicas' traces show whether their logs or their states parted.
            "--ApplyTraceFile", Path.Combine(_logDirectory, Id(node) + ".apply"),
        };
        arguments.AddRange(_extraArguments);
        _nodes[node] = NodeProcess.Start(_network?.Namespace(node), _serverDll, arguments, Path.Combine(_logDirectory, Id(node) + ".log"));
        _paused[node] = false;
    }

    /// <summary>kill -9.</summary>
    public void Kill(int node)
    {
        _nodes[node]?.Kill();
        _paused[node] = false;
    }

    /// <summary>A clean stop (SIGTERM).</summary>
    public void Stop(int node)
    {
        _nodes[node]?.Stop();
        _paused[node] = false;
    }

    public void Pause(int node)
    {
        if (!IsRunning(node)) return;
        _nodes[node]!.Pause();
        _paused[node] = true;
    }

    public void Resume(int node)
    {
        if (_nodes[node] is { } process) process.Resume();
        _paused[node] = false;
    }

    /// <summary>Deletes a (stopped) node's data directory: it rejoins empty.</summary>
    public void Wipe(int node)
    {
        if (Directory.Exists(DataDirectory(node))) Directory.Delete(DataDirectory(node), recursive: true);
    }

    /// <summary>The leader that a majority of the answering nodes name, or null.</summary>
    public async Task<int?> LeaderAsync(DlmClient client, CancellationToken cancel)
    {
        var votes = new Dictionary<string, int>();
        for (var node = 0; node < Size; node++)
        {
            if (!IsRunning(node) || _paused[node]) continue;
            var reply = await client.SendAsync(node, HttpMethod.Get, "/v1/cluster", null, cancel, TimeSpan.FromSeconds(2));
            if (reply.Text("leaderId") is { } leader) votes[leader] = votes.GetValueOrDefault(leader) + 1;
        }
        var best = votes.OrderByDescending(pair => pair.Value).FirstOrDefault();
        if (best.Key is null || best.Value * 2 <= Size) return null;
        var index = Enumerable.Range(0, Size).FirstOrDefault(n => Id(n) == best.Key, -1);
        return index < 0 ? null : index;
    }

    /// <summary>Waits (bounded) until a leader is known to a majority and every running node is ready.</summary>
    public async Task<bool> WaitHealthyAsync(DlmClient client, TimeSpan timeout, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !cancel.IsCancellationRequested)
        {
            if (await LeaderAsync(client, cancel) is not null)
            {
                var ready = true;
                for (var node = 0; node < Size && ready; node++)
                {
                    if (!IsRunning(node)) continue;
                    var reply = await client.SendAsync(node, HttpMethod.Get, "/readyz", null, cancel, TimeSpan.FromSeconds(2));
                    ready = reply.Type == History.OpType.Ok;
                }
                if (ready) return true;
            }
            try { await Task.Delay(200, cancel); }
            catch (OperationCanceledException) { break; }
        }
        return false;
    }

    /// <summary>Applied index and state hash per running node (for a final convergence check).</summary>
    public async Task<List<string>> StatesAsync(DlmClient client, CancellationToken cancel)
    {
        var states = new List<string>();
        for (var node = 0; node < Size; node++)
        {
            var reply = await client.SendAsync(node, HttpMethod.Get, "/v1/cluster/state", null, cancel, TimeSpan.FromSeconds(3));
            states.Add(reply.Type == History.OpType.Ok ? $"{reply.Number("appliedIndex")}:{reply.Text("stateHash")}" : "unavailable");
        }
        return states;
    }

    /// <summary>When set, <see cref="Dispose"/> moves the nodes' data directories here instead of deleting them.</summary>
    public string? KeepDataIn { get; set; }

    public void Dispose()
    {
        for (var node = 0; node < Size; node++)
        {
            _nodes[node]?.Dispose();
            _nodes[node] = null;
        }
        try
        {
            if (KeepDataIn is null) Directory.Delete(_dataRoot, recursive: true);
            else Directory.Move(_dataRoot, KeepDataIn);
        }
        catch (IOException) { }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

}
