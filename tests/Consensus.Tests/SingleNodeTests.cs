using RaftDlm.Consensus.Tests.Processes;

namespace RaftDlm.Consensus.Tests;

public sealed class SingleNodeTests
{
    private static readonly TimeSpan ElectionTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task SingleNode_Proposes_AndKeepsItsStateAcrossCleanRestartAndKill9()
    {
        await using var cluster = new TestNodeCluster(1);
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        Assert.Equal("node1", leader);

        await cluster.ProposeAllAsync(leader, Commands("a", 20));
        var beforeRestart = await cluster.StatusAsync(leader);
        Assert.Equal(20, beforeRestart.Count);

        await cluster.QuitAsync(leader);
        await cluster.StartAsync(leader);
        var afterRestart = await cluster.StatusAsync(leader);
        Assert.Equal(beforeRestart.Count, afterRestart.Count);
        Assert.Equal(beforeRestart.Hash, afterRestart.Hash);
        Assert.True(afterRestart.IsLeader, afterRestart.ToString());

        await cluster.ProposeAllAsync(leader, Commands("b", 5));
        var beforeKill = await cluster.StatusAsync(leader);

        // Every acknowledged command was synced before it was acknowledged, so kill -9 loses none.
        cluster.Kill(leader);
        await cluster.StartAsync(leader);
        var afterKill = await cluster.StatusAsync(leader);
        Assert.Equal(25, afterKill.Count);
        Assert.Equal(beforeKill.Hash, afterKill.Hash);
        Assert.Equal("OK true", await cluster.SendAsync(leader, "has b-4"));
        Assert.Equal(0, afterKill.Regressions);
        Assert.Equal("OK barrier", await cluster.SendAsync(leader, "barrier"));
    }

    internal static IEnumerable<string> Commands(string prefix, int count)
        => Enumerable.Range(0, count).Select(i => $"{prefix}-{i}");
}
