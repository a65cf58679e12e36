namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// Wakes the calls that wait for a session's state to change (event long-polls and lock waits). A waiter
/// takes the session's signal before it reads the state, so an apply between the read and the wait still
/// wakes it. Only the sessions an apply touched are woken: no waiter polls.
/// </summary>
internal sealed class EventSignals
{
    private readonly Dictionary<long, TaskCompletionSource> _waiting = new();
    private readonly object _gate = new();

    public Task Next(long sessionId)
    {
        lock (_gate)
        {
            if (!_waiting.TryGetValue(sessionId, out var signal))
            {
                signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiting.Add(sessionId, signal);
            }
            return signal.Task;
        }
    }

    public void Wake(IReadOnlyList<long> sessions)
    {
        if (sessions.Count == 0) return;
        List<TaskCompletionSource>? woken = null;
        lock (_gate)
        {
            foreach (var sessionId in sessions)
            {
                if (_waiting.Remove(sessionId, out var signal)) (woken ??= []).Add(signal);
            }
        }
        woken?.ForEach(signal => signal.TrySetResult());
    }

    public void WakeAll()
    {
        List<TaskCompletionSource> woken;
        lock (_gate)
        {
            woken = [.. _waiting.Values];
            _waiting.Clear();
        }
        woken.ForEach(signal => signal.TrySetResult());
    }

    /// <summary>Waits for the signal or the deadline, whichever comes first; false when the time is up.</summary>
    public static async Task<bool> WaitAsync(Task signal, TimeSpan remaining, CancellationToken ct)
    {
        if (remaining <= TimeSpan.Zero) return false;
        try
        {
            await signal.WaitAsync(remaining, ct).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
