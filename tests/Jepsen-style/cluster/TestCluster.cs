using System.Globalization;
using RaftDlm.Jepsen.Client;
using RaftDlm.Testing;
using RaftDlm.TestSupport;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>
/// The cluster under test: 3 or 5 server processes (<see cref="ServerNode"/>), each in its own network
/// namespace when <see cref="Network"/> is given, else on 127.0.0.1 with free ports. Every process is
/// stopped by pid on dispose, and the data folders are deleted.
/// The cluster has <see cref="Slots"/> places (node index, id, address, ports) fixed up front: the first
/// <c>size</c> are the initial members (the static member list); the others are spares that the membership
/// nemesis starts under their new ids with <c>--join</c>. <see cref="Members"/> is the current membership as
/// the nemesis made it; every loop over "the nodes" goes over it, so removed nodes are left alone.
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
    private readonly ServerMember[] _members;
    private readonly ServerNode?[] _nodes;
    private readonly bool[] _paused;
    private readonly int _initialSize;
    private readonly List<int> _current;

    public TestCluster(int size, int slots, Network? network, string logDirectory, IReadOnlyList<string> extraArguments)
    {
        _initialSize = size;
        Slots = Math.Max(size, slots);
        _current = Enumerable.Range(0, size).ToList();
        _network = network;
        _logDirectory = logDirectory;
        ExtraArguments = extraArguments;
        _dataRoot = Path.Combine(Path.GetTempPath(), $"rdlm-jepsen-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var ports = network is null ? LocalPorts.Free(2 * Slots) : null;
        _members = Enumerable.Range(0, Slots)
            .Select(node => ports is null
                ? new ServerMember(Id(node), network!.Address(node), 7700, 7701)
                : new ServerMember(Id(node), "127.0.0.1", ports[2 * node], ports[(2 * node) + 1]))
            .ToArray();
        _nodes = new ServerNode?[Slots];
        _paused = new bool[Slots];
        Directory.CreateDirectory(_dataRoot);
        Directory.CreateDirectory(logDirectory);
    }

    /// <summary>How many members the cluster has now.</summary>
    public int Size => _current.Count;

    /// <summary>Every place a node can have (initial members and spares).</summary>
    public int Slots { get; }

    /// <summary>The node indexes of the current members, in order.</summary>
    public IReadOnlyList<int> Members => _current.ToList();

    /// <summary>A spare that has never been started (a fresh node for a new id), or null when none is left.</summary>
    public int? FreshSlot => Enumerable.Range(_initialSize, Slots - _initialSize).Where(n => _nodes[n] is null && !_removed.Contains(n)).Select(n => (int?)n).FirstOrDefault();

    private readonly HashSet<int> _removed = [];

    /// <summary>One of the initial members (started under the static member list), not a node that joined.</summary>
    public bool IsInitial(int node) => node < _initialSize;

    public Network? Network => _network;

    /// <summary>The server settings every start passes (a change takes effect at a node's next start).</summary>
    public IReadOnlyList<string> ExtraArguments { get; set; }

    /// <summary>Every place's URL: clients know the spares from the start and find the members by trying.</summary>
    public IReadOnlyList<string> HttpUrls => Enumerable.Range(0, Slots).Select(HttpUrl).ToList();
    public static string Id(int node) => "n" + (node + 1).ToString(CultureInfo.InvariantCulture);
    public bool IsRunning(int node) => _nodes[node] is { Running: true };
    public bool IsPaused(int node) => _paused[node];

    public string HttpUrl(int node) => _members[node].HttpUrl;
    private string DataDirectory(int node) => Path.Combine(_dataRoot, Id(node));

    public void StartAll()
    {
        foreach (var node in Members) Start(node);
    }

    /// <summary>
    /// Starts a member again. An initial member starts under the static member list; a node that joined at
    /// run time knows the cluster from its data, so it is started with itself alone, and with <c>--join</c>
    /// when its data directory is gone.
    /// </summary>
    public void Start(int node)
    {
        if (IsRunning(node)) return;
        var through = _current.FirstOrDefault(n => n != node && IsRunning(n), -1);
        var join = node >= _initialSize && !Directory.Exists(DataDirectory(node)) && through >= 0;
        Launch(node, join ? HttpUrl(through) : null);
    }

    /// <summary>
    /// Starts a fresh node (a spare never started) with an empty data directory and <c>--join</c> the HTTP URL
    /// of a member; it becomes one of <see cref="Members"/> (the cluster adds it as a learner, then a voter).
    /// </summary>
    public void StartJoining(int node, int through)
    {
        if (node < _initialSize || _nodes[node] is not null) throw new InvalidOperationException($"{Id(node)} is not a fresh spare");
        Launch(node, HttpUrl(through));
        _current.Add(node);
        _current.Sort();
    }

    /// <summary>The node left the cluster (or never made it in): stops it (SIGTERM) and forgets it as a member.</summary>
    public void Retire(int node)
    {
        if (_paused[node]) Resume(node);
        Stop(node);
        _current.Remove(node);
        _removed.Add(node);
    }

    private void Launch(int node, string? joinUrl)
    {
        _nodes[node]?.Dispose();
        List<string> arguments =
        [
            // One line per applied entry: two replicas' traces show whether their logs or their states parted.
            "--ApplyTraceFile", Path.Combine(_logDirectory, Id(node) + ".apply"),
            .. ExtraArguments,
        ];
        if (joinUrl is not null) arguments.AddRange(["--join", joinUrl]);
        // A member that joined at run time is not in the static list; it knows the cluster from its data.
        IReadOnlyList<ServerMember> members = node < _initialSize ? _members.Take(_initialSize).ToList() : [_members[node]];
        var options = _network is null ? ServerLogging : ServerLogging with { Wrapper = ["ip", "netns", "exec", _network.Namespace(node)] };
        _nodes[node] = ServerNode.Start(_members[node], members, DataDirectory(node), Path.Combine(_logDirectory, Id(node) + ".log"), arguments, options);
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
        foreach (var node in Members)
        {
            if (!IsRunning(node) || _paused[node]) continue;
            var reply = await client.SendAsync(node, HttpMethod.Get, "/v1/cluster", null, cancel, TimeSpan.FromSeconds(2));
            if (reply.Text("leaderId") is { } leader) votes[leader] = votes.GetValueOrDefault(leader) + 1;
        }
        var best = votes.OrderByDescending(pair => pair.Value).FirstOrDefault();
        if (best.Key is null || best.Value * 2 <= Size) return null;
        var index = Members.FirstOrDefault(n => Id(n) == best.Key, -1);
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
                foreach (var node in Members)
                {
                    if (!ready) break;
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
        foreach (var node in Members)
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
        for (var node = 0; node < Slots; node++)
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
