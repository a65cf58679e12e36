using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>What a grant told the client: the lock, its mode, fencing token and LVB view.</summary>
public sealed record Grant(string LockId, string Mode, long? Token, string? Lvb, long? LvbSeq, bool? LvbValid);

/// <summary>The outcome of a lock request or conversion after any cancel of a queued request.</summary>
/// <remarks>When <see cref="ReleasedAlready"/>, the release happened during the cancel call, which started at <see cref="CancelInvokeMs"/>.</remarks>
public sealed record LockAttempt(OpType Type, Reply Reply, Grant? Grant, bool ReleasedAlready, double CompleteMs, double CancelInvokeMs = 0);

/// <summary>
/// A worker that takes locks through the raw API. A request answered 202 (still queued after
/// <c>waitMs</c>) is cancelled at once, so every request ends definitely granted or not: a cancel that
/// answers <c>released</c> means the grant came first (ok, and already released), <c>cancelled</c>
/// means it never was granted (fail), anything else leaves it unknown (info).
/// </summary>
public abstract class LockWorker(RunContext context, int process) : Worker(context, process)
{
    private long _requestIds;

    protected long NextRequestId() => (Process + 1) * 1_000_000_000L + ++_requestIds;

    protected async Task<LockAttempt> AcquireAsync(string lockspace, string resource, string mode, bool noQueue, int waitMs, bool persistent, CancellationToken stop)
    {
        var flags = new List<string>();
        if (noQueue) flags.Add("noQueue");
        if (persistent) flags.Add("persistent");
        var body = new { sessionId = SessionId, resource, mode, flags, waitMs = noQueue ? 0 : waitMs, requestId = NextRequestId() };
        var invoke = Now;
        var reply = await Client.PostAsync(Node, $"/v1/lockspaces/{lockspace}/locks", body, stop);
        if (reply.Type == OpType.Ok) MarkAlive(invoke);
        return await SettleAsync(lockspace, reply, stop);
    }

    protected async Task<LockAttempt> ConvertAsync(string lockspace, string lockId, string mode, bool noQueue, int waitMs, string? lvb, CancellationToken stop)
    {
        var flags = noQueue ? new[] { "noQueue" } : [];
        var body = new { mode, lvb, flags, waitMs = noQueue ? 0 : waitMs, requestId = NextRequestId() };
        var reply = await Client.PostAsync(Node, $"/v1/lockspaces/{lockspace}/locks/{lockId}/convert", body, stop);
        return await SettleAsync(lockspace, reply, stop);
    }

    protected Task<Reply> UnlockAsync(string lockspace, string lockId, string? lvb, CancellationToken stop) =>
        Client.DeleteAsync(Node, $"/v1/lockspaces/{lockspace}/locks/{lockId}", new { lvb, requestId = NextRequestId() }, stop);

    /// <summary>503 or a refused connection: nothing happened, the caller may simply try again later.</summary>
    protected static bool IsDefinitelyNotApplied(Reply reply) => reply.Type == OpType.Fail && (reply.Status == 503 || reply.Status == 0);

    protected static Grant? ParseGrant(Reply reply) =>
        reply.Text("lockId") is { } lockId
            ? new Grant(lockId, reply.Text("mode") ?? "?", reply.Number("fencingToken"), reply.Text("lvb"), reply.Number("lvbSeq"), reply.Flag("lvbValid"))
            : null;

    private async Task<LockAttempt> SettleAsync(string lockspace, Reply reply, CancellationToken stop)
    {
        if (reply.Type != OpType.Ok) MaybeSwitchNode(reply);
        if (reply.Type != OpType.Ok || reply.Status != 202) return new LockAttempt(reply.Type, reply, reply.Type == OpType.Ok ? ParseGrant(reply) : null, false, Now);
        var lockId = reply.Text("lockId")!;
        var cancelInvoke = Now;
        var cancel = await Client.DeleteAsync(Node, $"/v1/lockspaces/{lockspace}/locks/{lockId}", new { requestId = NextRequestId() }, stop);
        var complete = Now;
        return cancel.Type != OpType.Ok
            ? new LockAttempt(OpType.Info, cancel, null, false, complete)
            : cancel.Text("state") switch
            {
                "cancelled" => new LockAttempt(OpType.Fail, cancel, ParseGrant(reply), false, complete),
                "released" => new LockAttempt(OpType.Ok, cancel, ParseGrant(reply), true, complete, cancelInvoke),
                _ => new LockAttempt(OpType.Info, cancel, null, false, complete),
            };
    }
}
