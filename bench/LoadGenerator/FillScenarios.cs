using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;

namespace RaftDlm.LoadGenerator;

/// <summary>
/// Scenarios that build a large lock table and leave it in place, for experiments on a cluster that holds
/// one (such as <c>scripts/large-table-wipe.sh</c>):
/// <list type="bullet">
/// <item><c>fill</c> opens <c>--sessions</c> sessions with a long TTL, takes <c>--locks</c> EX locks on distinct
/// resources <c>fill-&lt;i&gt;</c> of one lockspace from <c>--workers</c> workers, prints one JSON line and exits
/// without closing the sessions, so the locks stay granted until the sessions expire. With
/// <c>--hold-seconds N</c> it stays N seconds more, keeping the sessions alive, and prints a second line.</item>
/// <item><c>keepalive</c> keeps sessions opened by an earlier <c>fill</c> alive (<c>--session-ids</c>) for
/// <c>--seconds</c>, for experiments longer than the sessions' TTL.</item>
/// </list>
/// SIGTERM or SIGINT ends either early: the JSON line is still printed, the sessions stay open.
/// </summary>
internal static class FillScenarios
{
    /// <summary>The server's upper bound on a session's TTL (LockLimits.MaxTtlMs): one hour.</summary>
    public const int MaxTtlMs = 3_600_000;

    private const int MaxAttempts = 20;

    public static async Task<FillResult> FillAsync(string[] args, CancellationToken stop)
    {
        var endpoints = Arguments.Value(args, "endpoints", "http://127.0.0.1:7700").Split(',');
        var locks = Arguments.Number(args, "locks", 100_000);
        var sessionCount = Arguments.Number(args, "sessions", 60);
        var workers = Arguments.Number(args, "workers", 32);
        var ttlMs = Arguments.Number(args, "ttl-ms", MaxTtlMs);
        var lockspace = Arguments.Value(args, "lockspace", "fill");
        var lvbBytes = Arguments.Number(args, "lvb-bytes", 8);
        var holdSeconds = Arguments.Number(args, "hold-seconds", 0);
        var maxErrors = Arguments.Number(args, "max-errors", 1_000);
        if (locks < 0 || sessionCount < 1 || workers < 1 || ttlMs is < 500 or > MaxTtlMs)
        {
            throw new ArgumentException($"need --locks >= 0, --sessions >= 1, --workers >= 1 and --ttl-ms in 500..{MaxTtlMs}");
        }

        var leader = (await RaftDlmTarget.LeaderAsync(endpoints))[0];
        using var client = NewClient(leader, workers);
        var errors = new ErrorCount(maxErrors);
        var clock = Stopwatch.StartNew();

        var created = await SendAsync(client, HttpMethod.Put, $"/v1/lockspaces/{lockspace}", $"{{\"lvbBytes\":{lvbBytes}}}", stop);
        if (created.Status == HttpStatusCode.Conflict)
        {
            Console.Error.WriteLine($"lockspace '{lockspace}' exists with other settings; using it as it is");
        }
        else if (!created.Ok)
        {
            throw new InvalidOperationException($"could not create lockspace '{lockspace}': {created.Describe()}");
        }

        var sessionIds = new string[sessionCount];
        for (var s = 0; s < sessionCount; s++)
        {
            var opened = await SendAsync(client, HttpMethod.Post, "/v1/sessions", $"{{\"name\":\"fill-{s}\",\"ttlMs\":{ttlMs}}}", stop);
            if (!opened.Ok) throw new InvalidOperationException($"could not open session {s}: {opened.Describe()}");
            using var document = JsonDocument.Parse(opened.Body);
            sessionIds[s] = document.RootElement.GetProperty("sessionId").GetString()!;
        }

        long next = -1, taken = 0;
        using var progress = new Timer(_ => Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fill: {Interlocked.Read(ref taken)} of {locks} locks after {clock.Elapsed.TotalSeconds:F0} s, {errors.Count} errors")),
            null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            long i;
            while (!stop.IsCancellationRequested && !errors.TooMany && (i = Interlocked.Increment(ref next)) < locks)
            {
                // Locks are spread over the sessions round-robin; the request id (unique in the session)
                // makes a retry after a timeout or an unknown outcome find the first answer.
                var body = $"{{\"sessionId\":\"{sessionIds[i % sessionCount]}\",\"resource\":\"fill-{i}\",\"mode\":\"EX\",\"requestId\":{i + 1}}}";
                var answer = await SendAsync(client, HttpMethod.Post, $"/v1/lockspaces/{lockspace}/locks", body, stop);
                if (answer.Ok && answer.Body.Contains("\"state\":\"granted\"", StringComparison.Ordinal)) Interlocked.Increment(ref taken);
                else if (!stop.IsCancellationRequested) errors.Add($"lock fill-{i}: {answer.Describe()}");
            }
        }, CancellationToken.None)));
        var fillSeconds = clock.Elapsed.TotalSeconds;
        await progress.DisposeAsync();

        var result = new FillResult("fill", leader, lockspace, locks, taken, errors.Count, Math.Round(fillSeconds, 1),
            Math.Round(taken / Math.Max(fillSeconds, 0.001), 1), sessionCount, ttlMs, sessionIds)
        {
            Interrupted = stop.IsCancellationRequested || errors.TooMany ? true : null,
        };
        if (holdSeconds <= 0) return result;
        // The first line tells a caller the table is in place; the second ends the hold.
        Console.WriteLine(JsonSerializer.Serialize(result));
        var kept = await KeepAliveLoopAsync(endpoints, sessionIds, TimeSpan.FromSeconds(holdSeconds), KeepAliveEvery(args, ttlMs), stop);
        return result with { Scenario = "fill-hold", KeepAlives = kept.Sent, KeepAliveErrors = kept.Errors };
    }

    public static async Task<FillResult> KeepAliveAsync(string[] args, CancellationToken stop)
    {
        var endpoints = Arguments.Value(args, "endpoints", "http://127.0.0.1:7700").Split(',');
        var sessionIds = Arguments.Value(args, "session-ids", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var seconds = Arguments.Number(args, "seconds", 60);
        if (sessionIds.Length == 0) throw new ArgumentException("keepalive needs --session-ids id,id,…");
        var clock = Stopwatch.StartNew();
        var kept = await KeepAliveLoopAsync(endpoints, sessionIds, TimeSpan.FromSeconds(seconds), KeepAliveEvery(args, MaxTtlMs), stop);
        return new FillResult("keepalive", string.Join(',', endpoints), "", 0, 0, 0, Math.Round(clock.Elapsed.TotalSeconds, 1), 0,
            sessionIds.Length, 0, sessionIds)
        {
            KeepAlives = kept.Sent,
            KeepAliveErrors = kept.Errors,
            Interrupted = stop.IsCancellationRequested ? true : null,
        };
    }

    /// <summary>--every-seconds, else a third of the TTL, at most a minute.</summary>
    private static TimeSpan KeepAliveEvery(string[] args, int ttlMs) =>
        TimeSpan.FromSeconds(Arguments.Number(args, "every-seconds", Math.Clamp(ttlMs / 3_000, 1, 60)));

    /// <summary>
    /// Sends one keep-alive per session every <paramref name="every"/> until <paramref name="duration"/> ends,
    /// to the node the first answering endpoint names as leader (asked afresh each round).
    /// </summary>
    private static async Task<(long Sent, long Errors)> KeepAliveLoopAsync(IReadOnlyList<string> endpoints, IReadOnlyList<string> sessionIds,
        TimeSpan duration, TimeSpan every, CancellationToken stop)
    {
        using var window = CancellationTokenSource.CreateLinkedTokenSource(stop);
        window.CancelAfter(duration);
        var errors = new ErrorCount(int.MaxValue);
        long sent = 0;
        while (!window.IsCancellationRequested)
        {
            var round = Stopwatch.StartNew();
            try
            {
                var leader = (await RaftDlmTarget.LeaderAsync(endpoints))[0];
                using var client = NewClient(leader, 8);
                await Parallel.ForEachAsync(sessionIds, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, _) =>
                {
                    var answer = await SendAsync(client, HttpMethod.Post, $"/v1/sessions/{id}/keepalive", null, CancellationToken.None);
                    if (answer.Ok) Interlocked.Increment(ref sent);
                    else errors.Add($"keep-alive of session {id}: {answer.Describe()}");
                });
            }
            catch (InvalidOperationException error)
            {
                errors.Add(error.Message);
            }
            var rest = every - round.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                try { await Task.Delay(rest, window.Token); }
                catch (OperationCanceledException) { }
            }
        }
        return (sent, errors.Count);
    }

    private static HttpClient NewClient(string endpoint, int connections) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        MaxConnectionsPerServer = Math.Max(connections, 16),
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
    })
    {
        BaseAddress = new Uri(endpoint),
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>
    /// One request with bounded retries: on 503 (no leader yet), on 504 (outcome unknown: the same body, with
    /// its request id, finds the first outcome) and on connection failures or timeouts. Never throws but on
    /// cancellation of <paramref name="stop"/> between attempts, which ends the retries.
    /// </summary>
    private static async Task<Answer> SendAsync(HttpClient client, HttpMethod method, string path, string? body, CancellationToken stop)
    {
        var last = new Answer(0, "", "not sent");
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            if (attempt > 0)
            {
                try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(100 * attempt, 1_000)), stop); }
                catch (OperationCanceledException) { return last; }
            }
            try
            {
                using var request = new HttpRequestMessage(method, path);
                if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await client.SendAsync(request, CancellationToken.None);
                var text = await response.Content.ReadAsStringAsync(CancellationToken.None);
                last = new Answer(response.StatusCode, text, null);
                if (response.StatusCode is not (HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout)) return last;
            }
            catch (Exception error) when (error is HttpRequestException or TaskCanceledException)
            {
                last = new Answer(0, "", error.Message);
            }
        }
        return last;
    }

    private readonly record struct Answer(HttpStatusCode Status, string Body, string? Failure)
    {
        public bool Ok => Failure is null && (int)Status is >= 200 and < 300;

        public string Describe() => Failure ?? $"{(int)Status} {Body}";
    }

    /// <summary>Counts errors, prints the first to stderr, and says when there are more than the bound.</summary>
    private sealed class ErrorCount(int bound)
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public bool TooMany => Count > bound;

        public void Add(string message)
        {
            var count = Interlocked.Increment(ref _count);
            if (count == 1) Console.Error.WriteLine($"first error: {message}");
            if (count == (long)bound + 1) Console.Error.WriteLine($"more than {bound} errors: stopping");
        }
    }
}

/// <summary>The JSON line of <c>fill</c> and <c>keepalive</c>.</summary>
internal sealed record FillResult(string Scenario, string Endpoint, string Lockspace, long Locks, long Taken, long Errors,
    double Seconds, double LocksPerSecond, int Sessions, int TtlMs, IReadOnlyList<string> SessionIds)
{
    public long? KeepAlives { get; init; }

    public long? KeepAliveErrors { get; init; }

    /// <summary>True when a signal or the error bound ended the run before it was done.</summary>
    public bool? Interrupted { get; init; }
}

/// <summary>Command-line values: <c>--name value</c>.</summary>
internal static class Arguments
{
    public static string Value(string[] args, string name, string fallback)
    {
        var at = Array.IndexOf(args, "--" + name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }

    public static int Number(string[] args, string name, int fallback) =>
        int.Parse(Value(args, name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}

/// <summary>
/// SIGTERM and SIGINT end a run early instead of killing the process: a measuring scenario stops its window
/// and prints its result for the time measured so far, and <c>fill</c> stops taking locks and prints what it took.
/// </summary>
internal static class Interruption
{
    private static readonly CancellationTokenSource Source = new();
    private static readonly List<IDisposable> Registrations = [];

    public static CancellationToken Token => Source.Token;

    public static void Install()
    {
        foreach (var signal in new[] { System.Runtime.InteropServices.PosixSignal.SIGTERM, System.Runtime.InteropServices.PosixSignal.SIGINT })
        {
            Registrations.Add(System.Runtime.InteropServices.PosixSignalRegistration.Create(signal, context =>
            {
                // A second signal ends the process as usual.
                if (Source.IsCancellationRequested) return;
                context.Cancel = true;
                Console.Error.WriteLine($"{context.Signal}: ending the run early");
                Source.Cancel();
            }));
        }
    }
}
