using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// Workers take and release one EX lock (with a wait, or <c>noQueue</c>); the history of acquire,
/// release and session ends is checked for linearizability against a mutex.
/// </summary>
public sealed class MutexWorkload : IWorkload
{
    public const string Lockspace = "jepsen-mutex";
    public const string Resource = "m";

    public string Name => "mutex";
    public int WorkerCount => 4;

    public Task SetupAsync(RunContext context, CancellationToken cancel) => Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);

    public Worker CreateWorker(RunContext context, int process) => new MutexWorker(context, process);

    public Task FinalAsync(RunContext context, CancellationToken cancel) => Task.CompletedTask;

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        [MutexChecker.Check(ops)];

    private sealed class MutexWorker(RunContext context, int process) : LockWorker(context, process)
    {
        private string? _held;

        protected override void ForgetLocks() => _held = null;

        protected override async Task StepAsync(CancellationToken stop)
        {
            if (_held is null)
            {
                await ThinkAsync(0, 150, stop);
                var noQueue = Random.NextDouble() < 0.3;
                var invoke = Now;
                var attempt = await AcquireAsync(Lockspace, Resource, "EX", noQueue, Random.Next(200, 1500), persistent: false, stop);
                if (Record(attempt, invoke)) await DropSessionAsync(stop);
                return;
            }
            await PausePointAsync(stop);
            await ThinkAsync(0, 200, stop);
            await ReleaseAsync(stop);
        }

        protected override Task ReleaseAllAsync(CancellationToken cancel) => _held is null ? Task.CompletedTask : ReleaseAsync(cancel);

        /// <summary>Records the attempt; true when the outcome is unknown and the session must be dropped.</summary>
        private bool Record(LockAttempt attempt, double invoke)
        {
            var op = NewOp("acquire", attempt.Type, invoke) with { CompleteMs = attempt.CompleteMs, Resource = Resource, Mode = "EX", Token = attempt.Grant?.Token, LockId = attempt.Grant?.LockId, Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe() };
            History.Add(op);
            if (attempt.Type == OpType.Ok && attempt.ReleasedAlready)
            {
                History.Add(NewOp("release", OpType.Ok, attempt.CancelInvokeMs) with { CompleteMs = attempt.CompleteMs, Resource = Resource, LockId = attempt.Grant?.LockId });
            }
            else if (attempt.Type == OpType.Ok)
            {
                _held = attempt.Grant!.LockId;
            }
            if (CheckSessionExpired(attempt.Reply)) return false;
            return attempt.Type == OpType.Info;
        }

        private async Task ReleaseAsync(CancellationToken stop)
        {
            var invoke = Now;
            var reply = await UnlockAsync(Lockspace, _held!, null, stop);
            History.Add(NewOp("release", reply.Type, invoke) with { Resource = Resource, LockId = _held, Error = reply.Type == OpType.Ok ? null : reply.Describe() });
            if (reply.Type == OpType.Ok) { _held = null; return; }
            MaybeSwitchNode(reply);
            if (CheckSessionExpired(reply)) return;
            // Unknown or refused: end the session so the lock is certainly released (recorded as drop).
            if (!IsDefinitelyNotApplied(reply)) await DropSessionAsync(stop);
        }
    }
}
