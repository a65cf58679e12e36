using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// Sessions and leases. Workers queue for one EX lock; a holder sometimes goes silent (no keep-alives)
/// for well past its TTL. Its session must expire and its lock pass to a waiter within TTL plus a
/// grace; when it comes back, its session must be gone.
/// </summary>
public sealed class SessionsWorkload : IWorkload
{
    public const string Lockspace = "jepsen-sessions";
    public const string Resource = "s";

    public string Name => "sessions";
    public int WorkerCount => 3;

    public Task SetupAsync(RunContext context, CancellationToken cancel) => Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);

    public Worker CreateWorker(RunContext context, int process) => new SessionsWorker(context, process);

    public Task FinalAsync(RunContext context, CancellationToken cancel) => Task.CompletedTask;

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        [SessionsChecker.Check(ops, faults, context.TtlMs), MutexChecker.Check(ops)];

    private sealed class SessionsWorker(RunContext context, int process) : LockWorker(context, process)
    {
        protected override void ForgetLocks() { }

        protected override async Task StepAsync(CancellationToken stop)
        {
            var invoke = Now;
            var attempt = await AcquireAsync(Lockspace, Resource, "EX", noQueue: false, 3000, persistent: false, stop);
            var grant = attempt.Grant;
            History.Add(NewOp("acquire", attempt.Type, invoke) with { CompleteMs = attempt.CompleteMs, Resource = Resource, LockId = grant?.LockId, Token = grant?.Token, Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe() });
            if (attempt.ReleasedAlready) History.Add(NewOp("release", OpType.Ok, attempt.CancelInvokeMs) with { CompleteMs = attempt.CompleteMs, Resource = Resource, LockId = grant?.LockId });
            if (CheckSessionExpired(attempt.Reply)) return;
            if (attempt.Type == OpType.Info) { await DropSessionAsync(stop); return; }
            if (attempt.Type != OpType.Ok || attempt.ReleasedAlready || grant is null) return;
            if (Random.NextDouble() < 0.35) { await GoSilentAsync(stop); return; }
            await PausePointAsync(stop);
            await ThinkAsync(50, 300, stop);
            invoke = Now;
            var reply = await UnlockAsync(Lockspace, grant.LockId, null, stop);
            History.Add(NewOp("release", reply.Type, invoke) with { Resource = Resource, LockId = grant.LockId, Error = reply.Type == OpType.Ok ? null : reply.Describe() });
            if (reply.Type == OpType.Ok || CheckSessionExpired(reply)) return;
            MaybeSwitchNode(reply);
            await DropSessionAsync(stop);
        }

        /// <summary>Holds the lock and stops keep-alives past the TTL, then checks whether the session survived.</summary>
        private async Task GoSilentAsync(CancellationToken stop)
        {
            var silentAt = Now;
            History.Add(NewOp("silent", OpType.Ok, AliveSinceMs) with { CompleteMs = silentAt, Resource = Resource });
            await SilenceAsync(Context.ClientPauseMs, stop);
            var invoke = Now;
            var reply = await Client.PostAsync(Node, $"/v1/sessions/{SessionId}/keepalive", new { }, stop);
            History.Add(NewOp("resume-keepalive", reply.Type, invoke) with { Error = reply.Type == OpType.Ok ? "session survived the pause" : reply.Describe() });
            if (CheckSessionExpired(reply)) return;
            await DropSessionAsync(stop);
        }
    }
}
