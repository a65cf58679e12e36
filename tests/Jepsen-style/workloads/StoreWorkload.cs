using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// Each holder of one EX lock reads the outside store, appends its write id and writes the list back,
/// then releases. Fenced: reads and writes carry the grant's fencing token. Unfenced: they do not, and a
/// client paused past its session's TTL (while holding, between its read and its write) resumes and
/// overwrites what later holders wrote: the checker must find those lost writes.
/// </summary>
public sealed class StoreWorkload(bool fenced) : IWorkload
{
    public const string Lockspace = "jepsen-store";
    public const string Resource = "s";
    private readonly ExternalStore _store = new(fenced);

    public string Name => fenced ? "fenced-store" : "unfenced-store";
    public bool ExpectedToFail => !fenced;
    public int WorkerCount => 4;

    public Task SetupAsync(RunContext context, CancellationToken cancel) => Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);

    public Worker CreateWorker(RunContext context, int process) => new StoreWorker(context, process, _store);

    public Task FinalAsync(RunContext context, CancellationToken cancel)
    {
        var now = context.History.NowMs;
        context.History.Add(new Op { Process = -1, F = "final-read", Type = OpType.Ok, InvokeMs = now, CompleteMs = now, Values = _store.Value });
        return Task.CompletedTask;
    }

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        [StoreChecker.Check(ops)];

    private sealed class StoreWorker(RunContext context, int process, ExternalStore store) : LockWorker(context, process)
    {
        private long _writes;

        protected override void ForgetLocks() { }

        protected override async Task StepAsync(CancellationToken stop)
        {
            await ThinkAsync(0, 100, stop);
            var invoke = Now;
            var attempt = await AcquireAsync(Lockspace, Resource, "EX", noQueue: false, Random.Next(500, 2500), persistent: false, stop);
            History.Add(NewOp("acquire", attempt.Type, invoke) with { CompleteMs = attempt.CompleteMs, Resource = Resource, Token = attempt.Grant?.Token, Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe() });
            if (CheckSessionExpired(attempt.Reply)) return;
            if (attempt.Type == OpType.Info) { await DropSessionAsync(stop); return; }
            if (attempt.Type != OpType.Ok || attempt.ReleasedAlready || attempt.Grant?.Token is not { } token) return;
            await UseStoreAsync(attempt.Grant.LockId, token, stop);
        }

        private async Task UseStoreAsync(string lockId, long token, CancellationToken stop)
        {
            var invoke = Now;
            var read = store.TryRead(token, out var value);
            History.Add(NewOp("read", read ? OpType.Ok : OpType.Fail, invoke) with { Token = token, Values = read ? value : null, Error = read ? null : "fenced" });
            if (read)
            {
                // A GC-like pause here, between read and write, is the classic lost update without fencing.
                await PausePointAsync(stop);
                var id = (Process + 1) * 1_000_000L + ++_writes;
                invoke = Now;
                var written = store.TryWrite(token, [.. value, id]);
                History.Add(NewOp("write", written ? OpType.Ok : OpType.Fail, invoke) with { Token = token, Value = id, Error = written ? null : "fenced" });
            }
            invoke = Now;
            var reply = await UnlockAsync(Lockspace, lockId, null, stop);
            History.Add(NewOp("release", reply.Type, invoke) with { Resource = Resource, Token = token, Error = reply.Type == OpType.Ok ? null : reply.Describe() });
            if (reply.Type == OpType.Ok || CheckSessionExpired(reply)) return;
            MaybeSwitchNode(reply);
            await DropSessionAsync(stop);
        }
    }
}
