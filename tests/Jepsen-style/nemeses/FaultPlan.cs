using System.Globalization;

namespace RaftDlm.Jepsen.Nemeses;

/// <summary>
/// One planned fault. The whole schedule is drawn from the seed before the run starts, so the same seed
/// gives the same faults in the same order at the same offsets. Which node is "the leader" is only known
/// when the fault starts, so leader-targeted faults resolve their target then.
/// </summary>
public sealed record FaultPlan(double AtMs, string Kind, string Variant, int DurationMs, int[] Nodes)
{
    public override string ToString() =>
        $"{AtMs / 1000:F1}s {Kind}/{Variant} {DurationMs} ms nodes [{string.Join(',', Nodes.Select(n => n.ToString(CultureInfo.InvariantCulture)))}]";
}

public static class Schedule
{
    public static readonly string[] Kinds = ["kill", "pause", "partition", "restart-all", "restart-all-crash", "wipe", "client-partition", "membership"];

    /// <summary>The membership nemesis's steps: a run starts with an add (3 voters), then the others in a seeded order.</summary>
    public static readonly string[] MembershipSteps = ["add", "remove-follower", "remove-leader", "replace"];

    /// <summary>
    /// Faults one after another: a quiet gap, a fault, its heal, and so on until the time limit. The kinds
    /// come round-robin in a seeded order, so a run long enough for as many faults as kinds exercises every
    /// kind it was given.
    /// </summary>
    public static List<FaultPlan> Plan(IReadOnlyList<string> kinds, int seed, int nodes, int timeLimitMs, int clientPauseMs, bool preferClientPauses)
    {
        var random = new Random(unchecked(seed * 31 + 17));
        var plan = new List<FaultPlan>();
        if (kinds.Count == 0) return plan;
        double at = 2000 + random.Next(0, 2000);
        var order = kinds.OrderBy(_ => random.Next()).ToList();
        // Workloads about client pauses start with one, so a short run always exercises it.
        if (preferClientPauses && order.Remove("pause")) order.Insert(0, "pause");
        // Its own generator, so the other nemeses' schedules for a seed stay what they were.
        var stepRandom = new Random(unchecked(seed * 37 + 5));
        var steps = MembershipSteps.Skip(1).OrderBy(_ => stepRandom.Next()).Prepend(MembershipSteps[0]).ToArray();
        var membershipSteps = 0;
        for (var i = 0; i < 1000 && at < timeLimitMs - 3000; i++)
        {
            var kind = order[i % order.Count];
            var permutation = Enumerable.Range(0, nodes).OrderBy(_ => random.Next()).ToArray();
            var (variant, durationMs) = kind switch
            {
                "kill" => (random.Next(2) == 0 ? "leader" : "random", random.Next(1500, 4000)),
                "pause" => (i == 0 && preferClientPauses) | random.NextDouble() < (preferClientPauses ? 0.75 : 0.4)
                    ? ("client", clientPauseMs)
                    : (random.Next(2) == 0 ? "server-leader" : "server-random", random.Next(2000, 5000)),
                "partition" => (new[] { "isolate-leader", "majority-minority", "bridge" }[random.Next(3)], random.Next(3000, 6000)),
                "restart-all" or "restart-all-crash" => ("all", random.Next(500, 1500)),
                "wipe" => ("follower", random.Next(1000, 2000)),
                // Every client cut from every node, well past the TTL (nodes still reach each other).
                "client-partition" => ("all", clientPauseMs),
                // The duration is room for the change itself (a join streams the snapshot and the log).
                "membership" => (steps[membershipSteps++ % steps.Length], random.Next(4000, 7000)),
                _ => throw new ArgumentException($"unknown nemesis '{kind}' ({string.Join(", ", Kinds)})"),
            };
            plan.Add(new FaultPlan(at, kind, variant, durationMs, permutation));
            at += durationMs + random.Next(2500, 5000);
        }
        return plan;
    }
}
