using System.Text.Json.Serialization;

namespace RaftDlm.Jepsen.History;

/// <summary>
/// How an operation ended, as Jepsen records it: ok (it happened), fail (it definitely did not happen)
/// or info (unknown: it may have happened, at any time after its invocation).
/// </summary>
[JsonConverter(typeof(JsonStringEnumConverter<OpType>))]
public enum OpType
{
    [JsonStringEnumMemberName("ok")] Ok,
    [JsonStringEnumMemberName("fail")] Fail,
    [JsonStringEnumMemberName("info")] Info,
}

/// <summary>
/// One recorded operation. Times are milliseconds since the run started. Fields that do not apply to
/// an operation stay null and are left out of the JSON line.
/// </summary>
public sealed record Op
{
    public long Index { get; set; }
    public required int Process { get; init; }
    public required string F { get; init; }
    public required OpType Type { get; init; }
    public required double InvokeMs { get; init; }
    public required double CompleteMs { get; init; }
    public string? Node { get; init; }
    public string? Resource { get; init; }
    public string? Mode { get; init; }
    public string? FromMode { get; init; }
    public string? LockId { get; init; }
    public long? Token { get; init; }
    public long? Value { get; init; }
    public long[]? Values { get; init; }
    public long? LvbSeq { get; init; }
    public bool? LvbValid { get; init; }
    public string? Error { get; init; }

    /// <summary>Whether a checker must assume the operation may have taken effect.</summary>
    [JsonIgnore]
    public bool MayHaveHappened => Type != OpType.Fail;
}
