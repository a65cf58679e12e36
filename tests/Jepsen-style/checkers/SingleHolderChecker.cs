using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// No two clients hold the lock at once, as the fenced store sees it: the store refuses a read or write whose
/// fencing token is below the highest it has seen, which happens only when a client acts on the store while
/// believing it holds the lock after a newer holder has already acted. Every such refusal is a violation.
/// </summary>
public static class SingleHolderChecker
{
    public static CheckResult Check(IReadOnlyList<Op> ops)
    {
        var refused = ops.Where(op => op.F is "read" or "write" && op.Type == OpType.Fail && op.Error == "fenced").ToList();
        var problems = refused
            .Select(op => $"p{op.Process} {op.F} with token {op.Token} at {op.InvokeMs / 1000:F3}s while a newer holder had acted: two holders at once")
            .ToList();
        var acted = ops.Count(op => op.F is "read" or "write" && op.Type == OpType.Ok);
        var stoodDown = ops.Count(op => op.F == "stand-down");
        return CheckResult.From("single-holder", $"{acted} store accesses by holders, {refused.Count} by a client that was no longer the holder, {stoodDown} stand-downs on a lost lease", problems);
    }
}
