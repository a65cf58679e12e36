using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.Jepsen.History;

/// <summary>
/// The run's history: every client operation and every fault window, in completion order.
/// Thread-safe; bounded (a run that records more than <see cref="OpsMax"/> operations stops recording
/// and says so, rather than growing without limit).
/// </summary>
public sealed class HistoryLog
{
    public const int OpsMax = 200_000;
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<Op> _ops = [];
    private readonly List<FaultWindow> _faults = [];

    public double NowMs => _clock.Elapsed.TotalMilliseconds;
    public bool Truncated { get; private set; }

    public void Add(Op op)
    {
        lock (_ops)
        {
            if (_ops.Count >= OpsMax) { Truncated = true; return; }
            op.Index = _ops.Count;
            _ops.Add(op);
        }
    }

    public FaultWindow BeginFault(string kind, string detail)
    {
        var window = new FaultWindow { Kind = kind, Detail = detail, StartMs = NowMs };
        lock (_faults) _faults.Add(window);
        return window;
    }

    public void EndFault(FaultWindow window) => window.EndMs ??= NowMs;

    public IReadOnlyList<Op> Ops()
    {
        lock (_ops) return _ops.ToList();
    }

    public IReadOnlyList<FaultWindow> Faults()
    {
        lock (_faults) return _faults.ToList();
    }

    public void WriteJsonLines(string path)
    {
        using var writer = new StreamWriter(path);
        foreach (var op in Ops()) writer.WriteLine(JsonSerializer.Serialize(op, Json));
    }
}

/// <summary>A nemesis fault from its start to its heal.</summary>
public sealed class FaultWindow
{
    public required string Kind { get; init; }
    public required string Detail { get; set; }
    public required double StartMs { get; init; }
    public double? EndMs { get; set; }

    public bool Overlaps(double fromMs, double toMs) => StartMs <= toMs && (EndMs ?? double.MaxValue) >= fromMs;
}
