using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// A holder that goes silent at time s (its session last known alive at a) loses its lock within
/// TTL + grace: some other process's grant completes by s + TTL + <see cref="GraceMs"/>. The check is
/// skipped (and counted) when a server fault overlaps that window, since a new leader legitimately
/// extends every session by a full TTL. A session that answers a keep-alive after a silence longer than
/// TTL + grace without any server fault is a violation; so is one that answers after another process
/// was granted its lock.
/// </summary>
public static class SessionsChecker
{
    public const int GraceMs = 2000;

    public static CheckResult Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, int ttlMs)
    {
        var problems = new List<string>();
        var (checkedCount, skipped) = (0, 0);
        foreach (var silent in ops.Where(op => op.F == "silent"))
        {
            var silentAt = silent.CompleteMs;
            var boundMs = silentAt + ttlMs + GraceMs;
            var serverFault = faults.Any(f => f.Kind != "client-pause" && f.Overlaps(silent.InvokeMs, boundMs + ttlMs));
            var next = ops.Where(op => op.F == "acquire" && op.Type == OpType.Ok && op.Process != silent.Process && op.CompleteMs > silentAt).MinBy(op => op.CompleteMs);
            var resume = ops.Where(op => op.F == "resume-keepalive" && op.Process == silent.Process && op.InvokeMs > silentAt).MinBy(op => op.InvokeMs);
            if (resume is { Type: OpType.Ok } && next is not null && next.CompleteMs < resume.InvokeMs)
            {
                problems.Add($"p{silent.Process}'s session answered a keep-alive at {resume.InvokeMs:F0} ms although p{next.Process} was granted its lock at {next.CompleteMs:F0} ms");
            }
            if (serverFault) { skipped++; continue; }
            if (resume is { Type: OpType.Ok } && resume.InvokeMs > boundMs)
            {
                problems.Add($"p{silent.Process} was silent from {silentAt:F0} ms to {resume.InvokeMs:F0} ms (TTL {ttlMs} ms) and its session still answered");
            }
            if (next is null)
            {
                // Only a violation if others were still asking for the lock well past the bound.
                var othersAsked = ops.Any(op => op.F == "acquire" && op.Process != silent.Process && op.CompleteMs > boundMs + 1000);
                if (othersAsked) problems.Add($"nobody else got the lock after p{silent.Process} went silent at {silentAt:F0} ms");
                else skipped++;
                continue;
            }
            checkedCount++;
            if (next.CompleteMs > boundMs)
            {
                problems.Add($"p{silent.Process} went silent at {silentAt:F0} ms; the next grant (p{next.Process}) came only at {next.CompleteMs:F0} ms, later than TTL {ttlMs} + grace {GraceMs} ms");
            }
        }
        return CheckResult.From("sessions-expire-within-ttl", $"{checkedCount} silences checked, {skipped} skipped (a server fault overlapped or the run ended)", problems);
    }
}
