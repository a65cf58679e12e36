using RaftDlm.LockStateMachine.State;

namespace RaftDlm.LockStateMachine;

/// <summary>Figures a backup file records about the table it holds (see the server's <c>GET /v1/snapshot</c>).</summary>
public sealed partial class LockMachine
{
    /// <summary>The highest fencing token any lock of the table carries (0 when there is no lock).</summary>
    public long MaxFencingToken
    {
        get
        {
            long max = 0;
            foreach (var item in HashOrder.Unordered(_locks)) max = long.Max(max, item.FencingToken);
            return max;
        }
    }
}
