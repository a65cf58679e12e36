namespace RaftDlm.Client.Tests;

/// <summary>Converting a held lock in place, up and down with an LVB write, and adopting an orphan.</summary>
public sealed class ConversionTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(40);

    [Fact]
    public async Task A_held_lock_converts_up_and_down_in_place_writing_the_lvb_on_the_way_down()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "convert-a");
        await using var clientB = Clients.For(fixture.Cluster, "convert-b");
        await clientA.CreateLockspaceAsync("convert", 8, ct: ct);
        await using var a = await clientA.OpenSessionAsync("a", TimeSpan.FromSeconds(30), ct);
        await using var b = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(30), ct);

        await using var held = await a.LockAsync("convert", "meta", LockMode.PR, ct);
        var lockId = held.Handle.LockId;
        var reader = await b.LockAsync("convert", "meta", LockMode.PR, ct);

        // Up: PR -> EX queues behind b's PR, and is granted when b lets go.
        var up = held.ConvertAsync(LockMode.EX, ct: ct);
        await Task.Delay(300, ct);
        Assert.False(up.IsCompleted);
        await reader.DisposeAsync();
        var ex = await up.WaitAsync(TimeSpan.FromSeconds(20), ct);
        Assert.Equal(LockMode.EX, ex.Mode);
        Assert.Equal(lockId, held.Handle.LockId);

        // Down to NL with an LVB write: the lock stays (same id, same token), others read the value.
        var nl = await held.ConvertAsync(LockMode.NL, Clients.Lvb(42), ct);
        Assert.Equal(LockMode.NL, nl.Mode);
        Assert.Equal(ex.FencingToken, nl.FencingToken);
        Assert.Equal(lockId, held.Handle.LockId);
        await using (var next = await b.LockAsync("convert", "meta", LockMode.PR, ct))
        {
            Assert.Equal(42UL, Clients.Counter(next.Lvb));
            Assert.True(next.LvbValid);
        }

        // An LVB on an upward conversion is refused before anything is sent.
        await Assert.ThrowsAsync<InvalidOperationException>(() => held.ConvertAsync(LockMode.EX, Clients.Lvb(1), ct));
        var again = await held.ConvertAsync(LockMode.PR, ct: ct);
        Assert.Equal(42UL, Clients.Counter(again.Lvb));
    }

    [Fact]
    public async Task An_orphan_is_adopted_with_its_lock_id_and_fencing_token()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var client = Clients.For(fixture.Cluster, "adopt");
        await client.CreateLockspaceAsync("adopt", 8, ct: ct);
        var dying = await client.OpenSessionAsync(new DlmSessionOptions { Name = "dying", Ttl = TimeSpan.FromMilliseconds(1500), LocalLeaseDeadline = false }, ct);
        var handle = dying.AllocLock("adopt", "volume", new LockOptions { Flags = ["persistent"] });
        var grant = await handle.LockAsync(LockMode.EX, ct);
        dying.PauseKeepAlives(true);
        await dying.Ended.WaitAsync(TimeSpan.FromSeconds(20), ct);
        await dying.DisposeAsync();
        var orphan = await client.GetResourceAsync("adopt", "volume", ct);
        Assert.Equal("orphan", Assert.Single(orphan!.Granted).State);

        await using var heir = await client.OpenSessionAsync("heir", TimeSpan.FromSeconds(30), ct);
        await Assert.ThrowsAsync<DlmException>(() => heir.AdoptOrphanAsync("adopt", "volume", LockMode.PR, ct));
        await using (var adopted = await heir.AdoptOrphanAsync("adopt", "volume", LockMode.EX, ct))
        {
            Assert.Equal(grant.LockId, adopted.Handle.LockId);
            Assert.Equal(grant.FencingToken, adopted.FencingToken);
            var info = await heir.GetInfoAsync(ct);
            Assert.Contains(info.Locks!, item => item.LockId == grant.LockId && item.State == "granted");
        }
        Assert.Null(await client.GetResourceAsync("adopt", "volume", ct));
    }
}
