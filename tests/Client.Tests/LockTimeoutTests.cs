namespace RaftDlm.Client.Tests;

/// <summary>The <see cref="LockOptions.Timeout"/> of a handle: the server cancels a request still queued past it.</summary>
public sealed class LockTimeoutTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Request_queued_past_its_timeout_fails_with_LockTimeoutException_and_the_handle_stays_usable()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var client = Clients.For(fixture.Cluster, "timeout");
        await client.CreateLockspaceAsync("timeouts", 8, ct: ct);
        await using var holder = await client.OpenSessionAsync("holder", TimeSpan.FromSeconds(10), ct);
        await using var waiter = await client.OpenSessionAsync("waiter", TimeSpan.FromSeconds(10), ct);
        var held = holder.AllocLock("timeouts", "r");
        await held.LockAsync(LockMode.EX, ct);

        var handle = waiter.AllocLock("timeouts", "r", new LockOptions { Timeout = TimeSpan.FromMilliseconds(300) });
        var error = await Assert.ThrowsAsync<LockTimeoutException>(() => handle.LockAsync(LockMode.EX, ct));
        Assert.Equal(DlmErrorCodes.Timeout, error.Code);
        Assert.Equal(409, error.Status);
        var resource = await client.GetResourceAsync("timeouts", "r", ct);
        Assert.Empty(resource!.Waiting);

        await held.UnlockAsync(ct: ct);
        var grant = await handle.LockAsync(LockMode.EX, ct);
        Assert.Equal(LockMode.EX, grant.Mode);
    }
}
