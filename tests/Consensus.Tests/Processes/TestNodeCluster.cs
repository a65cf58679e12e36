using System.Globalization;
using System.Text;
using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>
/// A cluster of Consensus.TestNode processes on 127.0.0.1 with free ports and data under a temporary folder.
/// Disposal kills every process it started and deletes the folder.
/// </summary>
internal sealed class TestNodeCluster : IAsyncDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);
    private const int PollIntervalMs = 100;

    private readonly Dictionary<string, int> _ports = [];
    private readonly Dictionary<string, TestNodeProcess> _running = [];
    private readonly string _root;
    private readonly string[] _extraArguments;

    public TestNodeCluster(int size, params string[] extraArguments)
    {
        Ids = [.. Enumerable.Range(1, size).Select(i => $"node{i}")];
        var ports = LocalPorts.Free(size);
        for (var i = 0; i < size; i++)
        {
            _ports[Ids[i]] = ports[i];
        }
        _root = Path.Combine(Path.GetTempPath(), "raftdlm-consensus-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);
        _extraArguments = extraArguments;
    }

    public IReadOnlyList<string> Ids { get; }

    /// <summary>RAFTDLM_LogEngine (the server setting's variable) runs every node on that log (Segmented or DotNext) unless a test names one itself.</summary>
    private static string[] DefaultLogEngine =>
        Environment.GetEnvironmentVariable("RAFTDLM_LogEngine") is { Length: > 0 } engine ? [$"logEngine={engine}"] : [];

    public IEnumerable<string> RunningIds => _running.Keys;

    public TestNodeProcess Node(string id) => _running[id];

    public string DataDirectory(string id) => Path.Combine(_root, id);

    /// <summary>Starts one node; <paramref name="nodeArguments"/> come after the cluster's own and override them.</summary>
    public async Task StartAsync(string id, params string[] nodeArguments)
    {
        var members = string.Join(',', Ids.Select(m => $"{m}@127.0.0.1:{_ports[m]}"));
        string[] arguments =
        [
            $"id={id}", $"members={members}", $"data={DataDirectory(id)}",
            "electionMinMs=600", "electionMaxMs=1200", "proposalTimeoutMs=5000", "logLevel=Information",
            .. DefaultLogEngine, .. _extraArguments, .. nodeArguments,
        ];
        _running[id] = await TestNodeProcess.StartAsync(id, arguments, Path.Combine(_root, "logs", id + ".log"));
    }

    public Task StartAllAsync() => Task.WhenAll(Ids.Select(id => StartAsync(id)));

    /// <summary>kill -9 of one node.</summary>
    public void Kill(string id)
    {
        if (_running.Remove(id, out var node))
        {
            node.Dispose();
        }
    }

    public async Task QuitAsync(string id)
    {
        if (_running.Remove(id, out var node))
        {
            await node.QuitAsync(RequestTimeout);
            node.Dispose();
        }
    }

    public void Wipe(string id)
    {
        if (Directory.Exists(DataDirectory(id)))
        {
            Directory.Delete(DataDirectory(id), recursive: true);
        }
    }

    public Task<string> SendAsync(string id, string request) => _running[id].SendAsync(request, RequestTimeout);

    public async Task<NodeStatus> StatusAsync(string id) => NodeStatus.Parse(id, await SendAsync(id, "status"));

    /// <summary>
    /// Waits until a running node is leader and has applied everything from earlier terms. A node named in
    /// <paramref name="except"/> is not asked (a paused one would not answer).
    /// </summary>
    public async Task<string> WaitForLeaderAsync(TimeSpan timeout, string? except = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var id in _running.Keys.Where(id => id != except).ToList())
            {
                var status = await StatusAsync(id);
                if (status.IsLeader && await SendAsync(id, "ready 5000") == "OK ready")
                {
                    return id;
                }
            }

            await Task.Delay(PollIntervalMs);
        }

        throw new TimeoutException($"No leader within {timeout}.\n{await DescribeAsync()}");
    }

    /// <summary>Proposes on the given node; returns true when acknowledged.</summary>
    public async Task<bool> TryProposeAsync(string id, string command)
        => (await SendAsync(id, "propose " + command)).StartsWith("OK ", StringComparison.Ordinal);

    /// <summary>Proposes each command on the leader and asserts each is acknowledged.</summary>
    public async Task ProposeAllAsync(string leader, IEnumerable<string> commands)
    {
        foreach (var command in commands)
        {
            var reply = await SendAsync(leader, "propose " + command);
            Assert.True(reply.StartsWith("OK applied#", StringComparison.Ordinal), $"propose {command} on {leader}: {reply}");
        }
    }

    /// <summary>Waits until every running node applied <paramref name="expectedCount"/> commands with one hash.</summary>
    public async Task<IReadOnlyList<NodeStatus>> WaitForConvergenceAsync(int expectedCount, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var statuses = new List<NodeStatus>();
            foreach (var id in _running.Keys.ToList())
            {
                statuses.Add(await StatusAsync(id));
            }
            if (statuses.All(s => s.Count == expectedCount) && statuses.Select(s => s.Hash).Distinct().Count() == 1)
            {
                return statuses;
            }
            if (DateTime.UtcNow >= deadline)
            {
                throw new TimeoutException($"No convergence on {expectedCount} commands within {timeout}.\n{await DescribeAsync()}");
            }
            await Task.Delay(PollIntervalMs);
        }
    }

    public async Task<string> DescribeAsync()
    {
        var text = new StringBuilder();
        foreach (var (id, node) in _running)
        {
            string status;
            try
            {
                status = await node.SendAsync("status", TimeSpan.FromSeconds(2));
            }
            catch (Exception e)
            {
                status = "status failed: " + e.Message;
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"--- {id} (pid {node.Pid}): {status}").AppendLine(node.StderrTail);
        }

        return text.ToString();
    }

    public ValueTask DisposeAsync()
    {
        foreach (var node in _running.Values)
        {
            node.Dispose();
        }
        _running.Clear();
        try
        {
            if (Environment.GetEnvironmentVariable("RAFTDLM_KEEP_TEST_DATA") is not "1")
            {
                Directory.Delete(_root, recursive: true);
            }
        }
        catch (IOException)
        {
            // best effort: a temp folder left behind is harmless
        }

        return ValueTask.CompletedTask;
    }
}
