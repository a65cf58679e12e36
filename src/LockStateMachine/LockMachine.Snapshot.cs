using System.Buffers;
using System.Security.Cryptography;
using MessagePack;
using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// The snapshot: a compact MessagePack stream written in a defined order (sessions by id, lockspaces by
/// name, resources by id, each queue in its order). Two machines in the same state write the same bytes,
/// so the SHA-256 of the snapshot is the state hash replicas are compared by.
/// Version 2 adds session owners, each queued lock's timeout deadline and the recent unlock ends; a version 1
/// snapshot (written before they existed) is still read (see <see cref="SnapshotVersion"/>). Version 3 adds the
/// last fencing token issued, and is written only when that token is above the last applied index (entries
/// holding several commands issued it); otherwise the snapshot is version 2, which the releases before
/// version 3 read, and the token is derived from the index.
/// </summary>
public sealed partial class LockMachine
{
    private const string SnapshotMagic = "raft-dlm-snapshot";
    // Version 2 adds each session's owner (after its replies), each queued lock's wait deadline, and the recent
    // unlock ends (after the lockspaces). Version 1 snapshots are still read: their sessions have no owner, their
    // queued requests no deadline, and no ends are remembered.
    // Version 3 adds the last fencing token issued, after the recent unlock ends.
    private const int SnapshotVersion = SnapshotFormatVersion;
    private const int FirstReadableVersion = FirstReadableSnapshotFormatVersion;
    private const int VersionWithoutTokenCounter = 2;

    /// <summary>
    /// The newest version of the snapshot this build writes (docs/formats.md): version 3 when the last fencing
    /// token issued is above the last applied index, version 2 otherwise.
    /// </summary>
    public const int SnapshotFormatVersion = 3;

    /// <summary>The oldest snapshot version this build reads.</summary>
    public const int FirstReadableSnapshotFormatVersion = 1;

    public byte[] WriteSnapshot()
    {
        var buffer = new ArrayBufferWriter<byte>(1 << 16);
        var writer = new MessagePackWriter(buffer);
        WriteSnapshot(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    public void WriteSnapshot(Stream destination)
    {
        var bytes = WriteSnapshot();
        destination.Write(bytes);
    }

    public string StateHash() => System.Convert.ToHexStringLower(SHA256.HashData(WriteSnapshot()));

    private void WriteSnapshot(ref MessagePackWriter writer)
    {
        // A token above the index can only come from entries of several commands; until then the counter is
        // derived from the index and the snapshot stays readable by the releases before version 3.
        var version = _lastToken > LastAppliedIndex ? SnapshotVersion : VersionWithoutTokenCounter;
        writer.Write(SnapshotMagic);
        writer.Write(version);
        WriteLimits(ref writer, Limits);
        writer.Write(LastAppliedIndex);
        writer.Write(LastLeaderTimeMs);
        writer.Write(_nextId);
        writer.Write(_locks.Count);

        var sessions = HashOrder.Sorted(_sessions, (a, b) => a.Id.CompareTo(b.Id));
        writer.WriteArrayHeader(sessions.Count);
        foreach (var session in sessions) WriteSession(ref writer, session);
        writer.WriteArrayHeader(_endedSessions.Count);
        foreach (var id in _endedSessions) writer.Write(id);

        var spaces = HashOrder.Sorted(_lockspaces, (a, b) => string.CompareOrdinal(a.Name, b.Name));
        writer.WriteArrayHeader(spaces.Count);
        foreach (var space in spaces)
        {
            writer.Write(space.Name);
            writer.Write(space.LvbBytes);
            writer.Write(space.LockDelayMs);
            var resources = HashOrder.Sorted(space.Resources, (a, b) => a.Id.CompareTo(b.Id));
            writer.WriteArrayHeader(resources.Count);
            foreach (var resource in resources) WriteResource(ref writer, resource);
        }

        writer.WriteArrayHeader(_recentReleaseOrder.Count);
        foreach (var lockId in _recentReleaseOrder)
        {
            writer.Write(lockId);
            writer.Write(_recentReleases[lockId]);
        }
        if (version >= 3) writer.Write(_lastToken);
    }

    private static void WriteLimits(ref MessagePackWriter writer, LockLimits limits)
    {
        writer.WriteArrayHeader(11);
        writer.Write(limits.MaxSessions);
        writer.Write(limits.MaxLocksPerSession);
        writer.Write(limits.MaxLockspaces);
        writer.Write(limits.MaxResourcesPerLockspace);
        writer.Write(limits.MaxQueuedPerResource);
        writer.Write(limits.MaxEventsPerSession);
        writer.Write(limits.MaxRepliesPerSession);
        writer.Write(limits.MaxEndedSessions);
        writer.Write(limits.MinTtlMs);
        writer.Write(limits.MaxTtlMs);
        writer.Write(limits.MaxLockDelayMs);
    }

    private static void WriteSession(ref MessagePackWriter writer, Session session)
    {
        writer.Write(session.Id);
        writer.Write(session.Name);
        writer.Write(session.TtlMs);
        writer.Write(session.DeadlineMs);
        writer.Write(session.Ended);
        writer.Write(session.LastEventSeq);
        writer.WriteArrayHeader(session.Outbox.Count);
        foreach (var item in session.Outbox) MessagePackSerializer.Serialize(ref writer, item, CommandCodec.Options);
        writer.WriteArrayHeader(session.Replies.Count);
        foreach (var (requestId, result) in session.Replies)
        {
            writer.Write(requestId);
            MessagePackSerializer.Serialize(ref writer, result, CommandCodec.Options);
        }
        if (session.Owner is null) writer.WriteNil(); else writer.Write(session.Owner);
    }

    private static void WriteResource(ref MessagePackWriter writer, Resource resource)
    {
        writer.Write(resource.Id);
        writer.Write(resource.Parent?.Id ?? 0);
        writer.Write(resource.Name);
        if (resource.Lvb is null) writer.WriteNil(); else writer.Write(resource.Lvb);
        writer.Write(resource.LvbSeq);
        writer.Write(resource.LvbValid);
        writer.Write(resource.DelayUntilMs);
        WriteQueue(ref writer, ref resource.Granted);
        WriteQueue(ref writer, ref resource.Converting);
        WriteQueue(ref writer, ref resource.Waiting);
    }

    private static void WriteQueue(ref MessagePackWriter writer, ref LockQueue queue)
    {
        writer.WriteArrayHeader(queue.Count);
        for (var item = queue.Head; item is not null; item = item.QueueNext)
        {
            writer.Write(item.Id);
            writer.Write(item.Owner?.Id ?? 0);
            writer.Write(item.Parent?.Id ?? 0);
            writer.Write((ushort)item.Flags);
            writer.Write((byte)item.GrantedMode);
            writer.Write((byte)item.RequestedMode);
            writer.Write(item.FencingToken);
            writer.Write(item.BlockingNotified);
            writer.Write(item.TimeoutDueMs);
        }
    }

    /// <summary>Builds a machine from a snapshot; it keeps the snapshot's limits. Throws on a damaged snapshot.</summary>
    public static LockMachine Restore(ReadOnlyMemory<byte> snapshot)
    {
        try
        {
            var reader = new MessagePackReader(snapshot);
            return Read(ref reader);
        }
        catch (Exception error) when (error is MessagePackSerializationException or EndOfStreamException
            or InvalidOperationException or KeyNotFoundException or ArgumentException or NullReferenceException)
        {
            throw new InvalidDataException("the lock table snapshot is damaged: " + error.Message, error);
        }
    }

    public static LockMachine Restore(Stream source)
    {
        using var copy = new MemoryStream();
        source.CopyTo(copy);
        return Restore(copy.GetBuffer().AsMemory(0, (int)copy.Length));
    }

    private static LockMachine Read(ref MessagePackReader reader)
    {
        if (reader.ReadString() != SnapshotMagic) throw new InvalidDataException("not a lock table snapshot");
        var version = reader.ReadInt32();
        if (version is < FirstReadableVersion or > SnapshotVersion)
        {
            throw new InvalidDataException($"snapshot version {version} is not supported (this build reads {FirstReadableVersion} to {SnapshotVersion})");
        }
        var machine = new LockMachine(ReadLimits(ref reader));
        machine.LastAppliedIndex = reader.ReadInt64();
        machine.LastLeaderTimeMs = reader.ReadInt64();
        machine._nextId = reader.ReadInt64();
        machine._locks.EnsureCapacity(reader.ReadInt32());

        var sessionCount = reader.ReadArrayHeader();
        machine._sessions.EnsureCapacity(sessionCount);
        for (var i = 0; i < sessionCount; i++)
        {
            var session = ReadSession(ref reader, version);
            machine._sessions.Add(session.Id, session);
            if (!session.Ended)
            {
                machine._liveSessions++;
                machine.TrackOwner(session, live: true);
            }
        }
        var endedCount = reader.ReadArrayHeader();
        for (var i = 0; i < endedCount; i++) machine._endedSessions.Enqueue(reader.ReadInt64());

        var spaceCount = reader.ReadArrayHeader();
        for (var i = 0; i < spaceCount; i++)
        {
            var space = new Lockspace(reader.ReadString()!, reader.ReadInt32(), reader.ReadInt32());
            machine._lockspaces.Add(space.Name, space);
            var resourceCount = reader.ReadArrayHeader();
            space.Resources.EnsureCapacity(resourceCount);
            var byId = new Dictionary<long, Resource>(resourceCount);
            for (var j = 0; j < resourceCount; j++) machine.ReadResource(ref reader, space, byId, version);
        }
        if (version >= 2)
        {
            var releases = reader.ReadArrayHeader();
            for (var i = 0; i < releases; i++)
            {
                var lockId = reader.ReadInt64();
                machine._recentReleases.Add(lockId, reader.ReadInt64());
                machine._recentReleaseOrder.Enqueue(lockId);
            }
        }
        // Before version 3 no token was above the index of the command that issued it.
        machine._lastToken = version >= 3 ? reader.ReadInt64() : machine.LastAppliedIndex;
        // Each lock's children are sorted on their own: the walk's order does not matter.
        foreach (var item in HashOrder.Unordered(machine._locks)) item.Children?.Sort((a, b) => a.Id.CompareTo(b.Id));
        return machine;
    }

    private static LockLimits ReadLimits(ref MessagePackReader reader)
    {
        if (reader.ReadArrayHeader() != 11) throw new InvalidDataException("snapshot limits are damaged");
        return new LockLimits
        {
            MaxSessions = reader.ReadInt32(),
            MaxLocksPerSession = reader.ReadInt32(),
            MaxLockspaces = reader.ReadInt32(),
            MaxResourcesPerLockspace = reader.ReadInt32(),
            MaxQueuedPerResource = reader.ReadInt32(),
            MaxEventsPerSession = reader.ReadInt32(),
            MaxRepliesPerSession = reader.ReadInt32(),
            MaxEndedSessions = reader.ReadInt32(),
            MinTtlMs = reader.ReadInt32(),
            MaxTtlMs = reader.ReadInt32(),
            MaxLockDelayMs = reader.ReadInt32(),
        };
    }

    private static Session ReadSession(ref MessagePackReader reader, int version)
    {
        var (id, name, ttlMs, deadlineMs) = (reader.ReadInt64(), reader.ReadString()!, reader.ReadInt32(), reader.ReadInt64());
        var (ended, lastEventSeq) = (reader.ReadBoolean(), reader.ReadInt64());
        var outbox = new List<LockEvent>();
        var events = reader.ReadArrayHeader();
        for (var i = 0; i < events; i++) outbox.Add(MessagePackSerializer.Deserialize<LockEvent>(ref reader, CommandCodec.Options));
        var replies = new List<KeyValuePair<long, Result>>();
        var replyCount = reader.ReadArrayHeader();
        for (var i = 0; i < replyCount; i++)
        {
            var requestId = reader.ReadInt64();
            replies.Add(new(requestId, MessagePackSerializer.Deserialize<Result>(ref reader, CommandCodec.Options)));
        }
        var owner = version >= 2 && !reader.TryReadNil() ? reader.ReadString() : null;
        var session = new Session(id, name, ttlMs, deadlineMs, owner) { Ended = ended, LastEventSeq = lastEventSeq };
        foreach (var item in outbox) session.Outbox.Enqueue(item);
        foreach (var reply in replies) session.Replies.Enqueue(reply);
        return session;
    }

    private void ReadResource(ref MessagePackReader reader, Lockspace space, Dictionary<long, Resource> byId, int version)
    {
        var id = reader.ReadInt64();
        var parentId = reader.ReadInt64();
        var name = reader.ReadString()!;
        var parent = parentId == 0 ? null : byId[parentId];
        var resource = new Resource(id, space, parent, name);
        if (reader.TryReadNil()) resource.Lvb = null; else resource.Lvb = reader.ReadBytes()!.Value.ToArray();
        resource.LvbSeq = reader.ReadInt64();
        resource.LvbValid = reader.ReadBoolean();
        var delayUntil = reader.ReadInt64();
        byId.Add(id, resource);
        space.Resources.Add(resource.Key, resource);
        _resourceCount++;
        if (delayUntil != 0) StartDelay(resource, delayUntil);
        ReadQueue(ref reader, resource, ref resource.Granted, LockState.Granted, version);
        ReadQueue(ref reader, resource, ref resource.Converting, LockState.Converting, version);
        ReadQueue(ref reader, resource, ref resource.Waiting, LockState.Waiting, version);
    }

    private void ReadQueue(ref MessagePackReader reader, Resource resource, ref LockQueue queue, LockState state, int version)
    {
        var count = reader.ReadArrayHeader();
        for (var i = 0; i < count; i++)
        {
            var id = reader.ReadInt64();
            var ownerId = reader.ReadInt64();
            var parentId = reader.ReadInt64();
            var flags = (LockFlags)reader.ReadUInt16();
            var owner = ownerId == 0 ? null : _sessions[ownerId];
            var parent = parentId == 0 ? null : _locks[parentId];
            var item = new Lock(id, owner, resource, parent, flags)
            {
                State = state,
                GrantedMode = (LockMode)reader.ReadByte(),
                RequestedMode = (LockMode)reader.ReadByte(),
                FencingToken = reader.ReadInt64(),
                BlockingNotified = reader.ReadByte(),
            };
            var timeoutDueMs = version >= 2 ? reader.ReadInt64() : 0;
            if (timeoutDueMs != 0 && state != LockState.Granted)
            {
                item.TimeoutDueMs = timeoutDueMs;
                _timeoutDue.Add((timeoutDueMs, id));
            }
            queue.AddLast(item);
            if (item.HoldsMode) resource.AddHeld(item.GrantedMode);
            if (state != LockState.Granted) owner?.Queued.Add(item);
            Register(item);
        }
    }
}
