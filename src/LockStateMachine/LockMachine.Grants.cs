using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

public sealed partial class LockMachine
{
    /// <summary>
    /// The mode a new request gets at once, or null when it must wait: granted only when nothing is queued
    /// ahead of it (headQue puts it ahead of waiters, noOrder ignores the queues, expedite NL ignores them too)
    /// and it is compatible with every held lock; altPr/altCw try their alternate mode.
    /// </summary>
    private LockMode? NewRequestGrantMode(Resource resource, LockMode mode, LockFlags flags)
    {
        if ((flags & LockFlags.Expedite) != 0) return LockMode.NL;
        var first = (flags & LockFlags.NoOrder) != 0
            || (resource.Converting.IsEmpty && (resource.Waiting.IsEmpty || (flags & LockFlags.HeadQue) != 0));
        return first ? GrantableMode(resource, mode, flags, held: null) : null;
    }

    /// <summary>
    /// The mode an upward conversion gets in place, or null: it must be compatible with every other held
    /// lock; with quecvt it must also find the converting queue empty.
    /// </summary>
    private LockMode? ConversionGrantMode(Lock item, LockMode mode)
    {
        var resource = item.Resource;
        if ((item.Flags & LockFlags.QueCvt) != 0 && !resource.Converting.IsEmpty) return null;
        return GrantableMode(resource, mode, item.Flags, item.GrantedMode);
    }

    private LockMode? GrantableMode(Resource resource, LockMode mode, LockFlags flags, LockMode? held)
    {
        if (CanHold(resource, mode, held)) return mode;
        LockMode? alternate = (flags & LockFlags.AltPr) != 0 && mode != LockMode.PR ? LockMode.PR
            : (flags & LockFlags.AltCw) != 0 && mode != LockMode.CW ? LockMode.CW
            : null;
        return alternate is { } alt && CanHold(resource, alt, held) ? alt : null;
    }

    /// <summary>Compatible with every other held mode, and not a PW/EX grant during a lock-delay.</summary>
    private bool CanHold(Resource resource, LockMode mode, LockMode? held)
    {
        if (!resource.CompatibleWithHeld(mode, held)) return false;
        var delayed = resource.DelayUntilMs > _now && Modes.CanWriteLvb(mode)
            && !(held is { } current && Modes.CanWriteLvb(current));
        return !delayed;
    }

    private void GrantNow(Lock item, LockMode mode)
    {
        item.State = LockState.Granted;
        item.GrantedMode = mode;
        item.RequestedMode = mode;
        item.FencingToken = GrantToken();
        item.Resource.AddHeld(mode);
        item.Resource.Granted.AddLast(item);
    }

    /// <summary>
    /// The fencing token of the command being applied: at its first grant the next one after every token issued,
    /// and never below the entry's log index, so a log with one command per entry gives each grant its entry's
    /// index (the rule of every release before entries held several commands). Every grant of one command shares it.
    /// </summary>
    private long GrantToken()
    {
        if (_commandToken == 0)
        {
            _commandToken = long.Max(_lastToken + 1, _index);
            _lastToken = _commandToken;
        }
        return _commandToken;
    }

    /// <summary>Changes the mode of a granted lock in place; an upward change gets a new fencing token.</summary>
    private void ChangeHeldMode(Lock item, LockMode mode, bool newToken)
    {
        item.Resource.RemoveHeld(item.GrantedMode);
        item.GrantedMode = mode;
        item.RequestedMode = mode;
        item.Resource.AddHeld(mode);
        item.BlockingNotified = 0;
        if (newToken) item.FencingToken = GrantToken();
    }

    /// <summary>
    /// Grants queued requests: the converting queue strictly in order, then the waiting queue in order
    /// while no conversion is left; a noOrder request is granted whenever it is compatible. Repeats while a
    /// pass granted something, since a granted conversion may free a mode an earlier one waits on.
    /// </summary>
    private void GrantPending(Resource resource)
    {
        var bound = resource.QueuedCount + 1;
        for (var pass = 0; pass < bound && resource.QueuedCount > 0; pass++)
        {
            var granted = GrantFromQueue(ref resource.Converting, ordered: true);
            granted |= GrantFromQueue(ref resource.Waiting, ordered: resource.Converting.IsEmpty);
            if (!granted) return;
        }
    }

    private bool GrantFromQueue(ref LockQueue queue, bool ordered)
    {
        var granted = false;
        var blocked = !ordered;
        for (var item = queue.Head; item is not null;)
        {
            var next = item.QueueNext;
            var noOrder = (item.Flags & LockFlags.NoOrder) != 0;
            if (!blocked || noOrder)
            {
                var held = item.State == LockState.Converting ? item.GrantedMode : (LockMode?)null;
                if (GrantableMode(item.Resource, item.RequestedMode, item.Flags, held) is { } mode)
                {
                    GrantQueued(item, mode);
                    granted = true;
                }
                else if (!noOrder)
                {
                    blocked = true;
                }
            }
            item = next;
        }
        return granted;
    }

    private void GrantQueued(Lock item, LockMode mode)
    {
        var resource = item.Resource;
        var upward = true;
        if (item.State == LockState.Converting)
        {
            resource.Converting.Remove(item);
            resource.RemoveHeld(item.GrantedMode);
            upward = !Modes.IsDownConversion(item.GrantedMode, mode);
        }
        else
        {
            resource.Waiting.Remove(item);
        }
        item.Owner?.Queued.Remove(item);
        ClearTimeout(item);
        var token = item.FencingToken;
        GrantNow(item, mode);
        if (!upward) item.FencingToken = token;
        item.BlockingNotified = 0;
        Emit(item.Owner, EventFor(EventType.Granted, View(item)));
    }

    /// <summary>
    /// Sends blocking notifications for every request still queued on the resource: each granted, not
    /// converting lock incompatible with a queued mode is told once per episode, again for a stronger mode.
    /// </summary>
    private void NotifyBlocked(Resource resource)
    {
        if (resource.QueuedCount == 0) return;
        var modes = 0;
        for (var item = resource.Converting.Head; item is not null; item = item.QueueNext) modes |= 1 << (int)item.RequestedMode;
        for (var item = resource.Waiting.Head; item is not null; item = item.QueueNext) modes |= 1 << (int)item.RequestedMode;
        for (var mode = LockMode.EX; mode > LockMode.NL; mode--)
        {
            if ((modes & (1 << (int)mode)) != 0) NotifyHolders(resource, mode, except: null);
        }
    }

    private void NotifyHolders(Resource resource, LockMode blockedMode, Lock? except)
    {
        for (var holder = resource.Granted.Head; holder is not null; holder = holder.QueueNext)
        {
            if (holder == except || holder.Owner is null || Modes.Compatible(holder.GrantedMode, blockedMode)) continue;
            if (AlreadyNotified(holder.BlockingNotified, blockedMode)) continue;
            holder.BlockingNotified |= (byte)(1 << (int)blockedMode);
            var view = View(holder);
            Emit(holder.Owner, EventFor(EventType.Blocking, view) with { BlockedMode = blockedMode });
        }
    }

    private static bool AlreadyNotified(byte notified, LockMode blockedMode)
    {
        for (var mode = 0; mode < Modes.Count; mode++)
        {
            if ((notified & (1 << mode)) != 0 && Modes.Covers((LockMode)mode, blockedMode)) return true;
        }
        return false;
    }

    private Resource CreateResource(Lockspace space, Resource? parent, string name)
    {
        var resource = new Resource(NextId(), space, parent, name);
        space.Resources.Add(resource.Key, resource);
        _resourceCount++;
        return resource;
    }

    private void Register(Lock item)
    {
        _locks.Add(item.Id, item);
        item.Owner?.Locks.Add(item.Id, item);
        if (item.Parent is { } parent) (parent.Children ??= new List<Lock>()).Add(item);
    }

    /// <summary>
    /// Removes a lock from its queue and from every index. With <paramref name="invalidateLvb"/>, a
    /// lock held in PW or EX leaves the LVB marked invalid (released without writing).
    /// </summary>
    private void Discard(Lock item, bool invalidateLvb = false)
    {
        var resource = item.Resource;
        switch (item.State)
        {
            case LockState.Waiting: resource.Waiting.Remove(item); break;
            case LockState.Converting: resource.Converting.Remove(item); break;
            default: resource.Granted.Remove(item); break;
        }
        if (item.State != LockState.Granted) item.Owner?.Queued.Remove(item);
        ClearTimeout(item);
        if (item.HoldsMode) resource.RemoveHeld(item.GrantedMode);
        _locks.Remove(item.Id);
        item.Owner?.Locks.Remove(item.Id);
        item.Parent?.Children?.Remove(item);
        if (invalidateLvb && item.HoldsMode && Modes.CanWriteLvb(item.GrantedMode)) InvalidateLvb(resource, item);
        Touch(resource);
    }

    private void CancelConversion(Lock item)
    {
        var resource = item.Resource;
        resource.Converting.Remove(item);
        item.Owner?.Queued.Remove(item);
        ClearTimeout(item);
        item.State = LockState.Granted;
        item.RequestedMode = item.GrantedMode;
        resource.Granted.AddLast(item);
        Touch(resource);
    }

    /// <summary>A write from a PW/EX holder: new contents (or invalid with ivValBlk) and a new sequence number.</summary>
    private void WriteLvb(Lock item, byte[]? lvb)
    {
        var resource = item.Resource;
        if (lvb is null)
        {
            InvalidateLvb(resource, item);
            return;
        }
        resource.Lvb = (byte[])lvb.Clone();
        resource.LvbSeq++;
        resource.LvbValid = true;
    }

    /// <summary>Marks the LVB not valid and tells every other holder on the resource.</summary>
    private void InvalidateLvb(Resource resource, Lock cause)
    {
        resource.LvbValid = false;
        resource.LvbSeq++;
        NotifyLvbInvalid(ref resource.Granted, cause);
        NotifyLvbInvalid(ref resource.Converting, cause);
    }

    private void NotifyLvbInvalid(ref LockQueue queue, Lock cause)
    {
        for (var holder = queue.Head; holder is not null; holder = holder.QueueNext)
        {
            if (holder == cause || holder.Owner is null || holder.Owner == cause.Owner) continue;
            Emit(holder.Owner, EventFor(EventType.LvbInvalid, View(holder)));
        }
    }

    private LockView View(Lock item, LockViewState? state = null)
    {
        var resource = item.Resource;
        var holds = item.HoldsMode;
        var readsLvb = holds && item.GrantedMode > LockMode.NL;
        return new LockView(
            item.Id,
            resource.Space.Name,
            resource.Name,
            item.Owner?.Id ?? 0,
            state ?? ViewState(item),
            holds ? item.GrantedMode : null,
            item.State == LockState.Granted ? null : item.RequestedMode,
            holds ? item.FencingToken : 0,
            readsLvb ? CopyLvb(resource) : null,
            resource.LvbSeq,
            resource.LvbValid,
            item.Parent?.Id ?? 0,
            item.IsPersistent);
    }

    private static byte[] CopyLvb(Resource resource) =>
        resource.Lvb is { } lvb ? (byte[])lvb.Clone() : new byte[resource.Space.LvbBytes];

    private static LockViewState ViewState(Lock item) => item.IsOrphan ? LockViewState.Orphan : item.State switch
    {
        LockState.Waiting => LockViewState.Waiting,
        LockState.Converting => LockViewState.Converting,
        _ => LockViewState.Granted,
    };

    /// <summary>An event about a lock: grants carry the fencing token and the LVB; invalidations carry the LVB state.</summary>
    private static LockEvent EventFor(EventType type, LockView view)
    {
        var granted = type == EventType.Granted;
        var carriesLvb = (granted && view.Lvb is not null) || type == EventType.LvbInvalid;
        return new LockEvent(
            0,
            type,
            view.Lockspace,
            view.LockId,
            view.Resource,
            view.Mode ?? view.RequestedMode,
            null,
            granted ? view.FencingToken : null,
            granted ? view.Lvb : null,
            carriesLvb ? view.LvbSeq : null,
            carriesLvb ? view.LvbValid : null);
    }
}
