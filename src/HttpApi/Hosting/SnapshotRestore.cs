using RaftDlm.Consensus;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// <c>--restore-from FILE</c>: installs a backup (<see cref="BackupFile"/>) into an empty data directory before
/// anything else starts, through the same crash-safe install as a seeded snapshot
/// (<see cref="SnapshotFiles.InstallAsync"/>). The node then starts from it as from a snapshot of its own.
/// </summary>
/// <remarks>
/// <para>The file is checked whole before the directory is touched: magic, version, lengths, checksum, the
/// consensus header naming the same index, and the lock table read back into a scratch machine at that index.</para>
/// <para>Crash safety: a marker naming the file's checksum is written (and flushed) first, then the snapshot is
/// installed (partial file, checked, flushed, renamed). Killed before the rename, the directory still counts as
/// empty and the restore is simply done again; after it, the marker says this directory was restored from this
/// very file, and a restart with the same setting starts from the directory. A directory with a log or snapshot
/// and no matching marker is refused: a restore never mixes into an existing node.</para>
/// <para>The snapshot is installed with term 0, not the old cluster's term: the new cluster's first leader is
/// elected in term 1 and its entries follow the snapshot; a snapshot of a higher term than the entries after it
/// would make a node holding only the snapshot look more up to date (Raft §5.4.1) than one holding newer
/// committed entries. Its index is the old cluster's applied index, so the new log, and with it every fencing
/// token (a log index), continues above every token of the backup.</para>
/// </remarks>
internal static class SnapshotRestore
{
    public const int Refused = 2;
    private const string MarkerName = "restored-from";

    /// <summary>Restores when <see cref="ServerOptions.RestoreFrom"/> is set; returns 0 to go on, <see cref="Refused"/> to stop.</summary>
    public static async Task<int> RunAsync(ServerOptions options, TextWriter output, TextWriter error, CancellationToken ct)
    {
        if (options.RestoreFrom is not { Length: > 0 } path) return 0;
        var full = Path.GetFullPath(path);
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        (long Index, long Term, BackupMetadata Metadata, byte[] Snapshot, string Sha256) backup;
        string checksum;
        try
        {
            var bytes = await File.ReadAllBytesAsync(full, ct).ConfigureAwait(false);
            backup = BackupFile.Read(bytes);
            checksum = BackupFile.Checksum(bytes);
            CheckSnapshot(backup.Snapshot, backup.Index);
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            await error.WriteLineAsync($"raft-dlm: refusing to restore from '{path}' ({full}): {failure.Message}; nothing was started and {dataDirectory} was not touched").ConfigureAwait(false);
            return Refused;
        }

        // Restored from this very file already (the marker, and the snapshot the install renames last): the node
        // has run since, so its log may be anything a running node leaves, a checkpoint cut by kill -9 included.
        var marker = Path.Combine(dataDirectory, MarkerName);
        if (File.Exists(marker) && (await File.ReadAllTextAsync(marker, ct).ConfigureAwait(false)).Trim() == checksum
            && SnapshotFiles.Newest(dataDirectory) is { } newest && newest.Index >= backup.Index)
        {
            await output.WriteLineAsync($"raft-dlm: {dataDirectory} was restored from '{path}' already; starting from the data directory").ConfigureAwait(false);
            return 0;
        }
        long lastIndex;
        try
        {
            lastIndex = SnapshotFiles.LastLogIndex(dataDirectory);
        }
        catch (InvalidDataException failure)
        {
            await error.WriteLineAsync($"raft-dlm: refusing to restore into {dataDirectory}: {failure.Message}").ConfigureAwait(false);
            return Refused;
        }
        if (lastIndex > 0)
        {
            await error.WriteLineAsync($"raft-dlm: refusing to restore into {dataDirectory}: it is not empty (log or snapshot up to index {lastIndex}); give an empty data directory").ConfigureAwait(false);
            return Refused;
        }

        SnapshotFile installed;
        try
        {
            Directory.CreateDirectory(dataDirectory);
            await using (var file = new FileStream(marker, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                await file.WriteAsync(System.Text.Encoding.ASCII.GetBytes(checksum + "\n"), ct).ConfigureAwait(false);
                file.Flush(flushToDisk: true);
            }
            await using var content = new MemoryStream(backup.Snapshot, writable: false);
            installed = await SnapshotFiles.InstallAsync(dataDirectory, backup.Index, 0, backup.Snapshot.Length, backup.Sha256, content, ct).ConfigureAwait(false);
        }
        catch (Exception failure) when (failure is IOException or UnauthorizedAccessException)
        {
            // Nothing whole was installed: the directory still counts as empty and the next start restores again.
            await error.WriteLineAsync($"raft-dlm: restoring into {dataDirectory} failed: {failure.Message}; nothing was started, and a start with the same file restores again").ConfigureAwait(false);
            return Refused;
        }
        var metadata = backup.Metadata;
        await output.WriteLineAsync($"raft-dlm: restored '{path}' into {dataDirectory}: index {installed.Index} (old term {backup.Term}), "
            + $"{metadata.Lockspaces} lockspaces, {metadata.Sessions} sessions, {metadata.Resources} resources, {metadata.Locks} locks, "
            + $"max fencing token {metadata.MaxFencingToken}, taken {metadata.CreatedAt} on {metadata.NodeId}").ConfigureAwait(false);
        return 0;
    }

    /// <summary>The consensus header names the backup's index, and the table reads back at that index.</summary>
    private static void CheckSnapshot(byte[] snapshot, long index)
    {
        if (!SnapshotFiles.TryReadHeader(snapshot, out var inside, out _)) throw new InvalidDataException("its snapshot has an unknown format");
        if (inside != index) throw new InvalidDataException($"its snapshot names index {inside}, the file {index}");
        LockMachine table;
        try
        {
            table = LockMachine.Restore(snapshot.AsMemory(SnapshotFiles.HeaderSizeBytes));
        }
        catch (Exception failure) when (failure is not OperationCanceledException)
        {
            throw new InvalidDataException("its lock table cannot be read: " + failure.Message);
        }
        if (table.LastAppliedIndex != index) throw new InvalidDataException($"its lock table is at index {table.LastAppliedIndex}, the file names {index}");
    }
}
