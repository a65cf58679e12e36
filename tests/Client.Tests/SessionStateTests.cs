using RaftDlm.Testing;

namespace RaftDlm.Client.Tests;

/// <summary>The order in which a session's end is told: the state-change handlers first, then <c>Ended</c>.</summary>
public sealed class SessionStateTests
{
    [Fact]
    public async Task Ended_completes_after_the_handlers_of_the_final_state_change_ran()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        await using var client = Clients.For(cluster, "ended-order");
        var session = await client.OpenSessionAsync(new DlmSessionOptions { Name = "ended", Ttl = TimeSpan.FromSeconds(10) });
        var handled = false;
        session.StateChanged += (_, change) =>
        {
            if (change.Current != SessionState.Closed) return;
            Thread.Sleep(300); // a slow handler: whoever awaits Ended must still find it done
            Volatile.Write(ref handled, true);
        };
        // A thread of its own blocked on Ended wakes the moment it completes, whatever the pool is doing.
        var seenAtEnd = Task.Factory.StartNew(() => session.Ended.Wait(TimeSpan.FromSeconds(10)) && Volatile.Read(ref handled),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        await session.DisposeAsync();

        Assert.True(await seenAtEnd.WaitAsync(TimeSpan.FromSeconds(10)), "Ended completed before the handler of the Closed change had run");
        Assert.Equal(SessionState.Closed, session.State);
        Assert.True(session.LostToken.IsCancellationRequested);
    }
}
