using System.Globalization;
using System.Text.RegularExpressions;
using RaftDlm.Testing;
using RaftDlm.TestSupport;
using Xunit.Abstractions;

namespace RaftDlm.Client.Tests;

/// <summary>
/// The client's lease deadline: a client cut off from every node (here, the only node paused with SIGSTOP)
/// ends its session by itself before the server could hand its locks to someone else.
/// </summary>
public sealed partial class LeaseDeadlineTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_session_cut_off_from_every_node_is_lost_before_its_ttl_runs_out()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        var node = cluster.Ids[0];
        await using var client = Clients.For(cluster, "lease-lost");
        await client.CreateLockspaceAsync("lease", 8);
        var ttl = TimeSpan.FromSeconds(3);
        // The margin is what absorbs the watch's own lateness: on a loaded test machine a timer has fired
        // 330 ms late, past the default margin of a 3 s TTL (300 ms). A margin of a third leaves room for that.
        await using var session = await client.OpenSessionAsync(new DlmSessionOptions { Name = "cut-off", Ttl = ttl, LeaseMargin = ttl / 3 });
        var states = new List<SessionState>();
        var lostAt = DateTimeOffset.MaxValue;
        session.StateChanged += (_, change) =>
        {
            if (change.Current == SessionState.Lost) lostAt = DateTimeOffset.UtcNow;
            lock (states) states.Add(change.Current);
        };
        await using var held = await session.LockAsync("lease", "r", LockMode.EX);

        cluster.Node(node).Pause();
        try
        {
            Assert.True(await Clients.EventuallyAsync(() => session.State == SessionState.Lost, Bound), $"state stayed {session.State}");
            var renewalSent = session.LeaseRenewalSentAt;
            output.WriteLine($"last answered keep-alive sent at {renewalSent:O}; lost at {lostAt:O}; TTL {ttl.TotalMilliseconds} ms");
            // Lost at sent + TTL - margin: before the server could expire the session (sent + TTL at the earliest).
            Assert.True(lostAt < renewalSent + ttl, $"lost at {lostAt:O}, after the earliest server expiry {renewalSent + ttl:O}");
            // Jeopardy comes first when a keep-alive round fails before the deadline; the end is Lost either way.
            lock (states) Assert.Equal(SessionState.Lost, Assert.Single(states, state => state is not SessionState.Jeopardy));
            Assert.True(session.LostToken.IsCancellationRequested);
            Assert.True(session.Ended.IsCompleted);
            Assert.False(held.Handle.IsValid);
            Assert.Null(held.Handle.ServerMode); // the cached grant is dropped: nothing is served locally any more
            await Assert.ThrowsAsync<SessionExpiredException>(() => session.LockAsync("lease", "other", LockMode.PR));
        }
        finally
        {
            cluster.Node(node).Resume();
        }
    }

    [Fact]
    public async Task A_keep_alive_answered_before_the_deadline_brings_the_session_back_from_jeopardy()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        var node = cluster.Ids[0];
        await using var client = Clients.For(cluster, "lease-back");
        var ttl = TimeSpan.FromSeconds(9);
        await using var session = await client.OpenSessionAsync("stalled", ttl);
        var states = new List<SessionState>();
        session.StateChanged += (_, change) =>
        {
            lock (states) states.Add(change.Current);
        };

        cluster.Node(node).Pause();
        bool sawJeopardy;
        try
        {
            sawJeopardy = await Clients.EventuallyAsync(() => session.State == SessionState.Jeopardy, Bound);
        }
        finally
        {
            cluster.Node(node).Resume();
        }
        Assert.True(sawJeopardy, $"state stayed {session.State}");
        Assert.True(await Clients.EventuallyAsync(() => session.State == SessionState.Healthy, Bound), $"state is {session.State}");
        lock (states) Assert.Equal([SessionState.Jeopardy, SessionState.Healthy], states);
        Assert.False(session.LostToken.IsCancellationRequested);
    }

    [Fact]
    public async Task Without_the_local_deadline_a_cut_off_session_stays_in_jeopardy_past_its_ttl()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        var node = cluster.Ids[0];
        await using var client = Clients.For(cluster, "lease-off");
        var ttl = TimeSpan.FromSeconds(2);
        await using var session = await client.OpenSessionAsync(new DlmSessionOptions { Name = "blind", Ttl = ttl, LocalLeaseDeadline = false });

        cluster.Node(node).Pause();
        try
        {
            await Task.Delay(ttl + TimeSpan.FromSeconds(1));
            // The danger the deadline removes: the client still takes itself for alive after the TTL.
            Assert.Equal(SessionState.Jeopardy, session.State);
            Assert.False(session.LostToken.IsCancellationRequested);
        }
        finally
        {
            cluster.Node(node).Resume();
        }
    }

    [Fact]
    public async Task A_margin_the_ttl_cannot_hold_is_refused_before_a_session_is_opened()
    {
        await using var client = new DlmClient(new DlmClientOptions { Endpoints = ["http://127.0.0.1:1"], MaxAttempts = 1 });
        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            client.OpenSessionAsync(new DlmSessionOptions { Ttl = TimeSpan.FromSeconds(2), LeaseMargin = TimeSpan.FromSeconds(1) }));
        Assert.Contains("shorter than half the TTL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dlmctl_lock_stops_its_command_before_the_server_could_grant_the_lock_again()
    {
        await using var cluster = await ServerCluster.StartAsync(1);
        var node = cluster.Ids[0];
        var url = cluster.HttpUrl(node);
        await using (var client = Clients.For(cluster, "setup")) await client.CreateLockspaceAsync("vol", 8);
        var ttl = TimeSpan.FromMilliseconds(5000);
        var log = Path.Combine(cluster.Folder("dlmctl"), "lock.log");
        using var dlmctl = ChildProcess.Start(
            BuildOutput.Find("src/Cli", "dlmctl.dll"),
            ["--endpoints", url, "lock", "vol", "r", "--ttl-ms", "5000", "--", "sleep", "600"],
            log);
        Assert.True(await Clients.EventuallyAsync(() => StartedPid().Success, Bound), dlmctl.Log());
        var pid = int.Parse(StartedPid().Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(Directory.Exists($"/proc/{pid}"), "the command is not running");
        await Task.Delay(TimeSpan.FromSeconds(1));

        var pausedAt = DateTimeOffset.UtcNow;
        cluster.Node(node).Pause();
        try
        {
            Assert.True(await Clients.EventuallyAsync(() => dlmctl.LogContains("command stopped at"), Bound), dlmctl.Log());
            Assert.True(await dlmctl.WaitForExitAsync(Bound), dlmctl.Log());
        }
        finally
        {
            cluster.Node(node).Resume();
        }
        var text = dlmctl.Log();
        var renewalSent = Stamp(KeepAliveLine().Match(text));
        var stopped = Stamp(StoppedLine().Match(text));
        output.WriteLine($"node paused at              {pausedAt:O}");
        output.WriteLine($"last answered keep-alive at {renewalSent:O}");
        output.WriteLine($"command gone at             {stopped:O} ({(stopped - renewalSent).TotalMilliseconds:F0} ms later; TTL {ttl.TotalMilliseconds} ms)");
        Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still runs");
        Assert.True(renewalSent <= pausedAt, "a keep-alive answered after the pause");
        // The server expires the session no earlier than the keep-alive's send time plus the TTL: the command
        // must be gone by then (and so within TTL + 1 s of the last answered keep-alive).
        Assert.True(stopped < renewalSent + ttl, $"the command was still running {(stopped - renewalSent - ttl).TotalMilliseconds:F0} ms after the earliest server expiry");
        Assert.Equal(75, dlmctl.ExitCode);

        Match StartedPid() => StartedLine().Match(dlmctl.Log());
    }

    private static DateTimeOffset Stamp(Match match)
    {
        Assert.True(match.Success, "line not found");
        return DateTimeOffset.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
    }

    [GeneratedRegex(@"command started as pid (\d+)")]
    private static partial Regex StartedLine();

    [GeneratedRegex(@"last answered keep-alive was sent at (\S+)")]
    private static partial Regex KeepAliveLine();

    [GeneratedRegex(@"command stopped at (\S+)")]
    private static partial Regex StoppedLine();
}
