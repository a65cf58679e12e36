namespace RaftDlm.Consensus;

/// <summary>
/// The seam between consensus and the replicated application. Implemented by the server host.
/// </summary>
/// <remarks>
/// Contract, in order of importance:
/// <list type="bullet">
/// <item><see cref="Apply"/> is called on every node for every committed command, in log order, from a
/// single thread at a time. A leader may pack several proposals into one entry: they are applied one after
/// another with the entry's index, its one leader time and their positions 0, 1, 2…. It must be deterministic: the same commands with the same times produce the
/// same state and the same replies on every node. It must never throw; consensus catches and logs an
/// exception as critical, but the node's state may then have diverged. The one exception is
/// <see cref="UnsupportedFormatException"/>, for a command a newer version wrote that this build cannot
/// apply: consensus then stops applying on this node instead of skipping it (docs/formats.md).</item>
/// <item>Entries that consensus itself appends (election no-ops, membership entries, and its own no-op with an
/// empty command, proposed to move the log on) are never passed here, so the indices seen by
/// <see cref="Apply"/> have gaps. A host therefore never proposes an empty command.</item>
/// <item>Replay is safe: consensus skips entries at or below <see cref="LastAppliedIndex"/>.</item>
/// <item><see cref="WriteSnapshot"/> writes the state as of <see cref="LastAppliedIndex"/>, always after every
/// command of that entry, and is never called concurrently with <see cref="Apply"/>. <see cref="RestoreSnapshot"/> discards all prior state, including
/// <see cref="LastAppliedIndex"/>, which must be restored from the snapshot.</item>
/// </list>
/// </remarks>
public interface IReplicatedStateMachine
{
    /// <summary>
    /// Applies one committed command and returns its reply. Must never throw, except
    /// <see cref="UnsupportedFormatException"/> for a command of a newer version. On the node that proposed the
    /// command the reply object itself is handed to the waiting <see cref="RaftNode.ProposeAsync"/> (it never
    /// leaves the process, so it is not serialized); elsewhere it is dropped.
    /// </summary>
    /// <param name="index">The Raft log index of the entry.</param>
    /// <param name="position">The command's position among the commands of that entry: 0 for the first (and for the
    /// only one of an entry that holds one).</param>
    /// <param name="leaderTimeMs">Unix time in milliseconds stamped by the proposing leader. It never
    /// decreases from one applied command to the next, across leader changes and restarts.</param>
    /// <param name="command">The opaque command bytes given to <see cref="RaftNode.ProposeAsync"/>.</param>
    object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command);

    /// <summary>
    /// The index passed to the most recent <see cref="Apply"/>, or restored from a snapshot: the last command
    /// this machine applied. It lags <see cref="RaftNode.LastAppliedLogIndex"/>, which also counts the entries
    /// consensus keeps to itself.
    /// </summary>
    long LastAppliedIndex { get; }

    /// <summary>Writes the state at <see cref="LastAppliedIndex"/>.</summary>
    void WriteSnapshot(Stream destination);

    /// <summary>Replaces the whole state by the one read from <paramref name="source"/>.</summary>
    void RestoreSnapshot(Stream source);
}
