using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>Structured log messages of the consensus component, with fixed event ids (7100–7199).</summary>
internal static partial class Log
{
    [LoggerMessage(7100, LogLevel.Information, "Raft node {NodeId} starting at {Endpoint} with {MemberCount} member(s), data in {DataDirectory}")]
    public static partial void Starting(ILogger logger, string nodeId, string endpoint, int memberCount, string dataDirectory);

    [LoggerMessage(7101, LogLevel.Information, "Raft node {NodeId} started; log has {LastIndex} entries, {AppliedIndex} applied")]
    public static partial void Started(ILogger logger, string nodeId, long lastIndex, long appliedIndex);

    [LoggerMessage(7102, LogLevel.Information, "Raft node {NodeId} stopped")]
    public static partial void Stopped(ILogger logger, string nodeId);

    [LoggerMessage(7103, LogLevel.Information, "Leader changed to {LeaderId} (term {Term})")]
    public static partial void LeaderChanged(ILogger logger, string leaderId, long term);

    [LoggerMessage(7104, LogLevel.Warning, "Proposal {Sequence} outcome unknown: {Reason}")]
    public static partial void ProposalOutcomeUnknown(ILogger logger, long sequence, string reason, Exception? exception);

    [LoggerMessage(7110, LogLevel.Critical, "The replicated state machine threw while applying entry {Index}; replicas may diverge")]
    public static partial void ApplyFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(7111, LogLevel.Critical, "Log entry {Index} ({Length} bytes) is not a RaftDlm envelope; skipped on every node")]
    public static partial void UndecodableEntry(ILogger logger, long index, long length);

    [LoggerMessage(7120, LogLevel.Information, "Snapshot taken at index {Index} ({SizeBytes} bytes, SHA-256 {Digest})")]
    public static partial void SnapshotTaken(ILogger logger, long index, long sizeBytes, string digest);

    [LoggerMessage(7121, LogLevel.Error, "Snapshot at index {Index} failed; will retry later")]
    public static partial void SnapshotFailed(ILogger logger, long index, Exception exception);

    [LoggerMessage(7122, LogLevel.Information, "Snapshot at index {Index} restored ({SizeBytes} bytes)")]
    public static partial void SnapshotRestored(ILogger logger, long index, long sizeBytes);

    [LoggerMessage(7124, LogLevel.Information, "Replication of {MemberId} failed below this leader's snapshot (DotNext would retry from entry {RetryFrom}); resuming after the snapshot at index {SnapshotIndex} (logged at most every 10 s)")]
    public static partial void ReplicationResumedAfterSnapshot(ILogger logger, string memberId, long retryFrom, long snapshotIndex);

    [LoggerMessage(7126, LogLevel.Warning, "DotNext's record {EventId} ({EventName}) for cluster member {Member} was left out {Dropped} more times since the last one passed on (at most one every 10 s per member and event)")]
    public static partial void ThinnedRecordsLeftOut(ILogger logger, int eventId, string eventName, string member, long dropped);

    [LoggerMessage(7123, LogLevel.Critical, "Restoring snapshot {File} failed; this node cannot continue")]
    public static partial void SnapshotRestoreFailed(ILogger logger, string file, Exception exception);

    [LoggerMessage(7125, LogLevel.Information, "The data directory holds a {Engine} log; it is kept (LogEngine={Configured} applies to new data directories only)")]
    public static partial void LogEngineKept(ILogger logger, string engine, string configured);

    [LoggerMessage(7140, LogLevel.Information, "Membership started with {Count} member(s): {Ids}")]
    public static partial void MembershipBootstrapped(ILogger logger, int count, string ids);

    [LoggerMessage(7141, LogLevel.Information, "Adding member {Id} at {Endpoint}: catching it up as a learner (at most {TimeoutMs} ms)")]
    public static partial void MemberAdding(ILogger logger, string id, string endpoint, long timeoutMs);

    [LoggerMessage(7142, LogLevel.Information, "Member {Id} caught up and added as a voter")]
    public static partial void MemberAdded(ILogger logger, string id);

    [LoggerMessage(7143, LogLevel.Warning, "Member {Id} did not catch up within {TimeoutMs} ms; it was not added")]
    public static partial void MemberAddFailed(ILogger logger, string id, long timeoutMs);

    [LoggerMessage(7144, LogLevel.Information, "Removing member {Id} (the leader itself: {IsSelf})")]
    public static partial void MemberRemoving(ILogger logger, string id, bool isSelf);

    [LoggerMessage(7145, LogLevel.Information, "Member {Id} removed")]
    public static partial void MemberRemoved(ILogger logger, string id);

    [LoggerMessage(7146, LogLevel.Information, "Member {Id} is already a member with that address: readmitting it (removed, caught up, added again)")]
    public static partial void MemberReadmitting(ILogger logger, string id);

    [LoggerMessage(7147, LogLevel.Warning, "This node ({NodeId}) was removed from the cluster's membership: it no longer votes, leads or serves writes")]
    public static partial void SelfRemoved(ILogger logger, string nodeId);

    [LoggerMessage(7150, LogLevel.Warning, "A data sync of the log took {Milliseconds} ms for {Entries} entries: the disk stalled; a follower answers no append meanwhile, and a leader that hears from no majority within the Raft request timeout steps down")]
    public static partial void SlowSync(ILogger logger, long milliseconds, long entries);
}
