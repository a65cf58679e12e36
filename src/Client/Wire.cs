using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.Client;

// The JSON shapes of the HTTP contract (docs/api.md), as the client reads and writes them. Ids are strings.

internal sealed record OpenSessionBody(string Name, int TtlMs);

internal sealed record SessionOpened(string SessionId, int TtlMs);

internal sealed record LockRequestBody(string SessionId, string Resource, string Mode, string? ParentLockId, string[]? Flags, int WaitMs, long RequestId, int? TimeoutMs = null);

internal sealed record ConvertRequestBody(string Mode, string? Lvb, string[]? Flags, int WaitMs, long RequestId, string? SessionId, int? TimeoutMs = null);

internal sealed record UnlockRequestBody(string? Lvb, string[]? Flags, long RequestId, string SessionId);

internal sealed record AdoptRequestBody(string SessionId, string Resource, string Mode, long RequestId);

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

/// <summary>A page of the sessions view; <c>Next</c> is the cursor of the next page, null on the last.</summary>
public sealed record SessionsPage(List<SessionSummary> Sessions, string? Next);

/// <summary>A session as the sessions view shows it (<c>State</c>: live, jeopardy or ended; <c>TtlLeftMs</c> from the leader).</summary>
public sealed record SessionSummary(string SessionId, string Name, int TtlMs, int? TtlLeftMs, string State, int Locks, List<string> Lockspaces);

/// <summary>A page of a lockspace's resources view.</summary>
public sealed record ResourcesPage(List<ResourceSummary> Resources, string? Next);

/// <summary>A top-level resource with its queue lengths.</summary>
public sealed record ResourceSummary(string Resource, int Granted, int Converting, int Waiting, long LvbSeq, bool LvbValid);

/// <summary>A lockspace's wait-for graph.</summary>
public sealed record WaitForGraph(List<WaitForEdge> Edges, bool Truncated);

/// <summary>A queued request and a lock it waits for (<c>HolderSessionId</c> null: an orphan).</summary>
public sealed record WaitForEdge(string Resource, string? WaiterSessionId, string WaiterLockId, string WaiterMode, string? HolderSessionId, string HolderLockId, string HolderMode);
