using System.Diagnostics;
using RaftDlm.Client;

namespace RaftDlm.LoadGenerator;

internal static class ClientScenarios
{
    /// <summary>
    /// Lock caching in the client library: one handle with caching on, locked and unlocked in a loop. After
    /// the first grant every re-lock is served locally; <c>Requests</c> counts the HTTP requests the loop made.
    /// Latency is sampled every 1,024th pair.
    /// </summary>
    public static async Task<Result> CachedAsync(Options options)
    {
        await using var client = new DlmClient(new DlmClientOptions { Endpoints = [.. options.Endpoints] });
        await client.CreateLockspaceAsync(RaftDlmTarget.Lockspace, lvbBytes: 8);
        await using var session = await client.OpenSessionAsync("cached", TimeSpan.FromSeconds(30));
        var handle = session.AllocLock(RaftDlmTarget.Lockspace, "cached", new LockOptions { Caching = CacheMode.KeepMode, AutoTune = false });
        await handle.LockAsync(LockMode.EX);
        await handle.UnlockAsync();
        var requestsBefore = client.Metrics.Requests;
        var latencies = new List<double>(1 << 20);
        var clock = Stopwatch.StartNew();
        var limit = TimeSpan.FromSeconds(options.Seconds);
        long operations = 0;
        while (clock.Elapsed < limit)
        {
            for (var i = 0; i < 1_000; i++)
            {
                var started = Stopwatch.GetTimestamp();
                await handle.LockAsync(LockMode.EX);
                await handle.UnlockAsync();
                if ((operations++ & 1023) == 0) latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        }
        var elapsed = clock.Elapsed.TotalSeconds;
        // The requests the loop made (keep-alives and the event long-poll excepted, which run on their own).
        var loopRequests = client.Metrics.Requests - requestsBefore;
        latencies.Sort();
        double At(double q) => latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
        await handle.DisposeAsync();
        return new Result("raft-dlm-client", "cached", 1, options.Seconds, operations, 0,
            Math.Round(operations / elapsed, 0), Math.Round(At(0.5), 5), Math.Round(At(0.9), 5), Math.Round(At(0.99), 5), Math.Round(At(0.999), 5))
        {
            Requests = loopRequests,
        };
    }

    /// <summary>
    /// Leader failover on a cluster started by scripts/local-cluster.sh: kill -9 the leader (pid from
    /// ./data/&lt;node&gt;.pid), then measure the time until a grant is served by the new leader. Repeats
    /// <c>--workers</c> times (restarting the killed node in between) and reports the times in ms as latencies.
    /// </summary>
    public static async Task<Result> FailoverAsync(ITarget unused, Options options)
    {
        var times = new List<double>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var round = 0; round < Math.Max(1, options.Workers); round++)
        {
            var leader = await RaftDlmTarget.LeaderIdAsync(options.Endpoints);
            var pid = int.Parse(await File.ReadAllTextAsync($"./data/{leader}.pid"), System.Globalization.CultureInfo.InvariantCulture);
            var survivors = options.Endpoints.Where(endpoint => !endpoint.EndsWith(RaftDlmTarget.HttpPortOf(leader), StringComparison.Ordinal)).ToList();
            await using var target = new RaftDlmTarget(survivors, 1);
            await using var worker = await target.OpenWorkerAsync(0, CancellationToken.None);
            var killed = Stopwatch.StartNew();
            Process.GetProcessById(pid).Kill();
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await worker.LockAsync($"failover-{round}-{attempt}", "EX", CancellationToken.None);
                    await worker.UnlockAsync(CancellationToken.None);
                    break;
                }
                catch (HttpRequestException) when (killed.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(5);
                }
            }
            times.Add(killed.Elapsed.TotalMilliseconds);
            Console.Error.WriteLine($"round {round}: leader {leader} killed, first new grant after {killed.Elapsed.TotalMilliseconds:F0} ms");
            using var restart = Process.Start("scripts/local-cluster.sh", ["start", leader]);
            await restart.WaitForExitAsync();
            await Task.Delay(2_000);
        }
        times.Sort();
        double At(double q) => times[Math.Min(times.Count - 1, (int)(q * times.Count))];
        return new Result("raft-dlm", "failover", times.Count, 0, times.Count, 0, 0, Math.Round(At(0.5), 1), Math.Round(At(0.9), 1), Math.Round(At(0.99), 1), Math.Round(times[^1], 1));
    }
}
