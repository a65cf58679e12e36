using RaftDlm.Jepsen.Client;
using RaftDlm.Jepsen.History;
using RaftDlm.Jepsen.Nemeses;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>What every workload and worker shares during one run.</summary>
public sealed class RunContext
{
    public required HistoryLog History { get; init; }
    public required HttpLockClient Client { get; init; }
    public required int Seed { get; init; }
    public required int TtlMs { get; init; }
    public required ClientPauses Pauses { get; init; }
    public required Action<string> Log { get; init; }

    /// <summary>The run's network namespaces, when it has them (client partitions need them).</summary>
    public Cluster.Network? Network { get; init; }

    /// <summary>How long a paused client stays silent: well past its TTL, like a long GC pause.</summary>
    public int ClientPauseMs => 2 * TtlMs + 2500;
}
