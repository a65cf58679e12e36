using System.Text;
using RaftDlm.Consensus.Tests.Storage;
using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// The leader's lazy sync (<see cref="RaftNodeOptions.LazyLeaderSync"/>) against a power cut of the leader: three
/// nodes in this process over real TCP on 127.0.0.1, each log on a <see cref="PowerLossFiles"/> layer that keeps
/// apart what was written since the last sync. The leader's power is cut (what it had not synced is dropped,
/// whole or torn), and it comes back with the one follower that could have elected it without the others' copies:
/// every acknowledged command must still be there.
/// </summary>
public sealed class LazyLeaderSyncTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "raftdlm-lazy-sync-tests", Guid.NewGuid().ToString("N"));
    private readonly RaftMember[] _members;
    private readonly Dictionary<string, RaftNode> _nodes = [];
    private readonly Dictionary<string, SharedPowerLossFiles> _files = [];
    private readonly Dictionary<string, CommandSet> _machines = [];

    public LazyLeaderSyncTests()
    {
        var ports = LocalPorts.Free(3);
        _members = [.. Enumerable.Range(0, 3).Select(i => new RaftMember($"node{i + 1}", $"127.0.0.1:{ports[i]}", "http://127.0.0.1:1"))];
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes.Values)
        {
            await node.DisposeAsync();
        }
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Commands_committed_on_the_followers_copies_survive_a_power_cut_of_the_leader()
    {
        await StartAsync(_members.Select(m => m.Id));
        var leader = await WaitForLeaderAsync(_nodes.Keys);
        var syncsBefore = _files[leader].Syncs;

        // Commands one at a time for 1.5 s at least: a follower that lags (a pause of this process) makes the
        // leader sync every append for a while (up to a second), after which it commits on the followers' copies again.
        var commands = new List<string>();
        var started = Environment.TickCount64;
        while (commands.Count < 40 || (Environment.TickCount64 - started < 1500 && commands.Count < 5000))
        {
            var command = $"a{commands.Count}";
            await ProposeAsync(leader, command);
            commands.Add(command);
        }

        // The feature is on: the leader committed commands without syncing its own log for each.
        Assert.True(_files[leader].Syncs - syncsBefore < commands.Count,
            $"the leader synced {_files[leader].Syncs - syncsBefore} times for {commands.Count} commands");

        var followers = _nodes.Keys.Where(id => id != leader).Order(StringComparer.Ordinal).ToList();
        await PowerCutAsync(leader, seed: 1);
        await StopAsync(followers[0]);

        // The leader's surviving log and one follower: whichever leads, nothing acknowledged is missing.
        await StartAsync([leader]);
        await AssertAllPresentAsync([leader, followers[1]], commands);
    }

    [Fact]
    public async Task With_a_follower_down_the_leader_syncs_before_it_commits_and_a_power_cut_loses_nothing()
    {
        await StartAsync(_members.Select(m => m.Id));
        var leader = await WaitForLeaderAsync(_nodes.Keys);
        var followers = _nodes.Keys.Where(id => id != leader).Order(StringComparer.Ordinal).ToList();
        await StopAsync(followers[0]);

        // One follower cannot make a majority without the leader's own copy: each commit waits for the leader's sync.
        var commands = Enumerable.Range(0, 20).Select(i => $"b{i}").ToList();
        foreach (var command in commands)
        {
            await ProposeAsync(leader, command);
        }

        await PowerCutAsync(leader, seed: 2);
        await StopAsync(followers[1]);

        // The leader's surviving log and the follower that missed every command: they must all come from the leader.
        await StartAsync([leader, followers[0]]);
        await AssertAllPresentAsync([leader, followers[0]], commands);
    }

    private async Task AssertAllPresentAsync(IReadOnlyList<string> ids, IReadOnlyList<string> commands)
    {
        var leader = await WaitForLeaderAsync(ids);
        // A command of the new leader's term commits (and applies) every entry before it.
        await ProposeAsync(leader, "after");
        var missing = commands.Where(c => !_machines[leader].Contains(c)).ToList();
        Assert.True(missing.Count == 0, $"{leader} leads without {missing.Count} acknowledged commands: {string.Join(",", missing.Take(10))}");
    }

    private async Task StartAsync(IEnumerable<string> ids)
    {
        foreach (var id in ids)
        {
            if (!_files.ContainsKey(id))
            {
                _files[id] = new SharedPowerLossFiles(new PowerLossFiles());
            }
            var machine = new CommandSet();
            var node = new RaftNode(new RaftNodeOptions
            {
                NodeId = id,
                Members = _members,
                DataDirectory = Path.Combine(_root, id),
                ChunkSizeBytes = 256 * 1024,
                LazyLeaderSync = true,
                StorageFiles = _files[id],
            }, machine);
            _machines[id] = machine;
            _nodes[id] = node;
        }
        using var timeout = new CancellationTokenSource(Timeout);
        await Task.WhenAll(ids.Select(id => _nodes[id].StartAsync(timeout.Token)));
    }

    private async Task StopAsync(string id)
    {
        await _nodes[id].DisposeAsync();
        _nodes.Remove(id);
    }

    /// <summary>The node stops as its power is cut: it comes back with what <see cref="PowerLossFiles.Crash"/> leaves.</summary>
    private async Task PowerCutAsync(string id, int seed)
    {
        var survived = _files[id].Crash(new Random(seed));
        await StopAsync(id);
        _files[id] = new SharedPowerLossFiles(survived);
    }

    private async Task ProposeAsync(string id, string command)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        await _nodes[id].ProposeAsync(Encoding.UTF8.GetBytes(command), timeout.Token);
    }

    private async Task<string> WaitForLeaderAsync(IEnumerable<string> ids)
    {
        using var timeout = new CancellationTokenSource(Timeout);
        while (true)
        {
            if (ids.FirstOrDefault(id => _nodes.TryGetValue(id, out var node) && node.IsLeader) is { } leader)
            {
                await _nodes[leader].WaitForLeaderReadyAsync(timeout.Token);
                return leader;
            }
            await Task.Delay(50, timeout.Token);
        }
    }

    /// <summary>The commands applied here, in a set (the test asks only which are present).</summary>
    private sealed class CommandSet : IReplicatedStateMachine
    {
        private readonly HashSet<string> _applied = new(StringComparer.Ordinal);

        public bool Contains(string command)
        {
            lock (_applied)
            {
                return _applied.Contains(command);
            }
        }

        public long LastAppliedIndex { get; private set; }

        public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
        {
            lock (_applied)
            {
                _applied.Add(Encoding.UTF8.GetString(command));
            }
            LastAppliedIndex = index;
            return null;
        }

        public void WriteSnapshot(Stream destination) => throw new NotSupportedException();

        public void RestoreSnapshot(Stream source) => throw new NotSupportedException();
    }
}
