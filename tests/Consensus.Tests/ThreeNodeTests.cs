using RaftDlm.Consensus.Tests.Processes;
using static RaftDlm.Consensus.Tests.SingleNodeTests;

namespace RaftDlm.Consensus.Tests;

public sealed class ThreeNodeTests
{
    private static readonly TimeSpan ElectionTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ConvergenceTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ThreeNodes_ElectLeader_FollowerRefuses_AndAllReachIdenticalState()
    {
        await using var cluster = new TestNodeCluster(3);
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);

        await cluster.ProposeAllAsync(leader, Commands("c", 30));

        var follower = cluster.Ids.First(id => id != leader);
        Assert.Equal($"ERR NotLeader leader={leader}", await cluster.SendAsync(follower, "propose never"));
        Assert.StartsWith("ERR NotLeader", await cluster.SendAsync(follower, "barrier"), StringComparison.Ordinal);
        Assert.Equal("OK barrier", await cluster.SendAsync(leader, "barrier"));

        var statuses = await cluster.WaitForConvergenceAsync(30, ConvergenceTimeout);
        Assert.All(statuses, s => Assert.Equal(leader, s.Leader));
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
        Assert.Equal("OK false", await cluster.SendAsync(follower, "has never"));
    }

    [Fact]
    public async Task KilledLeader_IsReplaced_NoAcknowledgedCommandIsLost_AndItCatchesUpAfterRestart()
    {
        await using var cluster = new TestNodeCluster(3);
        await cluster.StartAllAsync();
        var oldLeader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(oldLeader, Commands("before", 20));
        var timeBeforeKill = (await cluster.StatusAsync(oldLeader)).LastTimeMs;

        cluster.Kill(oldLeader);
        var newLeader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        Assert.NotEqual(oldLeader, newLeader);

        foreach (var command in Commands("before", 20))
        {
            Assert.Equal("OK true", await cluster.SendAsync(newLeader, "has " + command));
        }
        await cluster.ProposeAllAsync(newLeader, Commands("after", 10));

        await cluster.StartAsync(oldLeader);
        var statuses = await cluster.WaitForConvergenceAsync(30, ConvergenceTimeout);

        // Leader time never goes backwards across the change: no node saw a regression, and the newest
        // applied time is not older than the old leader's last one.
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
        Assert.All(statuses, s => Assert.True(s.LastTimeMs >= timeBeforeKill, s.ToString()));
        Assert.All(statuses, s => Assert.True(s.Term > 0, s.ToString()));
    }

    [Fact]
    public async Task WipedFollower_RejoinsThroughSnapshotInstall_ToIdenticalState()
    {
        await using var cluster = new TestNodeCluster(3, "snapshotEvery=20");
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(leader, Commands("s", 50));
        var afterFirst = await cluster.WaitForConvergenceAsync(50, ConvergenceTimeout);
        Assert.All(afterFirst, s => Assert.True(s.SnapshotIndex >= 20, s.ToString()));

        var follower = cluster.Ids.First(id => id != leader);
        cluster.Kill(follower);
        cluster.Wipe(follower);
        await cluster.ProposeAllAsync(leader, Commands("t", 10));

        await cluster.StartAsync(follower);
        var statuses = await cluster.WaitForConvergenceAsync(60, ConvergenceTimeout);
        var rejoined = statuses.Single(s => s.Id == follower);

        // The leader's log before its snapshot is compacted away, so the follower must have received it.
        Assert.True(rejoined.SnapshotIndex >= 20, rejoined.ToString());
        Assert.True(cluster.Node(follower).StderrContains("restored"), cluster.Node(follower).StderrTail);
        Assert.Equal("OK true", await cluster.SendAsync(follower, "has s-0"));
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
    }

    /// <summary>
    /// Trap 13: a follower that was down while the leader compacted its log needs the leader's snapshot, and
    /// its install outlasts the Raft request timeout (here by a slow restore). The follower ends up holding
    /// the snapshot after the leader gave up; DotNext then refuses the same snapshot as not above the
    /// follower's commit index and the leader walks its next index down, one entry per round. The leader
    /// must move on to the log after the snapshot, and the follower catch up.
    /// </summary>
    [Fact]
    public async Task A_follower_whose_snapshot_install_outlasts_the_request_timeout_still_catches_up()
    {
        await using var cluster = new TestNodeCluster(3, "snapshotEvery=20", "slowRestoreOnceMs=1500");
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(leader, Commands("a", 10));
        await cluster.WaitForConvergenceAsync(10, ConvergenceTimeout);

        var follower = cluster.Ids.First(id => id != leader);
        cluster.Kill(follower);
        await cluster.ProposeAllAsync(leader, Commands("b", 60));

        await cluster.StartAsync(follower);
        var statuses = await cluster.WaitForConvergenceAsync(70, ConvergenceTimeout);
        Assert.True(statuses.Single(s => s.Id == follower).SnapshotIndex >= 20);
        Assert.Equal("OK true", await cluster.SendAsync(follower, "has b-59"));
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
    }

    /// <summary>
    /// Trap 13 with a follower that keeps a long log and whose every install outlasts the request timeout (a
    /// table too large to send and restore within one request). The leader walks its next index down from far
    /// above 0 after each refused offer of the snapshot the follower already holds, and a newer snapshot would
    /// be as slow: only resuming replication right after the snapshot lets the follower catch up. Without it the
    /// follower stays at the snapshot's index (checked: not converged within 30 s).
    /// </summary>
    [Fact]
    public async Task A_follower_with_a_log_behind_the_leaders_snapshot_catches_up_though_every_install_outlasts_the_request_timeout()
    {
        await using var cluster = new TestNodeCluster(3, "snapshotEvery=100", "slowRestoreMs=1500");
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(leader, Commands("a", 150));
        await cluster.WaitForConvergenceAsync(150, ConvergenceTimeout);

        var follower = cluster.Ids.First(id => id != leader);
        cluster.Kill(follower);
        await cluster.ProposeAllAsync(leader, Commands("b", 400));

        await cluster.StartAsync(follower);
        var statuses = await cluster.WaitForConvergenceAsync(550, ConvergenceTimeout);
        Assert.True(statuses.Single(s => s.Id == follower).SnapshotIndex >= 400, statuses.Single(s => s.Id == follower).ToString());
        Assert.Equal("OK true", await cluster.SendAsync(follower, "has b-399"));
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
    }

    [Fact]
    public async Task LeaderWithoutQuorum_ReportsUnknownOutcome_AndTheClusterStillAgreesAfterwards()
    {
        await using var cluster = new TestNodeCluster(3, "proposalTimeoutMs=2000");
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(leader, Commands("q", 5));
        var followers = cluster.Ids.Where(id => id != leader).ToList();
        foreach (var follower in followers)
        {
            cluster.Kill(follower);
        }

        // The entry is appended on the leader but cannot commit: neither "done" nor "not proposed".
        Assert.StartsWith("ERR Unknown", await cluster.SendAsync(leader, "propose maybe"), StringComparison.Ordinal);

        foreach (var follower in followers)
        {
            await cluster.StartAsync(follower);
        }
        var newLeader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(newLeader, ["final"]);

        // "maybe" may or may not have survived, but every node must agree on it.
        var maybe = await cluster.SendAsync(newLeader, "has maybe") == "OK true";
        var statuses = await cluster.WaitForConvergenceAsync(maybe ? 7 : 6, ConvergenceTimeout);
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
    }

    /// <summary>
    /// A leader is paused long enough for the others to elect a new one, and wakes up with a burst of its own
    /// proposals in flight while it learns the newer term. Whatever it appends then must carry the term it was
    /// elected in: under the newer term, its entries would sit at the indexes where the new leader put its
    /// own, with the same term, and a replica could apply a command the others never had (bug B2).
    /// </summary>
    [Fact]
    public async Task A_paused_leader_waking_into_a_newer_term_with_proposals_in_flight_leaves_every_replica_identical()
    {
        const int Rounds = 4;
        await using var cluster = new TestNodeCluster(3);
        await cluster.StartAllAsync();
        for (var round = 0; round < Rounds; round++)
        {
            var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
            await cluster.ProposeAllAsync(leader, Commands($"r{round}", 5));
            cluster.Node(leader).Pause();
            Task<string> flood;
            try
            {
                await cluster.WaitForLeaderAsync(ElectionTimeout, except: leader);
                // Queued on the paused node's input: it reads them as soon as it runs again.
                flood = cluster.SendAsync(leader, $"flood 64 f{round}");
            }
            finally
            {
                cluster.Node(leader).Resume();
            }

            Assert.StartsWith("OK ", await flood, StringComparison.Ordinal);
        }

        var last = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(last, ["last"]);
        var statuses = await cluster.WaitForConvergenceAsync((int)(await cluster.StatusAsync(last)).Count, ConvergenceTimeout);
        Assert.All(statuses, s => Assert.Equal(0, s.Regressions));
    }

    /// <summary>
    /// Both followers stall at once (on a machine whose nodes share a disk, one slow sync does that: a follower
    /// answers an append only once it is on disk) for longer than half the lower election timeout, the old
    /// default request timeout, but less than the default now. DotNext's leader steps down after one round of
    /// appends that no majority answered in time; with the default request timeout it rides the stall out,
    /// keeps its term, and the proposal made during the stall is committed. With <c>requestTimeoutMs</c> at half
    /// the election timeout the leader stepped down in the first round.
    /// </summary>
    [Fact]
    public async Task Both_followers_stalled_for_less_than_the_request_timeout_cost_the_leader_nothing()
    {
        // The default request timeout is then 1,800 ms and the old one 1,000 ms; the stall is 1,200 ms. A paused
        // follower's election timer runs on (a follower stalled in a sync got the append that refreshed it), so
        // the stall and a heartbeat interval (600 ms) stay below the lower election timeout.
        await using var cluster = new TestNodeCluster(3, "electionMinMs=2000", "electionMaxMs=4000");
        await cluster.StartAllAsync();
        var leader = await cluster.WaitForLeaderAsync(ElectionTimeout);
        await cluster.ProposeAllAsync(leader, Commands("before", 5));
        var term = (await cluster.StatusAsync(leader)).Term;
        var followers = cluster.Ids.Where(id => id != leader).ToArray();

        for (var round = 0; round < 3; round++)
        {
            Task<string> proposal;
            foreach (var follower in followers) cluster.Node(follower).Pause();
            try
            {
                proposal = cluster.SendAsync(leader, $"propose stalled{round}");
                await Task.Delay(TimeSpan.FromMilliseconds(1200));
            }
            finally
            {
                foreach (var follower in followers) cluster.Node(follower).Resume();
            }

            Assert.StartsWith("OK applied#", await proposal, StringComparison.Ordinal);
            // Long enough between stalls for the followers to answer everything queued meanwhile.
            await Task.Delay(TimeSpan.FromMilliseconds(1000));
        }

        await cluster.ProposeAllAsync(leader, ["after"]);
        var statuses = await cluster.WaitForConvergenceAsync(9, ConvergenceTimeout);
        Assert.All(statuses, s => Assert.Equal(leader, s.Leader));
        Assert.All(statuses, s => Assert.Equal(term, s.Term));
    }
}
