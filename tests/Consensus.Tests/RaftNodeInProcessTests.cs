using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests;

/// <summary>A single-node cluster inside the test process: the public API, replies, guards and metrics.</summary>
public sealed class RaftNodeInProcessTests : IAsyncLifetime
{
    private readonly string dataDirectory = Path.Combine(Path.GetTempPath(), "raftdlm-consensus-tests", Guid.NewGuid().ToString("N"));
    private readonly RecordingMachine machine = new();
    private readonly List<string?> leaderChanges = [];
    private RaftNode node = null!;

    public async Task InitializeAsync()
    {
        node = new RaftNode(Options(dataDirectory), machine);
        node.LeaderChanged += leader =>
        {
            lock (leaderChanges)
                leaderChanges.Add(leader?.Id);
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await node.StartAsync(timeout.Token);
        await node.WaitForLeaderReadyAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        await node.DisposeAsync();
        if (Directory.Exists(dataDirectory))
            Directory.Delete(dataDirectory, recursive: true);
    }

    [Fact]
    public async Task Propose_ReturnsTheMachinesReply_AndReportsLeadership()
    {
        var reply = await node.ProposeAsync("hello"u8.ToArray(), CancellationToken.None);

        Assert.Equal("reply:hello", reply);
        Assert.True(node.IsLeader);
        Assert.Equal("node1", node.Leader?.Id);
        Assert.True(node.CommitIndex >= machine.LastAppliedIndex);
        Assert.Equal(node.CommitIndex, node.LastAppliedLogIndex);
        Assert.Equal([("node1", "leader")], node.MembersView.Select(m => (m.Member.Id, m.Status)));
        await node.ReadBarrierAsync(CancellationToken.None);
        lock (leaderChanges)
            Assert.Contains("node1", leaderChanges);
    }

    [Fact]
    public async Task OnlyCommandsReachTheMachine_WithNonDecreasingLeaderTime()
    {
        for (var i = 0; i < 20; i++)
            await node.ProposeAsync(Encoding.UTF8.GetBytes($"c{i}"), CancellationToken.None);

        Assert.Equal(20, machine.Applied.Count);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"c{i}"), machine.Applied.Select(a => a.Command));
        Assert.True(machine.Applied.Zip(machine.Applied.Skip(1)).All(p => p.Second.LeaderTimeMs >= p.First.LeaderTimeMs));
        Assert.True(machine.Applied.Zip(machine.Applied.Skip(1)).All(p => p.Second.Index > p.First.Index));
    }

    [Fact]
    public async Task MachineThatThrows_GivesUnknownOutcome_AndTheNodeKeepsApplying()
    {
        var failure = await Assert.ThrowsAsync<OutcomeUnknownException>(
            () => node.ProposeAsync("throw"u8.ToArray(), CancellationToken.None));
        Assert.IsType<InvalidOperationException>(failure.InnerException);

        var reply = await node.ProposeAsync("after"u8.ToArray(), CancellationToken.None);
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
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) =>
        {
            lock (measurements)
                measurements.Add((i.Name, v));
        });
        listener.SetMeasurementEventCallback<double>((i, v, _, _) =>
        {
            lock (measurements)
                measurements.Add((i.Name, v));
        });
        listener.Start();

        await node.ProposeAsync("m"u8.ToArray(), CancellationToken.None);

        lock (measurements)
        {
            Assert.Contains(measurements, m => m.Instrument == "raftdlm.consensus.proposals");
            Assert.Contains(measurements, m => m.Instrument == "raftdlm.consensus.commit_latency" && m.Value >= 0);
        }
    }

    [Fact]
    public async Task StateIsRestoredAfterRestart_AndProposingAfterStopIsRefused()
    {
        await node.ProposeAsync("kept"u8.ToArray(), CancellationToken.None);
        await node.DisposeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => node.ProposeAsync("x"u8.ToArray(), CancellationToken.None));

        var restartedMachine = new RecordingMachine();
        node = new RaftNode(Options(dataDirectory), restartedMachine);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await node.StartAsync(timeout.Token);
        await node.WaitForLeaderReadyAsync(timeout.Token);

        Assert.Equal(["kept"], restartedMachine.Applied.Select(a => a.Command));
    }

    [Fact]
    public async Task FailedStart_ReleasesItsResources_SoANewNodeCanStartOnTheSameData()
    {
        var otherDirectory = dataDirectory + "-busy";
        var options = Options(otherDirectory);
        using (var squatter = new TcpListener(options.Members[0].RaftEndpoint))
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
        var members = new[] { new RaftMember("a", new IPEndPoint(IPAddress.Loopback, 1), "http://a") };
        Assert.Throws<ArgumentException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "b", Members = members, DataDirectory = dataDirectory }, machine));
        Assert.ThrowsAny<ArgumentException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = dataDirectory, ChunkSizeBytes = 4096 }, machine));
        // A Raft request may not outlast the shortest election, or a stalled member blocks every election.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RaftNode(
            new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = dataDirectory, ElectionTimeoutMinMs = 800, RequestTimeoutMs = 800 }, machine));
        Assert.Contains("below the lower election timeout", error.Message, StringComparison.Ordinal);
        _ = new RaftNode(new RaftNodeOptions { NodeId = "a", Members = members, DataDirectory = dataDirectory, ElectionTimeoutMinMs = 800, RequestTimeoutMs = 799 }, machine);
    }

    private static RaftNodeOptions Options(string dataDirectory)
    {
        var endpoint = new IPEndPoint(IPAddress.Loopback, LocalPorts.Free(1)[0]);
        return new RaftNodeOptions
        {
            NodeId = "node1",
            Members = [new RaftMember("node1", endpoint, "http://127.0.0.1:1")],
            DataDirectory = dataDirectory,
        };
    }

    private sealed class RecordingMachine : IReplicatedStateMachine
    {
        public List<(long Index, long LeaderTimeMs, string Command)> Applied { get; } = [];

        public long LastAppliedIndex { get; private set; }

        public object? Apply(long index, long leaderTimeMs, ReadOnlySpan<byte> command)
        {
            var text = Encoding.UTF8.GetString(command);
            Applied.Add((index, leaderTimeMs, text));
            LastAppliedIndex = index;
            return text == "throw"
                ? throw new InvalidOperationException("the machine broke its contract")
                : "reply:" + text;
        }

        public void WriteSnapshot(Stream destination) => throw new NotSupportedException();

        public void RestoreSnapshot(Stream source) => throw new NotSupportedException();
    }
}
