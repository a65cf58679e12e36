using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// Random modes and conversions on a few resources. Each worker holds at most one lock at a time:
/// it requests a random mode (queued with a short wait, or <c>noQueue</c>), converts it up or down
/// (<c>noQueue</c>, so a conversion is either granted or refused at once), and releases it.
/// </summary>
public sealed class ModesWorkload : IWorkload
{
    public const string Lockspace = "jepsen-modes";
    private static readonly string[] Resources = ["r0", "r1"];

    public string Name => "modes";
    public int WorkerCount => 5;

    public Task SetupAsync(RunContext context, CancellationToken cancel) => Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);

    public Worker CreateWorker(RunContext context, int process) => new ModesWorker(context, process);

    public Task FinalAsync(RunContext context, CancellationToken cancel) => Task.CompletedTask;

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        ModesChecker.Check(ops);

    private sealed class ModesWorker(RunContext context, int process) : LockWorker(context, process)
    {
        private (string LockId, string Resource, string Mode)? _held;

        protected override void ForgetLocks() => _held = null;

        protected override Task ReleaseAllAsync(CancellationToken cancel) => _held is null ? Task.CompletedTask : ReleaseAsync(cancel);

        private string RandomMode() => Modes.All[1 + Random.Next(Modes.All.Length - 1)];

        protected override async Task StepAsync(CancellationToken stop)
        {
            await ThinkAsync(0, 120, stop);
            if (_held is null) { await AcquireAsync(stop); return; }
            await PausePointAsync(stop);
            if (Random.NextDouble() < 0.5) await ConvertAsync(stop);
            else await ReleaseAsync(stop);
        }

        private async Task AcquireAsync(CancellationToken stop)
        {
            var resource = Resources[Random.Next(Resources.Length)];
            var mode = RandomMode();
            var invoke = Now;
            var attempt = await AcquireAsync(Lockspace, resource, mode, Random.NextDouble() < 0.4, Random.Next(100, 800), persistent: false, stop);
            var grant = attempt.Grant;
            History.Add(NewOp("acquire", attempt.Type, invoke) with
            {
                CompleteMs = attempt.CompleteMs, Resource = resource, Mode = grant?.Mode ?? mode, LockId = grant?.LockId,
                Token = attempt.ReleasedAlready ? null : grant?.Token, Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe(),
            });
            if (attempt.ReleasedAlready) History.Add(NewOp("release", OpType.Ok, attempt.CancelInvokeMs) with { CompleteMs = attempt.CompleteMs, Resource = resource, LockId = grant?.LockId });
            else if (attempt.Type == OpType.Ok && grant is not null) _held = (grant.LockId, resource, grant.Mode);
            if (CheckSessionExpired(attempt.Reply)) return;
            if (attempt.Type == OpType.Info) await DropSessionAsync(stop);
        }

        private async Task ConvertAsync(CancellationToken stop)
        {
            var (lockId, resource, from) = _held!.Value;
            var mode = RandomMode();
            var invoke = Now;
            var attempt = await ConvertAsync(Lockspace, lockId, mode, noQueue: true, 0, null, stop);
            History.Add(NewOp("convert", attempt.Type, invoke) with
            {
                CompleteMs = attempt.CompleteMs, Resource = resource, LockId = lockId, FromMode = from, Mode = attempt.Grant?.Mode ?? mode,
                Token = attempt.Grant?.Token, Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe(),
            });
            if (attempt.Type == OpType.Ok && attempt.Grant is not null) _held = (lockId, resource, attempt.Grant.Mode);
            if (CheckSessionExpired(attempt.Reply)) return;
            if (attempt.Type == OpType.Info || attempt.Type == OpType.Fail && !attempt.Reply.Is("WouldBlock") && !IsDefinitelyNotApplied(attempt.Reply))
            {
                await DropSessionAsync(stop);
            }
        }

        private async Task ReleaseAsync(CancellationToken stop)
        {
            var (lockId, resource, mode) = _held!.Value;
            var invoke = Now;
            var reply = await UnlockAsync(Lockspace, lockId, null, stop);
            History.Add(NewOp("release", reply.Type, invoke) with { Resource = resource, LockId = lockId, Mode = mode, Error = reply.Type == OpType.Ok ? null : reply.Describe() });
            if (reply.Type == OpType.Ok) { _held = null; return; }
            MaybeSwitchNode(reply);
            if (CheckSessionExpired(reply)) return;
            if (!IsDefinitelyNotApplied(reply)) await DropSessionAsync(stop);
        }
    }
}
