using System.Diagnostics;

namespace RaftDlm.Client.Tests;

public sealed class CachingTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private static readonly LockOptions Cached = new() { Caching = CacheMode.KeepMode };

    [Fact]
    public async Task Cached_repeat_locks_send_no_request()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        var counter = new CountingHandler();
        await using var client = Clients.For(fixture.Cluster, "cache-a", counter);
        await client.CreateLockspaceAsync("cache", 8, ct: ct);
        await using var session = await client.OpenSessionAsync(new DlmSessionOptions { Name = "a", DefaultLockOptions = Cached }, ct);
        var handle = session.AllocLock("cache", "repeat", Cached);

        var first = await handle.LockAsync(LockMode.EX, ct);
        Assert.False(first.FromCache);
        await handle.UnlockAsync(Clients.Lvb(1), ct);
        var before = counter.Requests;
        var hitsBefore = client.Metrics.CacheHits;
        for (ulong i = 2; i <= 51; i++)
        {
            var grant = await handle.LockAsync(i % 2 == 0 ? LockMode.EX : LockMode.PR, ct);
            Assert.True(grant.FromCache);
            Assert.Equal(first.FencingToken, grant.FencingToken);
            Assert.Equal(i - 1, Clients.Counter(grant.Lvb));
            Assert.False(grant.ChangedSinceLastHeld);
            await handle.UnlockAsync(Clients.Lvb(i), ct);
        }
        Assert.Equal(before, counter.Requests);
        Assert.Equal(hitsBefore + 50, client.Metrics.CacheHits);

        // The scope form goes through the session's own cached handle: again no request after the first.
        await using (var held = await session.LockAsync("cache", "scoped", LockMode.EX, ct)) held.SetLvb(Clients.Lvb(7));
        before = counter.Requests;
        for (var i = 0; i < 10; i++)
        {
            await using var held = await session.LockAsync("cache", "scoped", LockMode.PR, ct);
            Assert.Equal(7UL, Clients.Counter(held.Lvb));
        }
        Assert.Equal(before, counter.Requests);

        // Another session's reader revokes the cached EX, and the dirty LVB is written on the way out.
        await using var other = Clients.For(fixture.Cluster, "cache-b");
        await using var reader = await other.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        var readHandle = reader.AllocLock("cache", "repeat");
        var read = await readHandle.ReadLockAsync(ct);
        Assert.Equal(51UL, Clients.Counter(read.Lvb));
        Assert.True(read.LvbValid);
        await readHandle.UnlockAsync(ct: ct);
    }

    [Fact]
    public async Task A_blocking_event_revokes_a_cached_lock_within_one_round_trip()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "revoke-a");
        var counterB = new CountingHandler();
        await using var clientB = Clients.For(fixture.Cluster, "revoke-b", counterB);
        await clientA.CreateLockspaceAsync("revoke", 8, ct: ct);
        await using var a = await clientA.OpenSessionAsync("a", TimeSpan.FromSeconds(10), ct);
        await using var b = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        var cached = a.AllocLock("revoke", "r", Cached with { AutoTune = false });
        var blocked = new TaskCompletionSource<LockBlockingEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        cached.Blocking += (_, args) => blocked.TrySetResult(args);
        await cached.LockAsync(LockMode.EX, ct);
        await cached.UnlockAsync(Clients.Lvb(42), ct);
        Assert.Equal(LockMode.EX, cached.ServerMode);

        var waiter = b.AllocLock("revoke", "r");
        var before = counterB.Requests;
        var watch = Stopwatch.StartNew();
        var grant = await waiter.LockAsync(LockMode.EX, ct);
        watch.Stop();
        // One request: the POST answered with the grant while it waited, no 202, no polling.
        Assert.Equal(before + 1, counterB.Requests);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the waiter waited {watch.Elapsed}");
        Assert.Equal(42UL, Clients.Counter(grant.Lvb));
        var args = await blocked.Task.WaitAsync(ct);
        Assert.Equal(LockMode.EX, args.BlockedMode);
        Assert.False(args.Held);
        // The waiter's grant shows the server released the cached lock; the handle learns it when the answer
        // to its own unlock arrives, which may come after the waiter's grant.
        while (cached.ServerMode is not null) await Task.Delay(10, ct);
        await waiter.UnlockAsync(ct: ct);
    }

    [Fact]
    public async Task A_blocking_event_that_arrives_while_a_caching_unlock_ends_the_hold_still_revokes_the_lock()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "race-a");
        await using var clientB = Clients.For(fixture.Cluster, "race-b");
        await clientA.CreateLockspaceAsync("race", 8, ct: ct);
        await using var a = await clientA.OpenSessionAsync("a", TimeSpan.FromSeconds(10), ct);
        await using var b = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        var cached = a.AllocLock("race", "r", Cached with { AutoTune = false });
        var blocked = new TaskCompletionSource<LockBlockingEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        cached.Blocking += (_, args) => blocked.TrySetResult(args);
        await cached.LockAsync(LockMode.EX, ct);

        // The unlock has found nobody blocked and keeps the lock; before it marks the hold ended, B's request
        // queues and its (only) blocking event reaches the handle, which still counts as held.
        var waiter = b.AllocLock("race", "r");
        Task<LockGrant>? waiting = null;
        var delivered = false;
        cached.HoldEnding = () =>
        {
            waiting = waiter.LockAsync(LockMode.EX, ct);
            delivered = Clients.Wait(blocked.Task, TimeSpan.FromSeconds(10));
        };
        await cached.UnlockAsync(Clients.Lvb(9), ct);
        cached.HoldEnding = null;
        Assert.True(delivered, "the blocking event did not arrive");
        Assert.True((await blocked.Task).Held);

        // B gets the lock (with the LVB written on the way out) without A touching the handle again.
        var grant = await waiting!.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(9UL, Clients.Counter(grant.Lvb));
        await waiter.UnlockAsync(ct: ct);
    }

    [Fact]
    public async Task Auto_tuning_stops_caching_under_ping_pong_and_resumes_when_the_other_goes_idle()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "tune-a");
        await using var clientB = Clients.For(fixture.Cluster, "tune-b");
        await clientA.CreateLockspaceAsync("tune", 8, ct: ct);
        await using var a = await clientA.OpenSessionAsync("a", TimeSpan.FromSeconds(10), ct);
        await using var b = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        var options = Cached with { AutoTuneHalfLife = TimeSpan.FromSeconds(1.5) };
        var handleA = a.AllocLock("tune", "pingpong", options);
        var handleB = b.AllocLock("tune", "pingpong", options);

        var revokesA = 0;
        handleA.Blocking += (_, _) => Interlocked.Increment(ref revokesA);
        for (var round = 0; round < 12; round++)
        {
            await handleA.LockAsync(LockMode.EX, ct);
            await handleA.UnlockAsync(ct: ct);
            await handleB.LockAsync(LockMode.EX, ct);
            await handleB.UnlockAsync(ct: ct);
        }
        Assert.False(handleA.IsCaching, $"A still caches: {handleA.CacheScores}");
        Assert.False(handleB.IsCaching, $"B still caches: {handleB.CacheScores}");
        // Caching stopped after a few losses: most rounds cost no revoke at all.
        Assert.True(revokesA <= 6, $"A was revoked {revokesA} times in 12 rounds");

        // B goes idle: A's losses decay, it caches again and its locks become local.
        var local = 0;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (local < 5 && DateTime.UtcNow < deadline)
        {
            var grant = await handleA.LockAsync(LockMode.EX, ct);
            local = grant.FromCache ? local + 1 : 0;
            await handleA.UnlockAsync(ct: ct);
            await Task.Delay(100, ct);
        }
        Assert.Equal(5, local);
        Assert.True(handleA.IsCaching);
    }

    [Fact]
    public async Task Changed_since_last_held_is_exact()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "changed-a");
        await using var clientB = Clients.For(fixture.Cluster, "changed-b");
        await clientA.CreateLockspaceAsync("changed", 8, ct: ct);
        await using var a = await clientA.OpenSessionAsync("a", TimeSpan.FromSeconds(10), ct);
        await using var b = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        // An NL lock keeps the resource, and so its LVB and counter, alive between holders.
        var keeper = b.AllocLock("changed", "r");
        await keeper.LockAsync(LockMode.NL, ct);
        var mine = a.AllocLock("changed", "r");
        var theirs = b.AllocLock("changed", "r");

        Assert.True((await mine.LockAsync(LockMode.EX, ct)).ChangedSinceLastHeld); // first grant: nothing to compare with
        await mine.UnlockAsync(Clients.Lvb(1), ct);
        Assert.False((await mine.LockAsync(LockMode.PR, ct)).ChangedSinceLastHeld); // only my own write since
        await mine.UnlockAsync(ct: ct);

        await theirs.LockAsync(LockMode.EX, ct);
        await theirs.UnlockAsync(ct: ct); // held without writing
        Assert.False((await mine.LockAsync(LockMode.PR, ct)).ChangedSinceLastHeld);
        await mine.UnlockAsync(ct: ct);

        await theirs.LockAsync(LockMode.PW, ct);
        await theirs.UnlockAsync(Clients.Lvb(2), ct);
        var changed = await mine.LockAsync(LockMode.PR, ct);
        Assert.True(changed.ChangedSinceLastHeld);
        Assert.Equal(2UL, Clients.Counter(changed.Lvb));
        await mine.UnlockAsync(ct: ct);
        Assert.False((await mine.LockAsync(LockMode.CR, ct)).ChangedSinceLastHeld);
        await mine.UnlockAsync(ct: ct);

        // A writer whose session ends while it holds EX leaves the LVB invalid: that is a change too.
        await using (var clientC = Clients.For(fixture.Cluster, "changed-c"))
        {
            var c = await clientC.OpenSessionAsync("c", TimeSpan.FromSeconds(10), ct);
            await c.AllocLock("changed", "r").LockAsync(LockMode.EX, ct);
            await clientC.CloseSessionAsync(c.SessionId, ct); // dies holding EX
            await c.DisposeAsync();
        }
        var invalid = await mine.LockAsync(LockMode.PR, ct);
        Assert.True(invalid.ChangedSinceLastHeld);
        Assert.False(invalid.LvbValid);
        await mine.UnlockAsync(ct: ct);

        // With caching, a local hit is never "changed"; a revoke by another writer is.
        var cachedHandle = a.AllocLock("changed", "r", Cached with { AutoTune = false });
        await cachedHandle.LockAsync(LockMode.EX, ct);
        await cachedHandle.UnlockAsync(Clients.Lvb(3), ct);
        Assert.False((await cachedHandle.LockAsync(LockMode.EX, ct)).ChangedSinceLastHeld);
        await cachedHandle.UnlockAsync(ct: ct);
        await theirs.LockAsync(LockMode.EX, ct); // revokes the cached lock, which writes 3
        await theirs.UnlockAsync(Clients.Lvb(4), ct);
        var after = await cachedHandle.LockAsync(LockMode.EX, ct);
        Assert.True(after.ChangedSinceLastHeld);
        Assert.Equal(4UL, Clients.Counter(after.Lvb));
        await cachedHandle.UnlockAsync(ct: ct);
    }

    [Fact]
    public async Task A_session_paused_past_its_ttl_sees_expired_and_every_handle_fails()
    {
        using var timeout = new CancellationTokenSource(Bound);
        var ct = timeout.Token;
        await using var clientA = Clients.For(fixture.Cluster, "pause-a");
        await using var clientB = Clients.For(fixture.Cluster, "pause-b");
        await clientA.CreateLockspaceAsync("pause", 8, ct: ct);
        await using var other = await clientB.OpenSessionAsync("b", TimeSpan.FromSeconds(10), ct);
        var blocker = other.AllocLock("pause", "busy");
        await blocker.LockAsync(LockMode.EX, ct);
        var keeper = other.AllocLock("pause", "held"); // keeps the resource and its LVB alive
        await keeper.LockAsync(LockMode.NL, ct);

        // The server's word (the expired event) is what this test is about, so the local lease deadline, which
        // would end the session first, is off (LeaseDeadlineTests cover it).
        var session = await clientA.OpenSessionAsync(new DlmSessionOptions { Name = "paused", Ttl = TimeSpan.FromMilliseconds(1500), LocalLeaseDeadline = false }, ct);
        var states = new List<SessionState>();
        session.StateChanged += (_, change) =>
        {
            lock (states) states.Add(change.Current);
        };
        var held = session.AllocLock("pause", "held", Cached);
        await held.LockAsync(LockMode.EX, ct);
        var cached = session.AllocLock("pause", "cached", Cached with { AutoTune = false });
        await cached.LockAsync(LockMode.PR, ct);
        await cached.UnlockAsync(ct: ct);
        var waiting = session.AllocLock("pause", "busy");
        var waitTask = waiting.LockAsync(LockMode.EX, ct);

        session.PauseKeepAlives(true);
        await session.Ended.WaitAsync(TimeSpan.FromSeconds(10), ct);
        Assert.Equal(SessionState.Expired, session.State);
        Assert.True(session.LostToken.IsCancellationRequested);
        await Assert.ThrowsAsync<SessionExpiredException>(() => waitTask);
        await Assert.ThrowsAsync<SessionExpiredException>(() => held.UnlockAsync(ct: ct));
        await Assert.ThrowsAsync<SessionExpiredException>(() => cached.LockAsync(LockMode.PR, ct));
        await Assert.ThrowsAsync<SessionExpiredException>(() => held.LockAsync(LockMode.EX, ct));
        Assert.False(held.IsValid);
        Assert.Throws<SessionExpiredException>(() => session.AllocLock("pause", "new"));
        lock (states) Assert.Equal(SessionState.Expired, states[^1]);

        // The expired holder of EX left the LVB invalid for the next one.
        var next = other.AllocLock("pause", "held");
        var grant = await next.LockAsync(LockMode.EX, ct);
        Assert.False(grant.LvbValid);
        await next.UnlockAsync(ct: ct);
        await blocker.UnlockAsync(ct: ct);
        await session.DisposeAsync();
    }
}
