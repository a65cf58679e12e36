using System.Globalization;
using RaftDlm.Jepsen.Client;
using RaftDlm.Testing;
using RaftDlm.TestSupport;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>
/// The cluster under test: 3 or 5 server processes (<see cref="ServerNode"/>), each in its own network
/// namespace when <see cref="Network"/> is given, else on 127.0.0.1 with free ports. Every process is
/// stopped by pid on dispose, and the data folders are deleted.
/// </summary>
public sealed class TestCluster : IDisposable
{
    private static readonly ChildProcessOptions ServerLogging = new()
    {
        Environment = new Dictionary<string, string>
        {
            ["DOTNET_TieredPGO"] = "0",
            ["Logging__LogLevel__Default"] = "Warning",
            ["Logging__LogLevel__RaftDlm"] = "Information",
        },
    };

    private readonly Network? _network;
    private readonly string _dataRoot;
    private readonly string _logDirectory;
    private readonly IReadOnlyList<string> _extraArguments;
    private readonly ServerMember[] _members;
    private readonly ServerNode?[] _nodes;
    private readonly bool[] _paused;

    public TestCluster(int size, Network? network, string logDirectory, IReadOnlyList<string> extraArguments)
    {
        Size = size;
        _network = network;
        _logDirectory = logDirectory;
        _extraArguments = extraArguments;
        _dataRoot = Path.Combine(Path.GetTempPath(), $"rdlm-jepsen-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var ports = network is null ? LocalPorts.Free(2 * size) : null;
        _members = Enumerable.Range(0, size)
            .Select(node => ports is null
                ? new ServerMember(Id(node), network!.Address(node), 7700, 7701)
                : new ServerMember(Id(node), "127.0.0.1", ports[2 * node], ports[(2 * node) + 1]))
            .ToArray();
        _nodes = new ServerNode?[size];
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

    public string HttpUrl(int node) => _members[node].HttpUrl;
    private string DataDirectory(int node) => Path.Combine(_dataRoot, Id(node));

    public void StartAll()
    {
        for (var node = 0; node < Size; node++) Start(node);
    }

    public void Start(int node)
    {
        if (IsRunning(node)) return;
        _nodes[node]?.Dispose();
        string[] arguments =
        [
            // One line per applied entry: two replicas' traces show whether their logs or their states parted.
            "--ApplyTraceFile", Path.Combine(_logDirectory, Id(node) + ".apply"),
            .. _extraArguments,
        ];
        var options = _network is null ? ServerLogging : ServerLogging with { Wrapper = ["ip", "netns", "exec", _network.Namespace(node)] };
        _nodes[node] = ServerNode.Start(_members[node], _members, DataDirectory(node), Path.Combine(_logDirectory, Id(node) + ".log"), arguments, options);
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
    public async Task<int?> LeaderAsync(HttpLockClient client, CancellationToken cancel)
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
    public async Task<bool> WaitHealthyAsync(HttpLockClient client, TimeSpan timeout, CancellationToken cancel)
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
    public async Task<List<string>> StatesAsync(HttpLockClient client, CancellationToken cancel)
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
}
