using System.Globalization;

namespace RaftDlm.Jepsen.Runner;

public sealed record RunOptions
{
    public string Workload { get; init; } = "mutex";
    public List<string> Nemeses { get; init; } = [];
    public int TimeLimitSeconds { get; init; } = 30;
    public int Seed { get; init; } = 1;
    public int Nodes { get; init; } = 3;
    public int TtlMs { get; init; } = 2000;
    public string? Out { get; init; }

    /// <summary>Granted EX locks taken in a lockspace of their own before the workload starts (0: none).</summary>
    public int PrefillLocks { get; init; }

    /// <summary>The servers' <c>SnapshotEveryEntries</c> during the run (the workload and the nemesis).</summary>
    public int SnapshotEveryEntries { get; init; } = DefaultSnapshotEveryEntries;

    public const int DefaultSnapshotEveryEntries = 500;

    public const string Usage =
        "usage: dotnet run --project tests/Jepsen-style -- --workload W --nemesis N[,N...] --time-limit S --seed X [--nodes 3|5] [--ttl-ms T] [--out DIR]\n" +
        "       [--prefill-locks N] [--snapshot-every E]   (a large lock table under the workload; see the README)\n" +
        "  workloads: mutex fenced-store unfenced-store lvb-counter modes sessions\n" +
        "  nemeses:   none kill pause partition restart-all restart-all-crash wipe client-partition membership (comma-separated)";

    public static RunOptions Parse(string[] args)
    {
        var options = new RunOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            options = args[i] switch
            {
                "--workload" => options with { Workload = Value() },
                "--nemesis" => options with { Nemeses = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(n => n != "none").ToList() },
                "--time-limit" => options with { TimeLimitSeconds = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--seed" => options with { Seed = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--nodes" => options with { Nodes = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--ttl-ms" => options with { TtlMs = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--out" => options with { Out = Value() },
                "--prefill-locks" => options with { PrefillLocks = int.Parse(Value(), CultureInfo.InvariantCulture) },
                "--snapshot-every" => options with { SnapshotEveryEntries = int.Parse(Value(), CultureInfo.InvariantCulture) },
                _ => throw new ArgumentException("unknown argument " + args[i]),
            };
        }
        if (options.Nodes is not (3 or 5)) throw new ArgumentException("--nodes must be 3 or 5");
        if (options.TimeLimitSeconds is < 5 or > 3600) throw new ArgumentException("--time-limit must be 5..3600 seconds");
        if (options.TtlMs is < 500 or > 60_000) throw new ArgumentException("--ttl-ms must be 500..60000");
        if (options.PrefillLocks is < 0 or > 2_000_000) throw new ArgumentException("--prefill-locks must be 0..2000000");
        if (options.SnapshotEveryEntries is < 50 or > 1_000_000) throw new ArgumentException("--snapshot-every must be 50..1000000");
        foreach (var nemesis in options.Nemeses)
        {
            if (!RaftDlm.Jepsen.Nemeses.Schedule.Kinds.Contains(nemesis)) throw new ArgumentException($"unknown nemesis '{nemesis}'");
        }
        return options;
    }

    public string Command =>
        $"dotnet run --project tests/Jepsen-style -- --workload {Workload} --nemesis {(Nemeses.Count == 0 ? "none" : string.Join(',', Nemeses))} --time-limit {TimeLimitSeconds} --seed {Seed} --nodes {Nodes}" +
        (TtlMs != 2000 ? $" --ttl-ms {TtlMs}" : "") +
        (PrefillLocks != 0 ? $" --prefill-locks {PrefillLocks}" : "") +
        (SnapshotEveryEntries != DefaultSnapshotEveryEntries ? $" --snapshot-every {SnapshotEveryEntries}" : "");
}
