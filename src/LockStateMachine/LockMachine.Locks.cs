using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public sealed partial class LockMachine
{
    private Result Request(RequestLock command)
    {
        if (Screen(command, command.SessionId, command.RequestId, command.Caller, out var session) is { } answered) return answered;
        return Remember(session, command.RequestId, RequestCore(session, command));
    }

    private Result RequestCore(Session session, RequestLock command)
    {
        if (!TryGetLockspace(command.Lockspace, out var space, out var error)) return error;
        if (ValidateRequest(session, space, command, out var parent) is { } invalid) return invalid;

        var mode = command.Mode;
        var flags = command.Flags;
        var key = new ResourceKey(parent?.Resource.Id ?? 0, command.Resource);
        space.Resources.TryGetValue(key, out var resource);
        if (resource is null && space.Resources.Count >= Limits.MaxResourcesPerLockspace)
        {
            return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxResourcesPerLockspace} resources in lockspace '{space.Name}' is reached");
        }

        LockMode? grant = resource is null ? mode : NewRequestGrantMode(resource, mode, flags);
        if (grant is null)
        {
            if ((flags & LockFlags.NoQueue) != 0)
            {
                if ((flags & LockFlags.NoQueueBast) != 0) NotifyHolders(resource!, mode, except: null);
                return Error(ErrorCode.WouldBlock, $"{mode} on '{command.Resource}' cannot be granted now");
            }
            if (resource!.QueuedCount >= Limits.MaxQueuedPerResource)
            {
                return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxQueuedPerResource} queued requests on '{command.Resource}' is reached");
            }
        }

        resource ??= CreateResource(space, parent?.Resource, command.Resource);
        var item = new Lock(NextId(), session, resource, parent, flags) { RequestedMode = mode };
        Register(item);
        if (grant is { } granted)
        {
            GrantNow(item, granted);
            return new LockResult(View(item), false);
        }

        item.State = LockState.Waiting;
        if ((flags & LockFlags.HeadQue) != 0) resource.Waiting.AddFirst(item); else resource.Waiting.AddLast(item);
        session.Queued.Add(item);
        StartTimeout(item, command.TimeoutMs);
        Touch(resource);
        if (ClosesCycle(item))
        {
            var view = View(item);
            Discard(item);
            Emit(session, EventFor(EventType.Deadlock, view));
            return Error(ErrorCode.Deadlock, $"lock {item.Id} on '{command.Resource}' would close a deadlock cycle");
        }
        // Re-examining the queues may grant it at once (a noOrder waiter ahead does not hold it back).
        Settle();
        return new LockResult(View(item), false);
    }

    private Result? ValidateRequest(Session session, Lockspace space, RequestLock command, out Lock? parent)
    {
        parent = null;
        if (command.ParentLockId != 0)
        {
            if (!_locks.TryGetValue(command.ParentLockId, out parent) || parent.Resource.Space != space)
            {
                return Error(ErrorCode.NotFound, $"parent lock {command.ParentLockId} does not exist in lockspace '{space.Name}'");
            }
            if (parent.Owner != session) return Error(ErrorCode.Conflict, $"parent lock {parent.Id} belongs to another session");
            if (!parent.HoldsMode || parent.GrantedMode == LockMode.NL)
            {
                return Error(ErrorCode.Conflict, $"parent lock {parent.Id} must be granted above NL");
            }
            if ((command.Flags & LockFlags.Persistent) != 0 && !parent.IsPersistent)
            {
                return Error(ErrorCode.InvalidRequest, "a persistent sublock needs a persistent parent");
            }
        }
        if (session.Locks.Count >= Limits.MaxLocksPerSession)
        {
            return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxLocksPerSession} locks per session is reached");
        }
        return null;
    }

    private Result Convert(ConvertLock command)
    {
        if (Screen(command, command.Lockspace, command.LockId, command.SessionId, command.RequestId, command.Caller, out var item) is { } answered)
        {
            return answered;
        }
        return Remember(item.Owner!, command.RequestId, ConvertCore(item, command));
    }

    private Result ConvertCore(Lock item, ConvertLock command)
    {
        var mode = command.Mode;
        var flags = command.Flags;
        if (LvbSizeError(item, command.Lvb) is { } lvbError) return lvbError;
        if (item.State != LockState.Granted)
        {
            return Error(ErrorCode.Conflict, $"lock {item.Id} is {item.State.ToString().ToLowerInvariant()}, not granted");
        }
        var writes = command.Lvb is not null || (flags & LockFlags.IvValBlk) != 0;
        if (writes && (!Modes.CanWriteLvb(item.GrantedMode) || !Modes.IsDownConversion(item.GrantedMode, mode)))
        {
            return Error(ErrorCode.Conflict, "an LVB is written only by a conversion down from PW or EX, or to the same mode");
        }

        var resource = item.Resource;
        Touch(resource);
        if (Modes.IsDownConversion(item.GrantedMode, mode))
        {
            if (writes) WriteLvb(item, command.Lvb);
            ChangeHeldMode(item, mode, newToken: false);
            return new LockResult(View(item), false);
        }

        item.Flags = (item.Flags & LockFlags.Persistent) | flags;
        if (ConversionGrantMode(item, mode) is { } granted)
        {
            ChangeHeldMode(item, granted, newToken: true);
            return new LockResult(View(item), false);
        }
        if ((flags & LockFlags.NoQueue) != 0)
        {
            if ((flags & LockFlags.NoQueueBast) != 0) NotifyHolders(resource, mode, except: item);
            return Error(ErrorCode.WouldBlock, $"lock {item.Id} cannot be converted to {mode} now");
        }
        if (resource.QueuedCount >= Limits.MaxQueuedPerResource)
        {
            return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxQueuedPerResource} queued requests on '{resource.Name}' is reached");
        }

        resource.Granted.Remove(item);
        item.State = LockState.Converting;
        item.RequestedMode = mode;
        if ((flags & LockFlags.HeadQue) != 0) resource.Converting.AddFirst(item); else resource.Converting.AddLast(item);
        item.Owner!.Queued.Add(item);
        StartTimeout(item, command.TimeoutMs);
        if (!ClosesCycle(item))
        {
            Settle();
            return new LockResult(View(item), false);
        }

        if ((flags & LockFlags.ConvDeadlk) == 0)
        {
            CancelConversion(item);
            Emit(item.Owner, EventFor(EventType.Deadlock, View(item)));
            return Error(ErrorCode.Deadlock, $"converting lock {item.Id} to {mode} would close a deadlock cycle");
        }
        resource.RemoveHeld(item.GrantedMode);
        item.GrantedMode = LockMode.NL;
        resource.AddHeld(LockMode.NL);
        Emit(item.Owner, EventFor(EventType.Demoted, View(item)));
        Settle();
        return new LockResult(View(item), true);
    }

    private Result Release(Unlock command)
    {
        if (Screen(command, command.Lockspace, command.LockId, command.SessionId, command.RequestId, command.Caller, out var item) is { } answered)
        {
            return answered;
        }
        var owner = item.Owner!;
        var result = Remember(owner, command.RequestId, ReleaseCore(item, command));
        if (command.RequestId != 0 && !_locks.ContainsKey(item.Id)) RememberRelease(item.Id, owner.Id);
        return result;
    }

    private Result ReleaseCore(Lock item, Unlock command)
    {
        if (LvbSizeError(item, command.Lvb) is { } lvbError) return lvbError;
        var writes = command.Lvb is not null || (command.Flags & LockFlags.IvValBlk) != 0;
        if (item.State != LockState.Granted)
        {
            if (writes) return Error(ErrorCode.Conflict, "a waiting or converting request cannot write the LVB");
            var wasWaiting = item.State == LockState.Waiting;
            if (wasWaiting) Discard(item); else CancelConversion(item);
            var cancelled = View(item, LockViewState.Cancelled);
            Emit(item.Owner, EventFor(EventType.Cancelled, cancelled));
            return new LockResult(cancelled, false);
        }
        if (item.ChildCount > 0 && !command.Force)
        {
            return Error(ErrorCode.Conflict, $"lock {item.Id} has {item.ChildCount} sublocks: unlock them first or force");
        }
        if (writes && !Modes.CanWriteLvb(item.GrantedMode))
        {
            return Error(ErrorCode.Conflict, $"an LVB is written only from PW or EX, not {item.GrantedMode}");
        }

        ReleaseChildren(item);
        if (writes) WriteLvb(item, command.Lvb);
        var released = View(item, LockViewState.Released);
        Discard(item);
        return new LockResult(released, false);
    }

    /// <summary>Force-releases a lock's sublocks, deepest first; they count as released without writing.</summary>
    private void ReleaseChildren(Lock item)
    {
        if (item.Children is not { Count: > 0 } children) return;
        foreach (var child in children.OrderBy(child => child.Id).ToList())
        {
            ReleaseChildren(child);
            Discard(child, invalidateLvb: child.State != LockState.Waiting);
        }
    }

    private Result Adopt(AdoptOrphan command)
    {
        if (Screen(command, command.SessionId, command.RequestId, command.Caller, out var session) is { } answered) return answered;
        return Remember(session, command.RequestId, AdoptCore(session, command));
    }

    private Result AdoptCore(Session session, AdoptOrphan command)
    {
        if (!TryGetLockspace(command.Lockspace, out var space, out var error)) return error;
        Lock? orphan = null;
        if (space.Resources.TryGetValue(new ResourceKey(0, command.Resource), out var resource))
        {
            for (var item = resource.Granted.Head; item is not null && orphan is null; item = item.QueueNext)
            {
                if (item.IsOrphan && item.GrantedMode == command.Mode) orphan = item;
            }
        }
        if (orphan is null) return Error(ErrorCode.NotFound, $"no orphan in {command.Mode} on '{command.Resource}'");

        var subtree = new List<Lock>();
        CollectSubtree(orphan, subtree);
        if (session.Locks.Count + subtree.Count > Limits.MaxLocksPerSession)
        {
            return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxLocksPerSession} locks per session is reached");
        }
        foreach (var item in subtree)
        {
            item.Owner = session;
            session.Locks.Add(item.Id, item);
        }
        return new LockResult(View(orphan), false);
    }

    private static void CollectSubtree(Lock item, List<Lock> into)
    {
        into.Add(item);
        if (item.Children is null) return;
        foreach (var child in item.Children) CollectSubtree(child, into);
    }

    private Result Purge(PurgeOrphans command)
    {
        if (!TryGetLockspace(command.Lockspace, out var space, out var error)) return error;
        if (!space.Resources.TryGetValue(new ResourceKey(0, command.Resource), out var resource)) return new DoneResult(0);
        var orphans = new List<Lock>();
        for (var item = resource.Granted.Head; item is not null; item = item.QueueNext)
        {
            if (item.IsOrphan) orphans.Add(item);
        }
        foreach (var orphan in orphans)
        {
            ReleaseChildren(orphan);
            Discard(orphan, invalidateLvb: true);
        }
        return new DoneResult(orphans.Count);
    }

    /// <summary>An LVB must have its lockspace's size: the one LVB check that needs state.</summary>
    private static ErrorResult? LvbSizeError(Lock item, byte[]? lvb)
    {
        var space = item.Resource.Space;
        return lvb is null || lvb.Length == space.LvbBytes
            ? null
            : Error(ErrorCode.InvalidRequest, $"the LVB is {lvb.Length} bytes; lockspace '{space.Name}' uses {space.LvbBytes}");
    }
}
