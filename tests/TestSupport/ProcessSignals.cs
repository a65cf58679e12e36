using System.Runtime.InteropServices;

namespace RaftDlm.TestSupport;

/// <summary>
/// The one way the tests signal a process: the libc <c>kill</c> call, by process id. Nothing else in the
/// tests sends signals (no <c>kill</c> command, no <c>Process.Kill</c>).
/// </summary>
public static class ProcessSignals
{
    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when it could not (e.g. the process is gone).</summary>
    public static bool Send(int pid, UnixSignal signal)
    {
        // kill(0, …) and kill(-1, …) signal whole process groups: never.
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        return SendSignal(pid, (int)signal) == 0;
    }

    /// <summary>The errno of the last failed <see cref="Send"/> on this thread, for messages.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);
}
