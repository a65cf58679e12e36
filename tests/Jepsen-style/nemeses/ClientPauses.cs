namespace RaftDlm.Jepsen.Nemeses;

/// <summary>
/// The client half of the pause nemesis. The nemesis posts one pause; the first worker that reaches a
/// pause point while it believes it holds a lock takes it and goes silent (no keep-alives, no
/// operations) for the given time, like a stop-the-world GC pause, then carries on with what it
/// believes it holds.
/// </summary>
public sealed class ClientPauses
{
    private int _pendingMs;
    private int _pendingCutMs;

    /// <summary>Posts a client partition: the first worker at a pause point while holding a lock is cut from every node.</summary>
    public void PostCut(int durationMs) => Interlocked.Exchange(ref _pendingCutMs, durationMs);

    public bool WithdrawCut() => Interlocked.Exchange(ref _pendingCutMs, 0) != 0;

    public bool CutPending => Volatile.Read(ref _pendingCutMs) != 0;

    public int TryTakeCut() => Interlocked.Exchange(ref _pendingCutMs, 0);

    public void Post(int durationMs) => Interlocked.Exchange(ref _pendingMs, durationMs);

    /// <summary>Withdraws a pause nobody took; true if it was still pending.</summary>
    public bool Withdraw() => Interlocked.Exchange(ref _pendingMs, 0) != 0;

    public bool Pending => Volatile.Read(ref _pendingMs) != 0;

    public int TryTake() => Interlocked.Exchange(ref _pendingMs, 0);
}
