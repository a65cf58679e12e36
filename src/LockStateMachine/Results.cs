using MessagePack;

namespace RaftDlm.LockStateMachine;

/// <summary>Why a command did nothing. Each maps to one problem code of the HTTP contract.</summary>
public enum ErrorCode : byte
{
    InvalidRequest = 0,
    NotFound = 1,
    SessionExpired = 2,
    WouldBlock = 3,
    Deadlock = 4,
    Conflict = 5,

    /// <summary>The entry's index is at or below the last applied one: a replay, ignored.</summary>
    AlreadyApplied = 6,
}

/// <summary>
/// The outcome of one applied command. Domain outcomes (granted, would block, deadlock) are values:
/// the machine never throws on a command.
/// </summary>
[Union(0, typeof(ErrorResult))]
[Union(1, typeof(SessionResult))]
[Union(2, typeof(LockspaceResult))]
[Union(3, typeof(LockResult))]
[Union(4, typeof(DoneResult))]
public abstract record Result;

/// <summary>The command changed nothing, for the reason given.</summary>
[MessagePackObject]
public sealed record ErrorResult([property: Key(0)] ErrorCode Code, [property: Key(1)] string Message) : Result;

[MessagePackObject]
public sealed record SessionResult(
    [property: Key(0)] long SessionId,
    [property: Key(1)] int TtlMs,
    [property: Key(2)] long DeadlineMs) : Result;

[MessagePackObject]
public sealed record LockspaceResult([property: Key(0)] bool Created, [property: Key(1)] LockspaceView Lockspace) : Result;

/// <summary>
/// A lock after the command: its state says granted, waiting, converting, released or cancelled.
/// <c>Demoted</c> is true when convDeadlk demoted its granted mode to NL to break a deadlock.
/// </summary>
[MessagePackObject]
public sealed record LockResult([property: Key(0)] LockView Lock, [property: Key(1)] bool Demoted) : Result;

/// <summary>A command with no other payload; <c>Count</c> says how many things it affected.</summary>
[MessagePackObject]
public sealed record DoneResult([property: Key(0)] int Count) : Result;

public enum LockViewState : byte
{
    Granted = 0,
    Converting = 1,
    Waiting = 2,
    Orphan = 3,
    Released = 4,
    Cancelled = 5,
}

/// <summary>
/// An immutable picture of a lock. <c>Mode</c> is the granted mode (null while waiting);
/// <c>RequestedMode</c> is set while waiting or converting. The LVB fields are filled when the lock holds
/// a mode above NL. <c>SessionId</c> is 0 for an orphan.
/// </summary>
[MessagePackObject]
public sealed record LockView(
    [property: Key(0)] long LockId,
    [property: Key(1)] string Lockspace,
    [property: Key(2)] string Resource,
    [property: Key(3)] long SessionId,
    [property: Key(4)] LockViewState State,
    [property: Key(5)] LockMode? Mode,
    [property: Key(6)] LockMode? RequestedMode,
    [property: Key(7)] long FencingToken,
    [property: Key(8)] byte[]? Lvb,
    [property: Key(9)] long LvbSeq,
    [property: Key(10)] bool LvbValid,
    [property: Key(11)] long ParentLockId,
    [property: Key(12)] bool Persistent);

[MessagePackObject]
public sealed record LockspaceView(
    [property: Key(0)] string Name,
    [property: Key(1)] int LvbBytes,
    [property: Key(2)] int LockDelayMs,
    [property: Key(3)] int Resources);

public sealed record SessionView(
    long SessionId,
    string Name,
    int TtlMs,
    long DeadlineMs,
    bool Expired,
    long LastEventSeq,
    IReadOnlyList<LockView> Locks,
    string? Owner);

public sealed record ResourceView(
    string Resource,
    byte[] Lvb,
    long LvbSeq,
    bool LvbValid,
    IReadOnlyList<LockView> Granted,
    IReadOnlyList<LockView> Converting,
    IReadOnlyList<LockView> Waiting);

public enum EventType : byte
{
    Granted = 0,
    Blocking = 1,
    Cancelled = 2,
    Deadlock = 3,
    Demoted = 4,
    LvbInvalid = 5,
    Expired = 6,

    /// <summary>A waiting request or a conversion reached its timeout and was cancelled.</summary>
    Timeout = 7,
}

/// <summary>
/// A notification kept in a session's bounded outbox and numbered per session. Fields that do not apply
/// to a type are null.
/// </summary>
[MessagePackObject]
public sealed record LockEvent(
    [property: Key(0)] long Seq,
    [property: Key(1)] EventType Type,
    [property: Key(2)] string? Lockspace,
    [property: Key(3)] long LockId,
    [property: Key(4)] string? Resource,
    [property: Key(5)] LockMode? Mode,
    [property: Key(6)] LockMode? BlockedMode,
    [property: Key(7)] long? FencingToken,
    [property: Key(8)] byte[]? Lvb,
    [property: Key(9)] long? LvbSeq,
    [property: Key(10)] bool? LvbValid);

/// <summary>A page of a session's outbox: events after the asked number, and the newest number so far.</summary>
public sealed record EventPage(IReadOnlyList<LockEvent> Events, long LastSeq, bool SessionEnded);

/// <summary>A session as the sessions view lists it: its locks counted, the lockspaces they are in sorted.</summary>
public sealed record SessionSummary(long SessionId, string Name, int TtlMs, long DeadlineMs, bool Ended, int Locks, IReadOnlyList<string> Lockspaces, string? Owner);

/// <summary>A top-level resource as the resources view lists it.</summary>
public sealed record ResourceSummary(string Resource, int Granted, int Converting, int Waiting, long LvbSeq, bool LvbValid);

/// <summary>
/// An edge of the wait-for graph: a queued request (waiting or converting) and a lock it waits for, with the
/// mode each is about (the request's requested mode; the holder's granted mode, or its requested mode when it
/// is a request queued ahead). <c>HolderSessionId</c> 0 is an orphan.
/// </summary>
public sealed record WaitForEdge(string Resource, long WaiterSessionId, long WaiterLockId, LockMode WaiterMode, long HolderSessionId, long HolderLockId, LockMode HolderMode);
