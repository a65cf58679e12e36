using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests;

/// <summary>A single-node cluster inside the test process: the public API, replies, guards and metrics.</summary>
public sealed class RaftNodeInProcessTests : IAsyncLifetime
{
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "raftdlm-consensus-tests", Guid.NewGuid().ToString("N"));
    private readonly RecordingMachine _machine = new();
    private readonly List<string?> _leaderChanges = [];
    private RaftNode _node = null!;

    public async Task InitializeAsync()
    {
        _node = new RaftNode(Options(_dataDirectory), _machine);
        _node.LeaderChanged += leader =>
        {
            lock (_leaderChanges)
            {
                _leaderChanges.Add(leader?.Id);
            }
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _node.StartAsync(timeout.Token);
        await _node.WaitForLeaderReadyAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        if (Directory.Exists(_dataDirectory))
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Propose_ReturnsTheMachinesReply_AndReportsLeadership()
    {
        var reply = await _node.ProposeAsync("hello"u8.ToArray(), CancellationToken.None);

        Assert.Equal("reply:hello", reply);
        Assert.True(_node.IsLeader);
        Assert.Equal("node1", _node.Leader?.Id);
        Assert.True(_node.CommitIndex >= _machine.LastAppliedIndex);
        Assert.Equal(_node.CommitIndex, _node.LastAppliedLogIndex);
        Assert.Equal([("node1", "leader")], _node.MembersView.Select(m => (m.Member.Id, m.Status)));
        await _node.ReadBarrierAsync(CancellationToken.None);
        lock (_leaderChanges)
        {
            Assert.Contains("node1", _leaderChanges);
        }
    }

    [Fact]
    public async Task OnlyCommandsReachTheMachine_WithNonDecreasingLeaderTime()
    {
        for (var i = 0; i < 20; i++)
        {
            await _node.ProposeAsync(Encoding.UTF8.GetBytes($"c{i}"), CancellationToken.None);
        }

        Assert.Equal(20, _machine.Applied.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"c{i}"), _machine.Applied.Select(a => a.Command));
        Assert.True(_machine.Applied.Zip(_machine.Applied.Skip(1)).All(p => p.Second.LeaderTimeMs >= p.First.LeaderTimeMs));
        Assert.True(_machine.Applied.Zip(_machine.Applied.Skip(1)).All(p => p.Second.Index > p.First.Index));
    }

    [Fact]
    public async Task ConcurrentProposals_ShareEntries_AndEachProposerGetsItsOwnReply()
    {
        var commands = Enumerable.Range(0, 200).Select(i => $"p{i}").ToArray();
        // Proposed from one thread without waiting in between: all 200 are waiting before the first entry commits.
        var replies = await Task.WhenAll(commands.Select(command => _node.ProposeAsync(Encoding.UTF8.GetBytes(command), CancellationToken.None)).ToArray());

        Assert.Equal(commands.Select(command => "reply:" + command), replies.Cast<string>());
        Assert.Equal(commands.Order(StringComparer.Ordinal), _machine.Applied.Select(a => a.Command).Order(StringComparer.Ordinal));
        // At most 16 entries replicate at once (MaxEntriesInFlight), so 200 proposals at once must share entries;
        // the commands of an entry come in positions 0, 1, 2… and every entry's time is one.
        var entries = _machine.Positions.GroupBy(p => p.Index).ToList();
        Assert.True(entries.Count < commands.Length, $"{entries.Count} entries for {commands.Length} proposals");
        Assert.All(entries, entry => Assert.Equal(Enumerable.Range(0, entry.Count()), entry.Select(p => p.Position)));
        Assert.All(_machine.Applied.GroupBy(a => a.Index), entry => Assert.Single(entry.Select(a => a.LeaderTimeMs).Distinct()));
    }

    [Fact]
    public async Task WithoutBatching_EveryProposalIsAnEntryOfItsOwn()
    {
        var directory = Path.Combine(Path.GetTempPath(), "raftdlm-consensus-tests", Guid.NewGuid().ToString("N"));
        var machine = new RecordingMachine();
        await using var node = new RaftNode(Options(directory, batching: false), machine);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await node.StartAsync(timeout.Token);
        await node.WaitForLeaderReadyAsync(timeout.Token);

        await Task.WhenAll(Enumerable.Range(0, 50).Select(i => Task.Run(() => node.ProposeAsync(Encoding.UTF8.GetBytes($"q{i}"), timeout.Token))));

        Assert.Equal(50, machine.Positions.Count);
        Assert.Equal(50, machine.Positions.Select(p => p.Index).Distinct().Count());
        Assert.All(machine.Positions, p => Assert.Equal(0, p.Position));
        await node.StopAsync(CancellationToken.None);
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task MachineThatThrows_GivesUnknownOutcome_AndTheNodeKeepsApplying()
    {
        var failure = await Assert.ThrowsAsync<OutcomeUnknownException>(
            () => _node.ProposeAsync("throw"u8.ToArray(), CancellationToken.None));
        Assert.IsType<InvalidOperationException>(failure.InnerException);

        var reply = await _node.ProposeAsync("after"u8.ToArray(), CancellationToken.None);
        Assert.Equal("reply:after", reply);
    }

    [Fact]
    public async Task Metrics_RecordProposalsAndCommitLatency()
    {
        var measurements = new List<(string Instrument, double Value)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == RaftNode.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) =>
        {
            lock (measurements)
            {
                measurements.Add((i.Name, v));
            }
        });
        listener.SetMeasurementEventCallback<double>((i, v, _, _) =>
        {
            lock (measurements)
            {
                measurements.Add((i.Name, v));
            }
        });
        listener.Start();

        await _node.ProposeAsync("m"u8.ToArray(), CancellationToken.None);

        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Instrument == "raftdlm.consensus.proposals");
            Assert.Contains(measurements, m => m.Instrument == "raftdlm.consensus.commit_latency" && m.Value >= 0);
        }
    }

    [Fact]
    public async Task StateIsRestoredAfterRestart_AndProposingAfterStopIsRefused()
    {
        await _node.ProposeAsync("kept"u8.ToArray(), CancellationToken.None);
        await _node.DisposeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => _node.ProposeAsync("x"u8.ToArray(), CancellationToken.None));

        var restartedMachine = new RecordingMachine();
        _node = new RaftNode(Options(_dataDirectory), restartedMachine);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _node.StartAsync(timeout.Token);
        await _node.WaitForLeaderReadyAsync(timeout.Token);

        Assert.Equal(["kept"], restartedMachine.Applied.Select(a => a.Command));
    }

    [Fact]
    public async Task FailedStart_ReleasesItsResources_SoANewNodeCanStartOnTheSameData()
    {
        var otherDirectory = _dataDirectory + "-busy";
        var options = Options(otherDirectory);
        using (var squatter = new TcpListener(IPEndPoint.Parse(options.Members[0].RaftEndpoint)))
        {
            squatter.Start();
            await using var blocked = new RaftNode(options, new RecordingMachine());
            await Assert.ThrowsAnyAsync<Exception>(() => blocked.StartAsync(CancellationToken.None));
        }

        await using var retry = new RaftNode(options, new RecordingMachine());
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await retry.StartAsync(timeout.Token);
        await retry.WaitForLeaderReadyAsync(timeout.Token);
        Assert.Equal("reply:ok", await retry.ProposeAsync("ok"u8.ToArray(), timeout.Token));
        await retry.StopAsync(CancellationToken.None);
        Directory.Delete(otherDirectory, recursive: true);
    }

    [Fact]
    public void Options_AreValidated()
    {
        var members = new[] { new RaftMember("a", "127.0.0.1:1", "http://a") };
        Assert.Throws<ArgumentException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "b", Members = members, DataDirectory = _dataDirectory }, _machine));
        Assert.ThrowsAny<ArgumentException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = _dataDirectory, ChunkSizeBytes = 4096 }, _machine));
        // A Raft request may not outlast the shortest election, or a stalled member blocks every election.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = _dataDirectory, ElectionTimeoutMinMs = 800, RequestTimeoutMs = 800 }, _machine));
        Assert.Contains("below the lower election timeout", error.Message, StringComparison.Ordinal);
        _ = new RaftNode(new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = _dataDirectory, ElectionTimeoutMinMs = 800, RequestTimeoutMs = 799 }, _machine);
    }

    private static RaftNodeOptions Options(string dataDirectory, bool batching = true)
    {
        var endpoint = $"127.0.0.1:{LocalPorts.Free(1)[0]}";
        return new RaftNodeOptions
        {
            NodeId = "node1",
            Members = [new RaftMember("node1", endpoint, "http://127.0.0.1:1")],
            DataDirectory = dataDirectory,
            ProposalBatching = batching,
        };
    }

    private sealed class RecordingMachine : IReplicatedStateMachine
    {
        public List<(long Index, long LeaderTimeMs, string Command)> Applied { get; } = [];

        public List<(long Index, int Position)> Positions { get; } = [];

        public long LastAppliedIndex { get; private set; }

        public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
        {
            var text = Encoding.UTF8.GetString(command);
            Applied.Add((index, leaderTimeMs, text));
            Positions.Add((index, position));
            LastAppliedIndex = index;
            return text == "throw"
                ? throw new InvalidOperationException("the machine broke its contract")
                : "reply:" + text;
        }

        public void WriteSnapshot(Stream destination) => throw new NotSupportedException();

        public void RestoreSnapshot(Stream source) => throw new NotSupportedException();
    }
}
