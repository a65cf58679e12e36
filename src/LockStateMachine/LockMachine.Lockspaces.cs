using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public sealed partial class LockMachine
{
    private Result Create(CreateLockspace command)
    {
        if (_lockspaces.TryGetValue(command.Name, out var existing))
        {
            return existing.LvbBytes == command.LvbBytes && existing.LockDelayMs == command.LockDelayMs
                ? new LockspaceResult(false, existing.ToView())
                : Error(ErrorCode.Conflict, $"lockspace '{command.Name}' exists with other settings");
        }
        if (_lockspaces.Count >= Limits.MaxLockspaces)
        {
            return Error(ErrorCode.InvalidRequest, $"the bound of {Limits.MaxLockspaces} lockspaces is reached");
        }
        var space = new Lockspace(command.Name, command.LvbBytes, command.LockDelayMs);
        _lockspaces.Add(space.Name, space);
        return new LockspaceResult(true, space.ToView());
    }

    /// <summary>
    /// Deletes a lockspace. While it holds locks only a forced delete goes on: every lock in it is ended and
    /// its owner gets a cancelled event.
    /// </summary>
    private Result Delete(DeleteLockspace command)
    {
        if (!TryGetLockspace(command.Name, out var space, out var error)) return error;
        var resources = HashOrder.Sorted(space.Resources, (a, b) => a.Id.CompareTo(b.Id));
        var locks = resources.Sum(resource => resource.LockCount);
        if (locks > 0 && !command.Force)
        {
            return Error(ErrorCode.Conflict, $"lockspace '{space.Name}' holds {locks} locks; delete with force to end them");
        }
        foreach (var resource in resources.AsEnumerable().Reverse())
        {
            foreach (var item in LocksOf(resource))
            {
                var view = View(item, LockViewState.Cancelled);
                Discard(item);
                Emit(item.Owner, EventFor(EventType.Cancelled, view));
            }
            if (resource.DelayUntilMs != 0) ClearDelay(resource);
            resource.Touched = false;
        }
        _touched.RemoveAll(resource => resource.Space == space);
        _resourceCount -= space.Resources.Count;
        _lockspaces.Remove(space.Name);
        return new DoneResult(locks);
    }

    private static List<Lock> LocksOf(Resource resource)
    {
        var list = resource.Waiting.ToList();
        list.AddRange(resource.Converting.ToList());
        list.AddRange(resource.Granted.ToList());
        return list;
    }
}
