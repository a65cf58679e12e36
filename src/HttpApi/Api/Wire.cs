using System.Text.Json;
using System.Text.Json.Serialization;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

// The JSON shapes of the HTTP contract (docs/api.md). Ids travel as strings; a request may
// also send them as JSON numbers. Fields that do not apply are omitted from responses.

internal sealed record SessionCreateBody(string? Name, int? TtlMs);

internal sealed record LockspaceBody(int? LvbBytes, int? LockDelayMs);

internal sealed record LockBody(
    [property: JsonConverter(typeof(IdConverter))] string? SessionId,
    string? Resource,
    string? Mode,
    [property: JsonConverter(typeof(IdConverter))] string? ParentLockId,
    string[]? Flags,
    int? WaitMs,
    long? RequestId,
    int? TimeoutMs = null);

internal sealed record ConvertBody(
    string? Mode,
    string? Lvb,
    string[]? Flags,
    int? WaitMs,
    long? RequestId,
    [property: JsonConverter(typeof(IdConverter))] string? SessionId,
    int? TimeoutMs = null);

internal sealed record UnlockBody(
    string? Lvb,
    string[]? Flags,
    long? RequestId,
    [property: JsonConverter(typeof(IdConverter))] string? SessionId,
    bool? Force);

internal sealed record AdoptBody(
    [property: JsonConverter(typeof(IdConverter))] string? SessionId,
    string? Resource,
    string? Mode,
    long? RequestId);

internal sealed record FenceBody(string? Lockspace, string? Resource, long? FencingToken, string? Mode);

internal sealed record SessionJson(string SessionId, int TtlMs, string? Name = null, IReadOnlyList<LockJson>? Locks = null);

internal sealed record KeepAliveJson(int TtlMs);

internal sealed record LockJson(
    string LockId,
    string Lockspace,
    string Resource,
    string? SessionId,
    string State,
    string? Mode,
    string? RequestedMode,
    long? FencingToken,
    string? Lvb,
    long? LvbSeq,
    bool? LvbValid,
    string? ParentLockId,
    bool Persistent,
    bool? Demoted)
{
    public static LockJson From(LockView view, bool demoted = false) => new(
        Id(view.LockId)!,
        view.Lockspace,
        view.Resource,
        Id(view.SessionId),
        Wire.StateName(view.State),
        view.Mode?.ToString(),
        view.RequestedMode?.ToString(),
        view.Mode is null ? null : view.FencingToken,
        view.Lvb is null ? null : Convert.ToBase64String(view.Lvb),
        view.LvbSeq,
        view.LvbValid,
        Id(view.ParentLockId),
        view.Persistent,
        demoted ? true : null);

    public static string? Id(long id) => id == 0 ? null : id.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

internal sealed record ReleasedJson(string LockId, string State);

internal sealed record EventJson(
    long Seq,
    string Type,
    string? Lockspace,
    string? LockId,
    string? Resource,
    string? Mode,
    string? BlockedMode,
    long? FencingToken,
    string? Lvb,
    long? LvbSeq,
    bool? LvbValid)
{
    public static EventJson From(LockEvent item) => new(
        item.Seq,
        Wire.EventName(item.Type),
        item.Lockspace,
        LockJson.Id(item.LockId),
        item.Resource,
        item.Mode?.ToString(),
        item.BlockedMode?.ToString(),
        item.FencingToken,
        item.Lvb is null ? null : Convert.ToBase64String(item.Lvb),
        item.LvbSeq,
        item.LvbValid);
}

internal sealed record EventsJson(IReadOnlyList<EventJson> Events, long LastSeq);

internal sealed record LockspaceJson(string Name, int LvbBytes, int LockDelayMs, int Resources);

internal sealed record LockspacesJson(IReadOnlyList<LockspaceJson> Lockspaces);

internal sealed record ResourceJson(
    string Resource,
    string Lvb,
    long LvbSeq,
    bool LvbValid,
    IReadOnlyList<LockJson> Granted,
    IReadOnlyList<LockJson> Converting,
    IReadOnlyList<LockJson> Waiting);

internal sealed record FenceJson(bool Valid);

internal sealed record MemberJson(string Id, string RaftEndpoint, string HttpEndpoint, string Status);

internal sealed record ClusterJson(
    string NodeId,
    string? LeaderId,
    long Term,
    long CommitIndex,
    long AppliedIndex,
    IReadOnlyList<MemberJson> Members,
    long SnapshotIndex);

internal sealed record StateJson(long AppliedIndex, string StateHash);

internal sealed record ProblemJson(string Type, string Title, int Status, string Detail, string Code);

/// <summary>Names on the wire and their parsing.</summary>
internal static class Wire
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    private static readonly Dictionary<string, LockFlags> FlagNames = new(StringComparer.Ordinal)
    {
        ["noQueue"] = LockFlags.NoQueue,
        ["noQueueBast"] = LockFlags.NoQueueBast,
        ["quecvt"] = LockFlags.QueCvt,
        ["expedite"] = LockFlags.Expedite,
        ["headQue"] = LockFlags.HeadQue,
        ["noOrder"] = LockFlags.NoOrder,
        ["altPr"] = LockFlags.AltPr,
        ["altCw"] = LockFlags.AltCw,
        ["convDeadlk"] = LockFlags.ConvDeadlk,
        ["ivValBlk"] = LockFlags.IvValBlk,
        ["persistent"] = LockFlags.Persistent,
        ["noDlckWt"] = LockFlags.NoDlckWt,
        ["noDlckBlk"] = LockFlags.NoDlckBlk,
    };

    public static string? ParseFlags(string[]? names, out LockFlags flags)
    {
        flags = LockFlags.None;
        foreach (var name in names ?? [])
        {
            if (name is null || !FlagNames.TryGetValue(name, out var flag)) return $"unknown flag '{name}'";
            flags |= flag;
        }
        return null;
    }

    public static string? ParseMode(string? text, out LockMode mode) =>
        Modes.TryParse(text, out mode) ? null : $"unknown mode '{text}': use NL, CR, CW, PR, PW or EX";

    public static string? ParseLvb(string? base64, out byte[]? lvb)
    {
        lvb = null;
        if (base64 is null) return null;
        var buffer = new byte[(base64.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(base64, buffer, out var written)) return "lvb is not valid base64";
        lvb = buffer[..written];
        return null;
    }

    public static bool TryParseId(string? text, out long id) =>
        long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out id) && id > 0;

    /// <summary>An absent timeoutMs is 0 (no timeout); a present one must be from 1 to the bound.</summary>
    public static string? ParseTimeoutMs(int? timeoutMs, out int value)
    {
        value = timeoutMs ?? 0;
        return timeoutMs is < 1 or > CommandShape.MaxTimeoutMs ? $"timeoutMs must be from 1 to {CommandShape.MaxTimeoutMs}" : null;
    }

    /// <summary>The first error of several checks, all of which have run.</summary>
    public static string? First(params string?[] errors) => errors.FirstOrDefault(error => error is not null);

    /// <summary>
    /// The resource name of <c>/v1/lockspaces/{ls}/resources/{resource}</c>, decoded exactly once from the
    /// raw request target, so that a percent-encoded '/' or '%' in a name comes through as sent.
    /// </summary>
    public static string ResourceFromRawPath(HttpContext context)
    {
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? context.Request.Path.Value ?? "";
        var query = raw.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0) raw = raw[..query];
        const string marker = "/resources/";
        var start = raw.IndexOf(marker, StringComparison.Ordinal);
        return start < 0 ? "" : Uri.UnescapeDataString(raw[(start + marker.Length)..]);
    }

    /// <summary>Reads an optional whole-number query parameter within bounds; absent gives 0.</summary>
    public static bool TryQuery(HttpContext context, string name, long min, long max, out long value)
    {
        value = 0;
        var text = context.Request.Query[name].ToString();
        if (text.Length == 0) return true;
        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out value)
            && value >= min && value <= max;
    }

    public static string StateName(LockViewState state) => state switch
    {
        LockViewState.Granted => "granted",
        LockViewState.Converting => "converting",
        LockViewState.Waiting => "waiting",
        LockViewState.Orphan => "orphan",
        LockViewState.Released => "released",
        _ => "cancelled",
    };

    public static string EventName(EventType type) => type switch
    {
        EventType.Granted => "granted",
        EventType.Blocking => "blocking",
        EventType.Cancelled => "cancelled",
        EventType.Deadlock => "deadlock",
        EventType.Demoted => "demoted",
        EventType.LvbInvalid => "lvbInvalid",
        EventType.Timeout => "timeout",
        _ => "expired",
    };
}

/// <summary>Reads an id sent either as a JSON string or as a JSON number.</summary>
internal sealed class IdConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Number => reader.TryGetInt64(out var number)
            ? number.ToString(System.Globalization.CultureInfo.InvariantCulture)
            : throw new JsonException("an id must be a whole number"),
        _ => throw new JsonException("an id must be a string or a number"),
    };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}

// The who-holds-what views (ViewEndpoints).

internal sealed record SessionsPageJson(IReadOnlyList<SessionSummaryJson> Sessions, string? Next);

internal sealed record SessionSummaryJson(string SessionId, string Name, int TtlMs, int? TtlLeftMs, string State, int Locks, IReadOnlyList<string> Lockspaces);

internal sealed record ResourcesPageJson(IReadOnlyList<ResourceSummaryJson> Resources, string? Next);

internal sealed record ResourceSummaryJson(string Resource, int Granted, int Converting, int Waiting, long LvbSeq, bool LvbValid);

internal sealed record WaitForJson(IReadOnlyList<WaitForEdgeJson> Edges, bool Truncated);

internal sealed record WaitForEdgeJson(
    string Resource,
    string? WaiterSessionId,
    string WaiterLockId,
    string WaiterMode,
    string? HolderSessionId,
    string HolderLockId,
    string HolderMode);
