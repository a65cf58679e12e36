using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>A workload is a client (its workers), a generator (each worker's seeded steps) and a checker.</summary>
public interface IWorkload
{
    string Name { get; }

    /// <summary>The unfenced store is expected to fail: the run passes only if its checker finds the violation.</summary>
    bool ExpectedToFail => false;

    int WorkerCount { get; }

    Task SetupAsync(RunContext context, CancellationToken cancel);

    Worker CreateWorker(RunContext context, int process);

    /// <summary>Reads after the faults are healed and the workers stopped (bounded).</summary>
    Task FinalAsync(RunContext context, CancellationToken cancel);

    IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context);

    public static IWorkload Create(string name) => name switch
    {
        "mutex" => new MutexWorkload(),
        "fenced-store" => new StoreWorkload(fenced: true),
        "unfenced-store" => new StoreWorkload(fenced: false),
        "lvb-counter" => new LvbCounterWorkload(),
        "modes" => new ModesWorkload(),
        "sessions" => new SessionsWorkload(),
        "client-store" => new ClientLibraryWorkload(localDeadline: true),
        "client-store-no-deadline" => new ClientLibraryWorkload(localDeadline: false),
        _ => throw new ArgumentException($"unknown workload '{name}' ({string.Join(", ", Names)})"),
    };

    public static readonly string[] Names = ["mutex", "fenced-store", "unfenced-store", "lvb-counter", "modes", "sessions", "client-store", "client-store-no-deadline"];
}
