using RaftDlm.Consensus.Tests.Processes;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// A rolling upgrade's worst case (docs/formats.md): a follower of the older version receives a command it does
/// not know. It must not skip it (its state would silently differ from the others'): it stops applying and says
/// why (DotNext then refuses the leader's appends too: the node counts as down), and once upgraded it applies
/// everything, from its own data directory and the leader, to the same state as the others.
/// </summary>
public sealed class MixedVersionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task An_old_follower_stops_applying_at_a_command_it_does_not_know_and_catches_up_once_upgraded()
    {
        await using var cluster = new TestNodeCluster(3);
        await cluster.StartAsync("node1");
        await cluster.StartAsync("node2");
        var leader = await cluster.WaitForLeaderAsync(Wait);
        await cluster.StartAsync("node3", "refusePrefix=v2:");
        await cluster.ProposeAllAsync(leader, ["a-0"]);
        await cluster.WaitForConvergenceAsync(1, Wait);

        await cluster.ProposeAllAsync(leader, ["v2:new-kind", "a-1", "a-2"]);
        var deadline = DateTime.UtcNow + Wait;
        while (!cluster.Node("node3").StderrContains("cannot be applied by this build") && DateTime.UtcNow < deadline) await Task.Delay(100);
        var old = await cluster.StatusAsync("node3");
        Assert.True(cluster.Node("node3").StderrContains("cannot be applied by this build"), $"no refusal in the old follower's log: {old}\n{cluster.Node("node3").StderrTail}");
        Assert.True(old.Count == 1, $"the old follower applied past the command it does not know: {old}");
        Assert.True(old.AppliedIndex < old.CommitIndex, $"the old follower says it applied what it refused: {old}");
        // DotNext's log refuses every later append once its applier failed: to the others the node is down.
        var newer = await cluster.StatusAsync(leader);
        Assert.True(newer.Count == 4 && old.CommitIndex < newer.CommitIndex, $"the old follower went on taking the log: {old}, leader {newer}");

        // The upgrade: the same data directory, a build that knows the command.
        await cluster.QuitAsync("node3");
        await cluster.StartAsync("node3");
        var statuses = await cluster.WaitForConvergenceAsync(4, Wait);
        Assert.Single(statuses.Select(status => status.Hash).Distinct());
    }
}
