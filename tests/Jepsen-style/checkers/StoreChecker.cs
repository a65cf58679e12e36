using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// No acknowledged write is lost: every write the store accepted must be in the final value (each
/// write appends its id to the list it read, so a write made from a stale read drops the ids written in
/// between). Also reports which writes overwrote others.
/// </summary>
public static class StoreChecker
{
    public static CheckResult Check(IReadOnlyList<Op> ops)
    {
        var final = ops.LastOrDefault(op => op.F == "final-read")?.Values;
        if (final is null) return new CheckResult("store-no-lost-writes", false, "no final read", ["no final read"], Unknown: true);
        var present = final.ToHashSet();
        var writes = ops.Where(op => op.F == "write" && op.Type == OpType.Ok).ToList();
        var problems = new List<string>();
        foreach (var write in writes.Where(write => !present.Contains(write.Value!.Value)))
        {
            problems.Add($"acknowledged write {write.Value} lost: {MutexChecker.Describe(write)}");
        }
        if (present.Count != final.Length) problems.Add("the final value holds a write id twice");
        var rejected = ops.Count(op => op.Type == OpType.Fail && op.Error == "fenced");
        var summary = $"{writes.Count} acknowledged writes, {final.Length} in the final value, {problems.Count} lost, {rejected} stale reads/writes refused by the fence";
        return CheckResult.From("store-no-lost-writes", summary, problems);
    }
}
