using System.Buffers.Binary;
using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// Holders of an EX lock increment a 64-bit little-endian counter in the resource's LVB: read at
/// grant, written (+1) on unlock. Now and then a holder ends its session without writing (a crash),
/// which must leave the LVB invalid. A keeper session holds a persistent NL lock so the resource (and
/// its LVB) outlives the moments when nobody else holds it.
/// </summary>
public sealed class LvbCounterWorkload : IWorkload
{
    public const string Lockspace = "jepsen-lvb";
    public const string Resource = "counter";

    public string Name => "lvb-counter";
    public int WorkerCount => 4;

    public static long Decode(string? base64) =>
        base64 is null ? 0 : BinaryPrimitives.ReadInt64LittleEndian(Convert.FromBase64String(base64));

    public static string Encode(long value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        return Convert.ToBase64String(bytes);
    }

    public async Task SetupAsync(RunContext context, CancellationToken cancel)
    {
        await Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var node = attempt % context.Client.NodeCount;
            var session = await context.Client.PostAsync(node, "/v1/sessions", new { name = "keeper", ttlMs = 60_000 }, cancel);
            if (session.Text("sessionId") is not { } id) { await Task.Delay(500, cancel); continue; }
            var body = new { sessionId = id, resource = Resource, mode = "NL", flags = new[] { "persistent" }, waitMs = 0 };
            var reply = await context.Client.PostAsync(node, $"/v1/lockspaces/{Lockspace}/locks", body, cancel);
            if (reply.Type == OpType.Ok) return;
            await Task.Delay(500, cancel);
        }
        throw new InvalidOperationException("could not take the keeper's NL lock");
    }

    public Worker CreateWorker(RunContext context, int process) => new CounterWorker(context, process);

    public async Task FinalAsync(RunContext context, CancellationToken cancel)
    {
        for (var attempt = 0; attempt < 40; attempt++)
        {
            var invoke = context.History.NowMs;
            var reply = await context.Client.GetAsync(attempt % context.Client.NodeCount, $"/v1/lockspaces/{Lockspace}/resources/{Resource}", cancel);
            if (reply.Type == OpType.Ok)
            {
                context.History.Add(new Op
                {
                    Process = -1, F = "final-read", Type = OpType.Ok, InvokeMs = invoke, CompleteMs = context.History.NowMs,
                    Resource = Resource, Value = Decode(reply.Text("lvb")), LvbSeq = reply.Number("lvbSeq"), LvbValid = reply.Flag("lvbValid"),
                });
                return;
            }
            await Task.Delay(500, cancel);
        }
    }

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        [LvbChecker.Check(ops)];

    private sealed class CounterWorker(RunContext context, int process) : LockWorker(context, process)
    {
        protected override void ForgetLocks() { }

        protected override async Task StepAsync(CancellationToken stop)
        {
            await ThinkAsync(0, 100, stop);
            var invoke = Now;
            var attempt = await AcquireAsync(Lockspace, Resource, "EX", noQueue: false, Random.Next(500, 2500), persistent: false, stop);
            var grant = attempt.Grant;
            History.Add(NewOp("acquire", attempt.Type, invoke) with
            {
                CompleteMs = attempt.CompleteMs, Resource = Resource, Token = grant?.Token, LockId = grant?.LockId,
                Value = attempt.Type == OpType.Ok && !attempt.ReleasedAlready ? Decode(grant?.Lvb) : null,
                LvbSeq = attempt.ReleasedAlready ? null : grant?.LvbSeq, LvbValid = attempt.ReleasedAlready ? null : grant?.LvbValid,
                Error = attempt.Type == OpType.Ok ? null : attempt.Reply.Describe(),
            });
            if (attempt.ReleasedAlready) History.Add(NewOp("release", OpType.Ok, attempt.CancelInvokeMs) with { CompleteMs = attempt.CompleteMs, Resource = Resource, LockId = grant?.LockId, Error = "cancel came after the grant; released without writing" });
            if (CheckSessionExpired(attempt.Reply)) return;
            if (attempt.Type == OpType.Info) { await DropSessionAsync(stop); return; }
            if (attempt.Type != OpType.Ok || attempt.ReleasedAlready || grant is null) return;
            await PausePointAsync(stop);
            await ThinkAsync(0, 100, stop);
            if (Random.NextDouble() < 0.08)
            {
                // A crash while holding EX: the session ends without writing, so the LVB must turn invalid.
                await DropSessionAsync(stop);
                return;
            }
            var written = Decode(grant.Lvb) + 1;
            invoke = Now;
            var reply = await UnlockAsync(Lockspace, grant.LockId, Encode(written), stop);
            History.Add(NewOp("release", reply.Type, invoke) with { Resource = Resource, LockId = grant.LockId, Token = grant.Token, Value = written, Error = reply.Type == OpType.Ok ? null : reply.Describe() });
            if (reply.Type == OpType.Ok || CheckSessionExpired(reply)) return;
            MaybeSwitchNode(reply);
            await DropSessionAsync(stop);
        }
    }
}
