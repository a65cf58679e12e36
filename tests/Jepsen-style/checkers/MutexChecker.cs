using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// The mutex model: the state is the process holding the lock (-1 when free). acquire needs it free;
/// release needs the caller to hold it; expire and drop (the caller's session ended) free it if the
/// caller held it and are otherwise no-ops.
/// </summary>
public sealed class MutexModel : IModel<int>
{
    public int Initial => -1;

    public bool TryStep(int state, Op op, out int next)
    {
        next = state;
        switch (op.F)
        {
            case "acquire":
                if (state != -1) return false;
                next = op.Process;
                return true;
            case "release":
                if (state != op.Process) return false;
                next = -1;
                return true;
            case "expire" or "drop":
                next = state == op.Process ? -1 : state;
                return true;
            default:
                return true;
        }
    }
}

public static class MutexChecker
{
    private static readonly HashSet<string> Relevant = ["acquire", "release", "expire", "drop"];

    public static CheckResult Check(IReadOnlyList<Op> history)
    {
        // Fail operations did not happen: leave them out. Order by invocation for readable reports.
        var ops = history.Where(op => Relevant.Contains(op.F) && op.Type != OpType.Fail).OrderBy(op => op.InvokeMs).ToList();
        var result = Linearizability.Check(ops, new MutexModel());
        var summary = $"{ops.Count} ops ({ops.Count(op => op.Type == OpType.Info)} info), {result.Steps} search steps";
        if (result.Unknown) return new CheckResult("mutex-linearizable", false, summary + ": search bound hit, unknown", ["search bound hit"], Unknown: true);
        if (result.Linearizable) return new CheckResult("mutex-linearizable", true, summary + ": linearizable", []);
        var problems = new List<string> { "not linearizable; no order completes " + Describe(result.StuckAt) };
        problems.AddRange(result.StuckConcurrent.Select(op => "  concurrent: " + Describe(op)));
        return new CheckResult("mutex-linearizable", false, summary + ": NOT linearizable", problems);
    }

    public static string Describe(Op? op) => op is null ? "?" :
        $"#{op.Index} p{op.Process} {op.F} {op.Type.ToString().ToLowerInvariant()} [{op.InvokeMs:F0}..{op.CompleteMs:F0} ms]{(op.Token is { } t ? " token " + t : "")}";
}
