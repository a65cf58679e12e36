using RaftDlm.Samples.ClusterizedExceptionStore;
using RaftDlm.Testing;

namespace RaftDlm.Client.Tests;

/// <summary>Tests that kill the leader: each starts its own cluster.</summary>
public sealed class FailoverTests
{
    [Fact]
    public async Task Keep_alives_survive_a_leader_kill_without_session_expiry()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var ct = timeout.Token;
        await using var cluster = await ServerCluster.StartAsync(3);
        await using var client = Clients.For(cluster, "failover");
        await client.CreateLockspaceAsync("failover", 8, ct: ct);
        await using var session = await client.OpenSessionAsync("survivor", TimeSpan.FromSeconds(3), ct);
        var states = new List<SessionState>();
        session.StateChanged += (_, change) =>
        {
            lock (states) states.Add(change.Current);
        };
        var handle = session.AllocLock("failover", "r");
        var before = await handle.LockAsync(LockMode.EX, ct);

        var leader = await cluster.WaitForLeaderAsync();
        cluster.Kill(leader);
        var next = await cluster.WaitForLeaderAsync();
        Assert.NotEqual(leader, next);
        // Stay past two TTLs after the kill: keep-alives must have reached the new leader.
        await Task.Delay(TimeSpan.FromSeconds(6), ct);

        lock (states) Assert.DoesNotContain(SessionState.Expired, states);
        Assert.True(await Clients.EventuallyAsync(() => session.State == SessionState.Healthy, TimeSpan.FromSeconds(5)));
        var info = await session.GetInfoAsync(ct);
        Assert.Contains(info.Locks!, item => item.LockId == before.LockId && item.State == "granted");
        Assert.True(await client.CheckFenceAsync("failover", "r", before.FencingToken, LockMode.EX, ct));
        await handle.UnlockAsync(Clients.Lvb(9), ct);
        var again = await handle.LockAsync(LockMode.PR, ct);
        Assert.True(again.FencingToken > before.FencingToken);
        await handle.UnlockAsync(ct: ct);
    }

    [Fact]
    public async Task Exception_store_across_a_leader_failover()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var ct = timeout.Token;
        await using var cluster = await ServerCluster.StartAsync(3);
        var storeDirectory = Path.Combine(Path.GetTempPath(), "raftdlm-store-" + Guid.NewGuid().ToString("N"));
        var store = new SharedStore(storeDirectory);
        var clients = new List<DlmClient>();
        var nodes = new List<ExceptionStoreNode>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = Clients.For(cluster, "store-" + i);
                clients.Add(client);
                await client.CreateLockspaceAsync("exceptions", 8, ct: ct);
                var session = await client.OpenSessionAsync("store-" + i, TimeSpan.FromSeconds(4), ct);
                nodes.Add(new ExceptionStoreNode("store-" + i, session, "exceptions", store));
            }
            foreach (var node in nodes) await node.LookupAsync("nothing-yet", ct); // every node holds NL from here on

            var committed = new System.Collections.Concurrent.ConcurrentDictionary<string, string>();
            var leaderKilled = Task.Run(async () =>
            {
                await Task.Delay(700, ct);
                cluster.Kill(await cluster.WaitForLeaderAsync());
            }, ct);
            var writers = nodes.Select(node => Task.Run(async () =>
            {
                for (var i = 0; i < 12; i++)
                {
                    var key = $"{node.Name}/chunk-{i}";
                    var value = $"block-{i * 7}";
                    await node.CommitAsync(key, value, ct);
                    committed[key] = value;
                    await node.LookupAsync($"store-{(i % 3)}/chunk-{i / 2}", ct);
                    await Task.Delay(50, ct);
                }
            }, ct)).ToList();
            await Task.WhenAll(writers);
            await leaderKilled;

            Assert.Equal(36, committed.Count);
            foreach (var node in nodes)
            {
                Assert.NotEqual(SessionState.Expired, node.Session.State);
                foreach (var (key, value) in committed) Assert.Equal(value, await node.LookupAsync(key, ct));
                var counters = node.ObservedCounters;
                for (var i = 1; i < counters.Count; i++) Assert.True(counters[i - 1] <= counters[i], $"{node.Name} saw the counter go from {counters[i - 1]} to {counters[i]}");
            }

            // A node dies holding EX after preparing: the LVB is left invalid and the next reader rescans.
            var doomed = nodes[2];
            doomed.AfterPrepare = () => clients[2].CloseSessionAsync(doomed.Session.SessionId, ct);
            await Assert.ThrowsAnyAsync<DlmException>(() => doomed.CommitAsync("store-2/last-words", "prepared", ct));
            var reader = nodes[0];
            var rescans = reader.Rescans;
            Assert.Equal("prepared", await reader.LookupAsync("store-2/last-words", ct));
            Assert.Equal(rescans + 1, reader.Rescans);
            // The next writer also rescans, and numbers its record after the dead node's.
            var seq = await nodes[1].CommitAsync("store-1/after", "x", ct);
            Assert.Equal((ulong)store.ReadAll().Count, seq);
            Assert.Equal("x", await reader.LookupAsync("store-1/after", ct));
        }
        finally
        {
            foreach (var node in nodes)
            {
                await node.DisposeAsync();
                await node.Session.DisposeAsync();
            }
            foreach (var client in clients) client.Dispose();
            Directory.Delete(storeDirectory, recursive: true);
        }
    }
}
