using Microsoft.Extensions.Logging;

namespace RaftDlm.Client;

// The event pump of one session: long-polls GET /v1/sessions/{id}/events and hands every event to the
// handle whose lock it names. A lock's first events can arrive before the reply that tells its handle the
// lock id, so events for ids not routed yet are kept (a bounded number of ids) until the route is known.
internal sealed partial class SessionEventPump
{
    private const int EarlyEventsMax = 4096;
    private readonly DlmSession _session;
    private readonly ILogger _logger;
    // Guards _routes, _early and _earlyOrder together, so that an event is either routed or kept, never lost
    // between the two while its route is being added.
    private readonly Lock _sync = new();
    private readonly Dictionary<string, DlmLock> _routes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<LockEventInfo>> _early = new(StringComparer.Ordinal);
    private readonly Queue<string> _earlyOrder = new();
    // Only the pump's loop reads and writes it, so it needs no lock.
    private long _lastSeq;

    public SessionEventPump(DlmSession session)
    {
        _session = session;
        _logger = session.Logger;
    }

    // Polls until ct is cancelled (the session ended) or the server says the session expired. Each poll is
    // bounded by the client's attempt timeout and retry budget, and a failed one is retried after a short pause.
    public async Task RunAsync(CancellationToken ct)
    {
        var client = _session.Client;
        var wait = client.Options.EventPollWait;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                EventsReply page;
                try
                {
                    var call = new Call(HttpMethod.Get, $"/v1/sessions/{_session.SessionId}/events?after={_lastSeq}&waitMs={(int)wait.TotalMilliseconds}", null, "events")
                    {
                        AttemptTimeout = wait + client.Options.RequestTimeout,
                    };
                    page = (await client.SendAsync(call, ct).ConfigureAwait(false)).Read<EventsReply>();
                }
                catch (SessionExpiredException)
                {
                    _session.ServerSaysExpired();
                    return;
                }
                catch (DlmException error)
                {
                    LogPollFailed(_session.SessionId, error.Message);
                    await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(200)), ct).ConfigureAwait(false);
                    continue;
                }
                Deliver(page);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    // Routes a lock id's events to a handle, delivering any that arrived before the id was known.
    public void Route(string lockId, DlmLock handle)
    {
        List<LockEventInfo>? early;
        lock (_sync)
        {
            _routes[lockId] = handle;
            _early.Remove(lockId, out early);
        }
        foreach (var item in early ?? []) handle.OnEvent(item);
    }

    public void Unroute(string lockId)
    {
        lock (_sync) _routes.Remove(lockId);
    }

    // Removes a route only while it still leads to this handle: the id may have been routed anew since.
    public void Unroute(string lockId, DlmLock handle)
    {
        lock (_sync)
        {
            if (_routes.TryGetValue(lockId, out var routed) && ReferenceEquals(routed, handle)) _routes.Remove(lockId);
        }
    }

    private void Deliver(EventsReply page)
    {
        if (page.Events.Count > 0 && page.Events[0].Seq > _lastSeq + 1 && _lastSeq > 0)
        {
            // The outbox dropped events we never saw: a blocking event may be among them, so give up
            // every idle cached lock rather than sit on one somebody waits for.
            LogGap(_session.SessionId, _lastSeq, page.Events[0].Seq);
            foreach (var handle in _session.Handles()) handle.OnGap();
        }
        foreach (var item in page.Events)
        {
            if (item.Seq <= _lastSeq) continue;
            _lastSeq = item.Seq;
            if (item.Type == "expired")
            {
                _session.ServerSaysExpired();
                return;
            }
            if (item.LockId is { } lockId && RouteOrKeep(lockId, item) is { } handle) handle.OnEvent(item);
        }
    }

    // The handle routed for the lock id, or null after keeping the event for when the route is added: the
    // reply that names this lock may not have reached its handle yet.
    private DlmLock? RouteOrKeep(string lockId, LockEventInfo item)
    {
        lock (_sync)
        {
            if (_routes.TryGetValue(lockId, out var handle)) return handle;
            if (!_early.TryGetValue(lockId, out var list))
            {
                _early[lockId] = list = [];
                _earlyOrder.Enqueue(lockId);
                while (_earlyOrder.Count > EarlyEventsMax) _early.Remove(_earlyOrder.Dequeue());
            }
            list.Add(item);
            return null;
        }
    }

    [LoggerMessage(EventId = 5200, Level = LogLevel.Debug, Message = "Session {SessionId}: event poll failed: {Reason}")]
    private partial void LogPollFailed(string sessionId, string reason);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "Session {SessionId}: events after {After} were dropped (next is {Next}); idle cached locks are given up")]
    private partial void LogGap(string sessionId, long after, long next);
}
