using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// Modes and conversions. From each process's operations it derives the intervals in which a lock was
/// certainly held in a mode: from the completion of its grant (or conversion) to the invocation of the
/// next operation on it, clipped at the moment the session was last known alive when it expired. Two
/// such intervals on one resource that overlap must have compatible modes. Fencing tokens: a grant or
/// upward conversion that completed before another was invoked has the smaller token; grants sharing a
/// token (one entry) are compatible; a down-conversion keeps its token.
/// </summary>
public static class ModesChecker
{
    public sealed record Held(int Process, string Resource, string Mode, double FromMs, double ToMs, Op Grant);

    public static IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops) => [CheckCompatibility(ops), CheckTokens(ops)];

    public static List<Held> Intervals(IReadOnlyList<Op> ops)
    {
        var intervals = new List<Held>();
        foreach (var process in ops.Where(op => op.Process >= 0).GroupBy(op => op.Process))
        {
            (string Resource, string Mode, double From, Op Grant)? current = null;
            void Close(double at)
            {
                if (current is { } c && at > c.From) intervals.Add(new Held(process.Key, c.Resource, c.Mode, c.From, at, c.Grant));
                current = null;
            }
            foreach (var op in process.OrderBy(op => op.Index))
            {
                switch (op.F, op.Type)
                {
                    case ("acquire", OpType.Ok) when op.Token is not null:
                        Close(op.InvokeMs);
                        current = (op.Resource!, op.Mode!, op.CompleteMs, op);
                        break;
                    case ("convert", OpType.Ok) when current is { } held:
                        Close(op.InvokeMs);
                        current = (held.Resource, op.Mode!, op.CompleteMs, op);
                        break;
                    case ("convert", OpType.Fail):
                        break;
                    case ("drop" or "expire", _):
                        Close(op.InvokeMs);
                        // The session's end lies anywhere after it was last known alive (the op's invocation),
                        // also for a hold that an operation recorded before it closed later (a release that
                        // failed with NotFound after a client pause): clip those to that moment (to their start,
                        // when a conversion completed after it: it was certainly held only then).
                        for (var i = intervals.Count - 1; i >= 0 && intervals[i].Process == process.Key; i--)
                        {
                            if (intervals[i].ToMs > op.InvokeMs) intervals[i] = intervals[i] with { ToMs = Math.Max(intervals[i].FromMs, op.InvokeMs) };
                        }
                        break;
                    case ("release" or "convert", _):
                        Close(op.InvokeMs);
                        break;
                }
            }
            Close(process.Max(op => op.CompleteMs));
        }
        return intervals;
    }

    private static CheckResult CheckCompatibility(IReadOnlyList<Op> ops)
    {
        var intervals = Intervals(ops);
        var problems = new List<string>();
        foreach (var resource in intervals.GroupBy(h => h.Resource))
        {
            var sorted = resource.OrderBy(h => h.FromMs).ToList();
            for (var i = 0; i < sorted.Count; i++)
            {
                for (var j = i + 1; j < sorted.Count && sorted[j].FromMs < sorted[i].ToMs; j++)
                {
                    var (a, b) = (sorted[i], sorted[j]);
                    if (a.Process != b.Process && !Modes.Compatible(a.Mode, b.Mode))
                    {
                        problems.Add($"{resource.Key}: p{a.Process} held {a.Mode} [{a.FromMs:F0}..{a.ToMs:F0}] while p{b.Process} held {b.Mode} [{b.FromMs:F0}..{b.ToMs:F0}] (grants #{a.Grant.Index} token {a.Grant.Token}, #{b.Grant.Index} token {b.Grant.Token})");
                    }
                }
            }
        }
        return CheckResult.From("modes-compatible", $"{intervals.Count} certain holding intervals on {intervals.Select(h => h.Resource).Distinct().Count()} resources", problems);
    }

    private static CheckResult CheckTokens(IReadOnlyList<Op> ops)
    {
        var problems = new List<string>();
        var granting = ops.Where(op => op.Type == OpType.Ok && op.Token is not null &&
            (op.F == "acquire" || op.F == "convert" && op.FromMode is { } from && !Modes.IsDownConversion(from, op.Mode!))).ToList();
        foreach (var convert in ops.Where(op => op.F == "convert" && op.Type == OpType.Ok && op.FromMode is { } from && Modes.IsDownConversion(from, op.Mode!)))
        {
            var before = ops.LastOrDefault(op => op.Process == convert.Process && op.LockId == convert.LockId && op.Index < convert.Index && op.Type == OpType.Ok && op.Token is not null && op.F is "acquire" or "convert");
            if (before is not null && convert.Token is not null && before.Token != convert.Token)
            {
                problems.Add($"down-conversion #{convert.Index} changed the token {before.Token} → {convert.Token}");
            }
        }
        foreach (var resource in granting.GroupBy(op => op.Resource))
        {
            var list = resource.OrderBy(op => op.CompleteMs).ToList();
            for (var i = 0; i < list.Count; i++)
            {
                for (var j = 0; j < list.Count; j++)
                {
                    var (a, b) = (list[i], list[j]);
                    if (i != j && a.CompleteMs < b.InvokeMs && a.Token >= b.Token)
                    {
                        problems.Add($"{resource.Key}: grant #{a.Index} (token {a.Token}) completed before grant #{b.Index} (token {b.Token}) was invoked");
                    }
                    if (i < j && a.Token == b.Token && !Modes.Compatible(a.Mode!, b.Mode!))
                    {
                        problems.Add($"{resource.Key}: incompatible grants #{a.Index} {a.Mode} and #{b.Index} {b.Mode} share token {a.Token}");
                    }
                }
            }
        }
        return CheckResult.From("fencing-tokens-increase", $"{granting.Count} granting operations checked", problems);
    }
}
