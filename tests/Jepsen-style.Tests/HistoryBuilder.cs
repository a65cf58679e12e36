using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Tests;

/// <summary>Hand-made histories: each op given by process, name, outcome and its interval.</summary>
internal sealed class HistoryBuilder
{
    private readonly List<Op> _ops = [];

    public HistoryBuilder Add(int process, string f, OpType type, double invokeMs, double completeMs, long? token = null, long? value = null, long? lvbSeq = null, bool? lvbValid = null, string? lockId = null, string? mode = null, string? resource = null, long[]? values = null, string? error = null)
    {
        _ops.Add(new Op
        {
            Index = _ops.Count, Process = process, F = f, Type = type, InvokeMs = invokeMs, CompleteMs = completeMs,
            Token = token, Value = value, LvbSeq = lvbSeq, LvbValid = lvbValid, LockId = lockId, Mode = mode, Resource = resource, Values = values, Error = error,
        });
        return this;
    }

    public HistoryBuilder Ok(int process, string f, double invokeMs, double completeMs) => Add(process, f, OpType.Ok, invokeMs, completeMs);
    public HistoryBuilder Info(int process, string f, double invokeMs) => Add(process, f, OpType.Info, invokeMs, invokeMs + 1);
    public HistoryBuilder Fail(int process, string f, double invokeMs, double completeMs) => Add(process, f, OpType.Fail, invokeMs, completeMs);

    public IReadOnlyList<Op> Build() => _ops;
}
