using System.Globalization;
using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// A large lock table under the workload (<c>--prefill-locks N</c>): N granted EX locks on distinct resources
/// <c>p-0</c> … <c>p-(N-1)</c> of a lockspace of their own (<see cref="Lockspace"/>), held for the whole run by
/// sessions of the longest TTL that a background loop keeps alive. Nothing of it goes into the history: the
/// checkers judge the workload alone, while the snapshots, the end-of-run convergence check and
/// <c>compare-replicas.sh</c> carry the whole table. <see cref="PushLogAsync"/> writes filler entries (a lock and
/// its release on <c>filler-*</c>), so the nemesis can drive the leader's log past its next snapshot.
/// </summary>
public sealed class Prefill(HttpLockClient client, Action<string> log)
{
    public const string Lockspace = "jepsen-prefill";
    private const int SessionTtlMs = 3_600_000;     // the server's maximum (LockLimits.MaxTtlMs)
    private const int LocksPerSession = 50_000;     // below LockLimits.MaxLocksPerSession (100,000)
    private const int Workers = 32;
    private const int AttemptsPerLock = 20;
    private static readonly TimeSpan KeepAliveEvery = TimeSpan.FromSeconds(60);
    private readonly List<string> _sessionIds = [];
    private string? _fillerSession;
    private long _fillerRequestIds;
    private long _fillerCount;
    private int _leader;

    /// <summary>Creates the lockspace, opens the sessions and takes <paramref name="locks"/> locks (bounded retries per lock).</summary>
    public async Task FillAsync(int locks, int leader, CancellationToken cancel)
    {
        _leader = leader;
        var created = await RetryAsync(node => client.PutAsync(node, $"/v1/lockspaces/{Lockspace}", new { lvbBytes = 8, lockDelayMs = 0 }, cancel), cancel);
        if (created.Type != OpType.Ok) throw new InvalidOperationException("prefill: could not create lockspace: " + created.Describe());
        var sessions = Math.Max(4, (locks + LocksPerSession - 1) / LocksPerSession);
        for (var s = 0; s <= sessions; s++)
        {
            var name = s < sessions ? "prefill-" + s.ToString(CultureInfo.InvariantCulture) : "prefill-filler";
            var opened = await RetryAsync(node => client.PostAsync(node, "/v1/sessions", new { name, ttlMs = SessionTtlMs }, cancel), cancel);
            var id = opened.Text("sessionId") ?? throw new InvalidOperationException("prefill: could not open a session: " + opened.Describe());
            if (s < sessions) _sessionIds.Add(id);
            else _fillerSession = id;
        }

        var started = DateTime.UtcNow;
        long next = -1, taken = 0, failed = 0;
        using var progress = new Timer(_ => log($"prefill: {Interlocked.Read(ref taken)} of {locks} locks after {(DateTime.UtcNow - started).TotalSeconds:F0} s"),
            null, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        await Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => Task.Run(async () =>
        {
            long i;
            while (!cancel.IsCancellationRequested && Interlocked.Read(ref failed) == 0 && (i = Interlocked.Increment(ref next)) < locks)
            {
                // The request id (unique in the session) makes a retry find the first answer.
                var body = new { sessionId = _sessionIds[(int)(i % _sessionIds.Count)], resource = "p-" + i.ToString(CultureInfo.InvariantCulture), mode = "EX", requestId = i + 1 };
                var reply = await RetryAsync(node => client.PostAsync(node, $"/v1/lockspaces/{Lockspace}/locks", body, cancel), cancel);
                if (reply.Type == OpType.Ok && reply.Text("state") == "granted") Interlocked.Increment(ref taken);
                else if (Interlocked.Increment(ref failed) == 1) log($"prefill: lock p-{i} failed: {reply.Describe()}");
            }
        }, CancellationToken.None)));
        cancel.ThrowIfCancellationRequested();
        if (taken != locks) throw new InvalidOperationException($"prefill: took {taken} of {locks} locks");
        log($"prefill: {taken} EX locks in lockspace {Lockspace} over {_sessionIds.Count} sessions in {(DateTime.UtcNow - started).TotalSeconds:F1} s");
    }

    /// <summary>Keeps the prefill's sessions alive until <paramref name="stop"/> (they would outlive a run anyway, but a run may be long).</summary>
    public async Task KeepAliveAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try { await Task.Delay(KeepAliveEvery, stop); }
            catch (OperationCanceledException) { return; }
            foreach (var id in _sessionIds.Append(_fillerSession!))
            {
                var reply = await RetryAsync(node => client.PostAsync(node, $"/v1/sessions/{id}/keepalive", new { }, stop), stop, attempts: 3);
                if (reply.Type != OpType.Ok && !stop.IsCancellationRequested) log($"prefill: keep-alive of {id} failed: {reply.Describe()}");
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="pairs"/> filler pairs (a lock on <c>filler-k</c> and its release, two log entries)
    /// from 4 writers; returns how many pairs went through. Failures are skipped (bounded retries each).
    /// </summary>
    public async Task<int> PushLogAsync(int pairs, CancellationToken stop)
    {
        var done = 0;
        var perWriter = (pairs + 3) / 4;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(writer => Task.Run(async () =>
        {
            var resource = "filler-" + writer.ToString(CultureInfo.InvariantCulture);
            for (var k = 0; k < perWriter && !stop.IsCancellationRequested; k++)
            {
                var lockRequest = new { sessionId = _fillerSession, resource, mode = "EX", waitMs = 0, requestId = Interlocked.Increment(ref _fillerRequestIds) };
                var granted = await RetryAsync(node => client.PostAsync(node, $"/v1/lockspaces/{Lockspace}/locks", lockRequest, stop), stop, attempts: 5);
                if (granted.Text("lockId") is not { } lockId || granted.Text("state") != "granted") continue;
                var releaseRequest = new { requestId = Interlocked.Increment(ref _fillerRequestIds) };
                var released = await RetryAsync(node => client.DeleteAsync(node, $"/v1/lockspaces/{Lockspace}/locks/{lockId}", releaseRequest, stop), stop, attempts: 5);
                if (released.Type == OpType.Ok) Interlocked.Increment(ref done);
            }
        }, CancellationToken.None)));
        Interlocked.Add(ref _fillerCount, done);
        return done;
    }

    /// <summary>Filler pairs written so far (for the report).</summary>
    public long FillerPairs => Interlocked.Read(ref _fillerCount);

    /// <summary>
    /// Sends to the node that answered last (the leader at first; followers forward); on a refused connection,
    /// 503 or an unknown outcome, tries the next node, with the same request (bounded).
    /// </summary>
    private async Task<Reply> RetryAsync(Func<int, Task<Reply>> send, CancellationToken cancel, int attempts = AttemptsPerLock)
    {
        var node = Volatile.Read(ref _leader);
        Reply reply = new(OpType.Info, 0, null, default, "not sent");
        for (var attempt = 0; attempt < attempts && !cancel.IsCancellationRequested; attempt++)
        {
            reply = await send(node);
            if (reply.Type == OpType.Ok || (reply.Type == OpType.Fail && reply.Status is >= 400 and < 500)) break;
            node = (node + 1) % client.NodeCount;
            try { await Task.Delay(200, cancel); }
            catch (OperationCanceledException) { break; }
        }
        Volatile.Write(ref _leader, node);
        return reply;
    }
}
