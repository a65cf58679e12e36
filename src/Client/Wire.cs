using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.Client;

// The JSON shapes of the HTTP contract (docs/api.md), as the client reads and writes them. Ids are strings.

internal sealed record OpenSessionBody(string Name, int TtlMs);

internal sealed record SessionOpened(string SessionId, int TtlMs);

internal sealed record LockRequestBody(string SessionId, string Resource, string Mode, string? ParentLockId, string[]? Flags, int WaitMs, long RequestId, int? TimeoutMs = null);

internal sealed record ConvertRequestBody(string Mode, string? Lvb, string[]? Flags, int WaitMs, long RequestId, string SessionId, int? TimeoutMs = null);

internal sealed record UnlockRequestBody(string? Lvb, string[]? Flags, long RequestId, string SessionId);

internal sealed record FenceRequestBody(string Lockspace, string Resource, long FencingToken, string Mode);

internal sealed record FenceReply(bool Valid);

internal sealed record LockspaceRequestBody(int LvbBytes, int LockDelayMs);

internal sealed record EventsReply(List<LockEventInfo> Events, long LastSeq);

internal sealed record LockspacesReply(List<LockspaceInfo> Lockspaces);

internal sealed record ReleasedReply(string LockId, string State);

internal sealed record ProblemReply(string? Code, string? Detail, string? Title);

/// <summary>A lock as the server shows it.</summary>
public sealed record LockInfo(
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
    bool? Demoted = null);

/// <summary>One event of a session's outbox.</summary>
public sealed record LockEventInfo(
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
    bool? LvbValid);

/// <summary>A session as the server shows it.</summary>
public sealed record SessionInfo(string SessionId, int TtlMs, string? Name, List<LockInfo>? Locks);

/// <summary>A lockspace and how many resources it has.</summary>
public sealed record LockspaceInfo(string Name, int LvbBytes, int LockDelayMs, int Resources);

/// <summary>A resource: its LVB and its three queues.</summary>
public sealed record ResourceInfo(string Resource, string Lvb, long LvbSeq, bool LvbValid, List<LockInfo> Granted, List<LockInfo> Converting, List<LockInfo> Waiting);

/// <summary>A cluster member as one node sees it.</summary>
public sealed record MemberInfo(string Id, string RaftEndpoint, string HttpEndpoint, string Status);

/// <summary>One node's view of the cluster.</summary>
public sealed record ClusterInfo(string NodeId, string? LeaderId, long Term, long CommitIndex, long AppliedIndex, List<MemberInfo> Members);

internal static class WireJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static string? Base64(byte[]? bytes) => bytes is null ? null : Convert.ToBase64String(bytes);

    public static byte[]? Bytes(string? base64) => base64 is null ? null : Convert.FromBase64String(base64);

    public static LockMode? Mode(string? text) => text is null ? null : LockModes.Parse(text);
}
