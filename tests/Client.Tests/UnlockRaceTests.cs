using System.Net;
using System.Text;
using System.Text.Json;

namespace RaftDlm.Client.Tests;

/// <summary>
/// The races between a handle's unlock and the event pump, driven step by step against an in-process fake of
/// the HTTP contract: no server, and the interleaving is forced by the handle's test hook, not by timing.
/// </summary>
public sealed class UnlockRaceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task A_blocking_event_between_a_caching_unlocks_check_and_the_end_of_its_hold_gives_the_lock_up()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;
        var server = new FakeDlmServer();
        await using var client = new DlmClient(new DlmClientOptions { Endpoints = ["http://dlm.test"], EventPollWait = TimeSpan.FromSeconds(1) }, handler: server);
        await using var session = await client.OpenSessionAsync("a", TimeSpan.FromSeconds(10), ct);
        var handle = session.AllocLock(FakeDlmServer.Lockspace, "r", new LockOptions { Caching = CacheMode.KeepMode, AutoTune = false });
        var blocking = new TaskCompletionSource<LockBlockingEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        handle.Blocking += (_, args) => blocking.TrySetResult(args);
        var grant = await handle.LockAsync(LockMode.EX, ct);

        // The unlock has found nobody blocked and decided to keep the lock in EX. Before it marks the hold
        // ended, another session's request for EX queues and the pump hands its blocking event to the handle.
        var delivered = false;
        handle.HoldEnding = () => delivered = server.PublishAndWait(
            new LockEventInfo(1, "blocking", FakeDlmServer.Lockspace, grant.LockId, "r", null, "EX", null, null, null, null), blocking.Task, Bound);
        await handle.UnlockAsync(ct: ct);
        handle.HoldEnding = null;
        Assert.True(delivered, "the pump did not deliver the blocking event");
        // The pump saw the lock still held, so it left the give-up to the unlock.
        Assert.True((await blocking.Task).Held);
        Assert.False(handle.IsHeld);

        // The server sends that blocking event only once, and the handle is not used again: unless the unlock
        // gives the lock up now, the other session waits indefinitely.
        var released = server.Released(grant.LockId);
        Assert.True(await Task.WhenAny(released, Task.Delay(Bound, ct)) == released, "the cached lock that blocks a request was never given up");
        Assert.True(await Clients.EventuallyAsync(() => handle.ServerMode is null, Bound));
        Assert.Equal(1, server.Unlocks);
    }
}

/// <summary>
/// An in-process fake of the parts of the HTTP contract a session and one lock handle use: open and close a
/// session, keep-alives, the event long-poll (fed by <see cref="PublishAndWait"/>), lock requests (granted at
/// once) and unlocks (recorded).
/// </summary>
internal sealed class FakeDlmServer : HttpMessageHandler
{
    public const string Lockspace = "race";
    private const string SessionId = "s1";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly Lock _sync = new();
    private readonly List<LockEventInfo> _events = [];
    private readonly Dictionary<string, TaskCompletionSource> _released = new(StringComparer.Ordinal);
    private TaskCompletionSource _published = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _nextLockId;
    private long _fencingToken;
    private int _unlocks;

    /// <summary>How many unlocks (DELETE of a lock) were received.</summary>
    public int Unlocks => Volatile.Read(ref _unlocks);

    /// <summary>Completes when the lock is released (DELETE of the lock).</summary>
    public Task Released(string lockId)
    {
        lock (_sync) return ReleasedSource(lockId).Task;
    }

    /// <summary>Adds an event to the session's outbox and waits (bounded) for <paramref name="handled"/>.</summary>
    public bool PublishAndWait(LockEventInfo item, Task handled, TimeSpan bound)
    {
        TaskCompletionSource published;
        lock (_sync)
        {
            _events.Add(item);
            published = _published;
            _published = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        published.TrySetResult();
        return handled.Wait(bound);
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        var method = request.Method;
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var locks = $"/v1/lockspaces/{Lockspace}/locks";
        if (method == HttpMethod.Post && path == "/v1/sessions") return Reply(HttpStatusCode.Created, new { sessionId = SessionId, ttlMs = 10000 });
        if (method == HttpMethod.Post && path == $"/v1/sessions/{SessionId}/keepalive") return Reply(HttpStatusCode.OK, new { sessionId = SessionId });
        if (method == HttpMethod.Delete && path == $"/v1/sessions/{SessionId}") return Reply(HttpStatusCode.OK, new { sessionId = SessionId });
        if (method == HttpMethod.Get && path == $"/v1/sessions/{SessionId}/events")
        {
            var after = long.Parse(request.RequestUri.Query.Split(['?', '&']).First(part => part.StartsWith("after=", StringComparison.Ordinal))["after=".Length..]);
            return await EventsAsync(after, cancellationToken);
        }
        if (method == HttpMethod.Post && path == locks)
        {
            var mode = JsonDocument.Parse(body!).RootElement.GetProperty("mode").GetString()!;
            var lockId = Interlocked.Increment(ref _nextLockId).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return Reply(HttpStatusCode.OK, Granted(lockId, mode));
        }
        if (method == HttpMethod.Post && path.StartsWith(locks + "/", StringComparison.Ordinal) && path.EndsWith("/convert", StringComparison.Ordinal))
        {
            var mode = JsonDocument.Parse(body!).RootElement.GetProperty("mode").GetString()!;
            return Reply(HttpStatusCode.OK, Granted(path[(locks.Length + 1)..^"/convert".Length], mode));
        }
        if (method == HttpMethod.Delete && path.StartsWith(locks + "/", StringComparison.Ordinal))
        {
            var lockId = path[(locks.Length + 1)..];
            Interlocked.Increment(ref _unlocks);
            lock (_sync) ReleasedSource(lockId).TrySetResult();
            return Reply(HttpStatusCode.OK, new { lockId, state = "released" });
        }
        return Reply(HttpStatusCode.NotFound, new { code = "NotFound", detail = $"{method} {path}" });
    }

    // Answers with the events after `after`, waiting up to a second for one to be published.
    private async Task<HttpResponseMessage> EventsAsync(long after, CancellationToken ct)
    {
        Task published;
        lock (_sync)
        {
            var page = _events.Where(item => item.Seq > after).ToList();
            if (page.Count > 0) return Reply(HttpStatusCode.OK, new { events = page, lastSeq = _events[^1].Seq });
            published = _published.Task;
        }
        await Task.WhenAny(published, Task.Delay(TimeSpan.FromSeconds(1), ct));
        ct.ThrowIfCancellationRequested();
        lock (_sync)
        {
            var page = _events.Where(item => item.Seq > after).ToList();
            return Reply(HttpStatusCode.OK, new { events = page, lastSeq = _events.Count == 0 ? after : _events[^1].Seq });
        }
    }

    private LockInfo Granted(string lockId, string mode) =>
        new(lockId, Lockspace, "r", SessionId, "granted", mode, null, Interlocked.Increment(ref _fencingToken), "", 0, true, null, false);

    private TaskCompletionSource ReleasedSource(string lockId)
    {
        if (!_released.TryGetValue(lockId, out var source)) _released[lockId] = source = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return source;
    }

    private static HttpResponseMessage Reply(HttpStatusCode status, object body) => new(status)
    {
        Content = new StringContent(JsonSerializer.Serialize(body, body.GetType(), Json), Encoding.UTF8, "application/json"),
    };
}
