using System.Globalization;
using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// One client process: a session with its own keep-alive loop, a seeded generator of steps, and the
/// bookkeeping every workload needs: when a session ends (expiry seen, or dropped on purpose) an
/// <c>expire</c> / <c>drop</c> operation is recorded, because it releases whatever the session held.
/// The expire operation's invocation is the last moment the session was known alive (the invocation of
/// the last successful keep-alive), so checkers may place the release anywhere after it.
/// </summary>
public abstract class Worker
{
    private const int StepsMax = 1_000_000;
    private double _aliveSinceMs;
    private volatile bool _paused;
    private volatile bool _expiredSeen;
    private volatile string? _sessionId;

    protected Worker(RunContext context, int process)
    {
        Context = context;
        Process = process;
        Random = new Random(unchecked(context.Seed * 7919 + process * 104729));
        Node = process % context.Client.NodeCount;
    }

    public int Process { get; }
    protected RunContext Context { get; }
    protected Random Random { get; }
    protected int Node { get; private set; }
    protected HttpLockClient Client => Context.Client;
    protected HistoryLog History => Context.History;
    protected double Now => History.NowMs;
    protected string? SessionId => _sessionId;
    protected bool SessionExpiredSeen => _expiredSeen;

    /// <summary>One generator step (an operation or a short sequence of them).</summary>
    protected abstract Task StepAsync(CancellationToken stop);

    /// <summary>The session ended: forget every lock it held.</summary>
    protected abstract void ForgetLocks();

    /// <summary>At the end of the run: release what is held (bounded, best effort).</summary>
    protected virtual Task ReleaseAllAsync(CancellationToken cancel) => Task.CompletedTask;

    public virtual async Task RunAsync(CancellationToken stop, CancellationToken hardStop)
    {
        using var keepAliveStop = CancellationTokenSource.CreateLinkedTokenSource(hardStop);
        var keepAlive = KeepAliveLoopAsync(keepAliveStop.Token);
        try
        {
            for (var step = 0; step < StepsMax && !stop.IsCancellationRequested; step++)
            {
                if (_expiredSeen) SessionLost();
                // Requests in flight at the time limit run to their end (hardStop), so the history's
                // last operations have real outcomes instead of cancellations.
                if (_sessionId is null && !await OpenSessionAsync(hardStop)) continue;
                await StepAsync(hardStop);
            }
            if (_sessionId is not null && !hardStop.IsCancellationRequested)
            {
                await ReleaseAllAsync(hardStop);
                await DropSessionAsync(hardStop);
            }
        }
        finally
        {
            await keepAliveStop.CancelAsync();
            await keepAlive;
        }
    }

    protected Op NewOp(string f, OpType type, double invokeMs) => new()
    {
        Process = Process, F = f, Type = type, InvokeMs = invokeMs, CompleteMs = Now,
        Node = Cluster.TestCluster.Id(Node),
    };

    /// <summary>After a failed or unknown call, try another node next time (the node may be down).</summary>
    protected void MaybeSwitchNode(Reply reply)
    {
        if (reply.Status == 0 || reply.Status == 503 || reply.Status == 504) Node = (Node + 1) % Client.NodeCount;
    }

    protected Task ThinkAsync(int minMs, int maxMs, CancellationToken stop) => DelayAsync(Random.Next(minMs, maxMs), stop);

    protected static async Task DelayAsync(int ms, CancellationToken stop)
    {
        try { await Task.Delay(ms, stop); }
        catch (OperationCanceledException) { }
    }

    /// <summary>
    /// A pause point: if the nemesis posted a client pause, go silent (no keep-alives, no operations)
    /// for that long, then return true; the caller carries on as if nothing happened.
    /// </summary>
    protected async Task<bool> PausePointAsync(CancellationToken stop)
    {
        var ms = Context.Pauses.TryTake();
        if (ms == 0) return false;
        _paused = true;
        var window = History.BeginFault("client-pause", $"p{Process} {ms}ms");
        Context.Log($"client p{Process} pauses for {ms} ms while holding a lock");
        await DelayAsync(ms, stop);
        History.EndFault(window);
        _paused = false;
        return true;
    }

    /// <summary>An operation of this session succeeded, so the session was alive when it was invoked.</summary>
    protected void MarkAlive(double invokeMs)
    {
        if (_sessionId is not null) _aliveSinceMs = Math.Max(_aliveSinceMs, invokeMs);
    }

    /// <summary>The last moment the session was known alive (invocation of its last good keep-alive).</summary>
    protected double AliveSinceMs => _aliveSinceMs;

    /// <summary>Goes silent (no keep-alives, no operations) for a while, as a paused client.</summary>
    protected async Task SilenceAsync(int ms, CancellationToken stop)
    {
        _paused = true;
        var window = History.BeginFault("client-pause", $"p{Process} {ms}ms (workload)");
        await DelayAsync(ms, stop);
        History.EndFault(window);
        _paused = false;
    }

    /// <summary>Handles a reply that says the session is gone: records the implicit release.</summary>
    protected bool CheckSessionExpired(Reply reply)
    {
        if (!reply.Is("SessionExpired")) return false;
        SessionLost();
        return true;
    }

    protected void SessionLost()
    {
        if (_sessionId is null) return;
        History.Add(NewOp("expire", OpType.Ok, _aliveSinceMs) with { Error = "session " + _sessionId + " expired" });
        _sessionId = null;
        _expiredSeen = false;
        ForgetLocks();
    }

    /// <summary>
    /// Ends the session on purpose (after an operation with an unknown outcome, so whatever it may
    /// hold is released). Waits, bounded, until the server confirms the session is gone.
    /// </summary>
    protected async Task DropSessionAsync(CancellationToken cancel)
    {
        var id = _sessionId;
        if (id is null) return;
        _sessionId = null;
        // The session may already have expired unseen (keep-alives failing during a fault), so its end
        // lies anywhere after the last moment it was known alive, not only after this call.
        var invoke = _aliveSinceMs;
        var startMs = Now;
        var type = OpType.Info;
        var deadline = startMs + 3 * Context.TtlMs + 15_000;
        var reply = await Client.DeleteAsync(Node, $"/v1/sessions/{id}", null, cancel);
        // A close that succeeds proves the session was alive until the close itself.
        if (reply.Type == OpType.Ok) (type, invoke) = (OpType.Ok, startMs);
        if (reply.Is("SessionExpired")) type = OpType.Ok;
        for (var attempt = 0; type == OpType.Info && attempt < 200 && Now < deadline && !cancel.IsCancellationRequested; attempt++)
        {
            MaybeSwitchNode(reply);
            await DelayAsync(300, cancel);
            reply = await Client.GetAsync(Node, $"/v1/sessions/{id}", cancel);
            if (reply.Is("SessionExpired") || reply.Is("NotFound")) type = OpType.Ok;
        }
        History.Add(NewOp("drop", type, invoke) with { Error = "session " + id });
        _expiredSeen = false;
        ForgetLocks();
    }

    private async Task<bool> OpenSessionAsync(CancellationToken stop)
    {
        var invoke = Now;
        var reply = await Client.PostAsync(Node, "/v1/sessions", new { name = "p" + Process.ToString(CultureInfo.InvariantCulture), ttlMs = Context.TtlMs }, stop);
        if (reply.Type == OpType.Ok && reply.Text("sessionId") is { } id)
        {
            _aliveSinceMs = invoke;
            _expiredSeen = false;
            _sessionId = id;
            return true;
        }
        // An open with an unknown outcome may leave an unused session behind; it holds nothing and expires.
        MaybeSwitchNode(reply);
        await DelayAsync(200, stop);
        return false;
    }

    private async Task KeepAliveLoopAsync(CancellationToken stop)
    {
        var periodMs = Math.Max(100, Context.TtlMs / 4);
        while (!stop.IsCancellationRequested)
        {
            await DelayAsync(periodMs, stop);
            var id = _sessionId;
            if (id is null || _paused || _expiredSeen) continue;
            var invoke = Now;
            var node = Node;
            var reply = await Client.SendAsync(node, HttpMethod.Post, $"/v1/sessions/{id}/keepalive", new { }, stop, TimeSpan.FromMilliseconds(Math.Max(500, Context.TtlMs / 3)));
            if (id != _sessionId) continue;
            if (reply.Type == OpType.Ok) _aliveSinceMs = Math.Max(_aliveSinceMs, invoke);
            else if (reply.Is("SessionExpired")) _expiredSeen = true;
            else MaybeSwitchNode(reply);
        }
    }
}
