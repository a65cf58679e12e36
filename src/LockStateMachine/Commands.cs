using MessagePack;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// One committed command as the state machine sees it: the Raft index of its log entry, the time the proposing
/// leader stamped on it, the command, and its position among the commands of that entry (a leader may pack
/// several proposals into one entry; they share the index and the time, and are applied in position order).
/// The machine reads time only from here.
/// </summary>
public readonly record struct LogEntry(long Index, long LeaderTimeMs, Command? Command, int Position = 0);

/// <summary>
/// A mutating command. Every field is validated by the machine: a command built from garbage yields an
/// error result, never an exception. <c>RequestId</c> 0 means "no deduplication".
/// </summary>
[Union(0, typeof(OpenSession))]
[Union(1, typeof(KeepAlive))]
[Union(2, typeof(CloseSession))]
[Union(3, typeof(ExpireSession))]
[Union(4, typeof(ExtendDeadlines))]
[Union(5, typeof(Tick))]
[Union(6, typeof(CreateLockspace))]
[Union(7, typeof(DeleteLockspace))]
[Union(8, typeof(RequestLock))]
[Union(9, typeof(ConvertLock))]
[Union(10, typeof(Unlock))]
[Union(11, typeof(AdoptOrphan))]
[Union(12, typeof(PurgeOrphans))]
public abstract record Command;

/// <summary>
/// Opens a session whose deadline is the entry's leader time plus <c>TtlMs</c>. <c>Owner</c> names the principal
/// that opened it (null: no principal — authentication off, or an admin); only that principal may act on the
/// session afterwards (see <see cref="RequestLock.Caller"/>). Absent from entries written before it existed.
/// </summary>
[MessagePackObject]
public sealed record OpenSession([property: Key(0)] string Name, [property: Key(1)] int TtlMs, [property: Key(2)] string? Owner = null) : Command;

/// <summary>Renews a session's deadline in the replicated state (a checkpoint of the leader's memory).</summary>
[MessagePackObject]
public sealed record KeepAlive([property: Key(0)] long SessionId) : Command;

/// <summary>Ends a session at the client's request.</summary>
[MessagePackObject]
public sealed record CloseSession([property: Key(0)] long SessionId, [property: Key(1)] string? Caller = null) : Command;

/// <summary>The leader decided that the session's deadline passed. Applied unconditionally when the session lives.</summary>
[MessagePackObject]
public sealed record ExpireSession([property: Key(0)] long SessionId) : Command;

/// <summary>A new leader's grace: every live session's deadline becomes at least now plus its TTL.</summary>
[MessagePackObject]
public sealed record ExtendDeadlines : Command;

/// <summary>A pulse that only carries leader time, so lock-delays that ended are acted on.</summary>
[MessagePackObject]
public sealed record Tick : Command;

[MessagePackObject]
public sealed record CreateLockspace(
    [property: Key(0)] string Name,
    [property: Key(1)] int LvbBytes,
    [property: Key(2)] int LockDelayMs) : Command;

[MessagePackObject]
public sealed record DeleteLockspace([property: Key(0)] string Name, [property: Key(1)] bool Force) : Command;

/// <summary>
/// A new lock request. <c>ParentLockId</c> 0 means a top-level lock. <c>TimeoutMs</c> above 0 cancels the
/// request if it still waits that long after the entry's leader time; 0 (and a command logged before the
/// field existed) means no timeout. <c>Caller</c> (here and on the other commands of a session) is the
/// principal that sends it: a session opened by another principal answers exactly as a session that does not
/// exist; null (authentication off, or an admin) may act on any session.
/// </summary>
[MessagePackObject]
public sealed record RequestLock(
    [property: Key(0)] long SessionId,
    [property: Key(1)] long RequestId,
    [property: Key(2)] string Lockspace,
    [property: Key(3)] string Resource,
    [property: Key(4)] LockMode Mode,
    [property: Key(5)] long ParentLockId,
    [property: Key(6)] LockFlags Flags,
    [property: Key(7)] int TimeoutMs = 0,
    [property: Key(8)] string? Caller = null) : Command;

/// <summary>
/// A conversion. <c>SessionId</c> 0 means "the lock's owner"; when given it must be the owner, and it keys
/// deduplication even after the lock is gone. <c>TimeoutMs</c> above 0 cancels the conversion (the lock
/// keeps its granted mode) if it is still converting that long after the entry's leader time.
/// </summary>
[MessagePackObject]
public sealed record ConvertLock(
    [property: Key(0)] long SessionId,
    [property: Key(1)] long RequestId,
    [property: Key(2)] string Lockspace,
    [property: Key(3)] long LockId,
    [property: Key(4)] LockMode Mode,
    [property: Key(5)] byte[]? Lvb,
    [property: Key(6)] LockFlags Flags,
    [property: Key(7)] int TimeoutMs = 0,
    [property: Key(8)] string? Caller = null) : Command;

/// <summary>Releases a granted lock, or cancels a waiting request or a conversion.</summary>
[MessagePackObject]
public sealed record Unlock(
    [property: Key(0)] long SessionId,
    [property: Key(1)] long RequestId,
    [property: Key(2)] string Lockspace,
    [property: Key(3)] long LockId,
    [property: Key(4)] byte[]? Lvb,
    [property: Key(5)] LockFlags Flags,
    [property: Key(6)] bool Force,
    [property: Key(7)] string? Caller = null) : Command;

/// <summary>Takes over the first orphan (in grant order) on a top-level resource held in exactly <c>Mode</c>.</summary>
[MessagePackObject]
public sealed record AdoptOrphan(
    [property: Key(0)] long SessionId,
    [property: Key(1)] long RequestId,
    [property: Key(2)] string Lockspace,
    [property: Key(3)] string Resource,
    [property: Key(4)] LockMode Mode,
    [property: Key(5)] string? Caller = null) : Command;

/// <summary>Operator purge of every orphan on a top-level resource.</summary>
[MessagePackObject]
public sealed record PurgeOrphans([property: Key(0)] string Lockspace, [property: Key(1)] string Resource) : Command;
