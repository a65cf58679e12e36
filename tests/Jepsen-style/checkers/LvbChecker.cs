using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// The LVB counter. Grants are ordered by fencing token (EX grants each have their own). For two
/// consecutive observed grants whose <c>lvbSeq</c> differ by exactly one, the only change between them
/// was the end of the first holder's lock, so: if it wrote w (acknowledged), the next grant sees w,
/// valid; if its session died without writing, the next grant sees the LVB invalid. Always: the counter
/// and lvbSeq never go backwards, no two acknowledged increments wrote the same value (a lost increment),
/// and the final counter is at least every acknowledged value.
/// </summary>
public static class LvbChecker
{
    private enum Ending { Unknown, Wrote, Died }

    private sealed record Observed(Op Grant, Ending Ending, long? Written);

    public static CheckResult Check(IReadOnlyList<Op> ops)
    {
        var observed = Observations(ops);
        var problems = new List<string>();
        var (validChecked, invalidChecked) = (0, 0);
        for (var i = 0; i + 1 < observed.Count; i++)
        {
            var (a, b) = (observed[i], observed[i + 1]);
            var (seqA, seqB) = (a.Grant.LvbSeq!.Value, b.Grant.LvbSeq!.Value);
            if (b.Grant.Value < a.Grant.Value) problems.Add($"counter went backwards {a.Grant.Value} → {b.Grant.Value}: {Describe(a.Grant)} then {Describe(b.Grant)}");
            if (seqB < seqA) problems.Add($"lvbSeq went backwards {seqA} → {seqB}: {Describe(a.Grant)} then {Describe(b.Grant)}");
            if (seqB == seqA && a.Ending != Ending.Unknown)
            {
                problems.Add($"{(a.Ending == Ending.Wrote ? "acknowledged write " + a.Written : "invalidation by a dead holder")} missing: lvbSeq unchanged from {Describe(a.Grant)} to {Describe(b.Grant)}");
            }
            if (seqB != seqA + 1) continue;
            if (a.Ending == Ending.Wrote)
            {
                validChecked++;
                if (b.Grant.LvbValid != true || b.Grant.Value != a.Written)
                {
                    problems.Add($"after acknowledged write {a.Written} the next grant saw {b.Grant.Value} valid={b.Grant.LvbValid}: {Describe(b.Grant)}");
                }
            }
            else if (a.Ending == Ending.Died)
            {
                invalidChecked++;
                if (b.Grant.LvbValid != false) problems.Add($"a holder died without writing but the next grant saw the LVB valid: {Describe(a.Grant)} then {Describe(b.Grant)}");
            }
        }
        var acknowledged = observed.Where(o => o.Ending == Ending.Wrote).Select(o => o.Written!.Value).ToList();
        foreach (var duplicate in acknowledged.GroupBy(v => v).Where(g => g.Count() > 1))
        {
            problems.Add($"value {duplicate.Key} was written by {duplicate.Count()} acknowledged increments: increments lost");
        }
        var final = ops.LastOrDefault(op => op.F == "final-read");
        if (final is null) problems.Add("no final read of the LVB");
        else if (acknowledged.Count > 0 && final.Value < acknowledged.Max()) problems.Add($"final counter {final.Value} is below acknowledged value {acknowledged.Max()}");
        var summary = $"{observed.Count} grants observed, {acknowledged.Count} acknowledged increments, final counter {final?.Value} (valid={final?.LvbValid}, seq={final?.LvbSeq}); checked {validChecked} write→valid and {invalidChecked} death→invalid transitions";
        return CheckResult.From("lvb-counter", summary, problems);
    }

    /// <summary>Each observed grant with how its lock ended, from its process's later operations.</summary>
    private static List<Observed> Observations(IReadOnlyList<Op> ops)
    {
        var result = new List<Observed>();
        foreach (var process in ops.Where(op => op.Process >= 0).GroupBy(op => op.Process))
        {
            // A worker is sequential: its recording order is its program order (an expire/drop's
            // invocation is back-dated to when the session was last known alive, so not by invocation).
            var mine = process.OrderBy(op => op.Index).ToList();
            for (var i = 0; i < mine.Count; i++)
            {
                var grant = mine[i];
                if (grant.F != "acquire" || grant.Type != OpType.Ok || grant.LvbSeq is null || grant.Token is null) continue;
                var (ending, written) = (Ending.Unknown, (long?)null);
                foreach (var later in mine.Skip(i + 1))
                {
                    if (later.F == "release" && later.LockId == grant.LockId && later.Type == OpType.Fail) continue;
                    if (later.F == "release" && later.LockId == grant.LockId)
                    {
                        (ending, written) = later.Type == OpType.Ok && later.Value is not null ? (Ending.Wrote, later.Value) : (Ending.Unknown, null);
                    }
                    else if (later.F is "expire" or "drop")
                    {
                        ending = later.Type == OpType.Ok ? Ending.Died : Ending.Unknown;
                    }
                    else
                    {
                        continue;
                    }
                    break;
                }
                result.Add(new Observed(grant, ending, written));
            }
        }
        return result.OrderBy(o => o.Grant.Token).ToList();
    }

    private static string Describe(Op op) => $"#{op.Index} p{op.Process} token {op.Token} value {op.Value} seq {op.LvbSeq} valid {op.LvbValid}";
}
