using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// Wait timeouts (the Linux DLM's TIMEOUT flag). A request that queues with a timeout gets a deadline of
/// the entry's leader time plus its timeout, kept on the lock and in the snapshot. Like a lock-delay, it is
/// acted on by the first entry whose leader time reaches it: before that entry's command, a waiting request
/// is removed and a conversion goes back to its granted mode, the owner gets a <c>timeout</c> event, and the
/// queues they leave are re-examined, so the command sees them as a later entry would.
/// The leader proposes a <see cref="Tick"/> once <see cref="NextTimeoutDueMs"/> has passed on its clock, so
/// no replica ever reads a clock of its own. A request granted before its deadline loses the deadline.
/// </summary>
public sealed partial class LockMachine
{
    private readonly SortedSet<(long DueMs, long LockId)> _timeoutDue = new();

    /// <summary>The earliest leader time at which a queued request times out, or null; the leader proposes a Tick then.</summary>
    public long? NextTimeoutDueMs => _timeoutDue.Count == 0 ? null : _timeoutDue.Min.DueMs;

    /// <summary>The earlier of <see cref="NextDelayDueMs"/> and <see cref="NextTimeoutDueMs"/>: when the leader next has to tick.</summary>
    public long? NextTickDueMs => (NextDelayDueMs, NextTimeoutDueMs) switch
    {
        ({ } delay, { } timeout) => Math.Min(delay, timeout),
        (var delay, var timeout) => delay ?? timeout,
    };

    private void StartTimeout(Lock item, int timeoutMs)
    {
        if (timeoutMs <= 0) return;
        item.TimeoutDueMs = _now + timeoutMs;
        _timeoutDue.Add((item.TimeoutDueMs, item.Id));
    }

    private void ClearTimeout(Lock item)
    {
        if (item.TimeoutDueMs == 0) return;
        _timeoutDue.Remove((item.TimeoutDueMs, item.Id));
        item.TimeoutDueMs = 0;
    }

    /// <summary>
    /// Cancels every queued request whose deadline the entry's leader time reached, earliest (then lowest id)
    /// first. Returns whether it cancelled any. Bounded by the number of queued requests.
    /// </summary>
    private bool CancelDueTimeouts()
    {
        var any = false;
        while (_timeoutDue.Count > 0 && _timeoutDue.Min.DueMs <= _now)
        {
            var due = _timeoutDue.Min;
            // Every path that ends a queued request clears its deadline. Should one ever be missed, the stale
            // deadline is dropped rather than thrown on, which would fail every later entry on every replica.
            if (!_locks.TryGetValue(due.LockId, out var item) || item.TimeoutDueMs != due.DueMs || item.State == LockState.Granted)
            {
                _timeoutDue.Remove(due);
                if (item is not null && item.TimeoutDueMs == due.DueMs) item.TimeoutDueMs = 0;
                continue;
            }
            if (item.State == LockState.Waiting)
            {
                var view = View(item, LockViewState.Cancelled);
                Discard(item);
                Emit(item.Owner, EventFor(EventType.Timeout, view));
            }
            else
            {
                CancelConversion(item);
                Emit(item.Owner, EventFor(EventType.Timeout, View(item)));
            }
            any = true;
        }
        return any;
    }
}
