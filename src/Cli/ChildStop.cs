using System.Diagnostics;
using System.Runtime.InteropServices;

namespace RaftDlm.Cli;

/// <summary>Stops a child process: SIGTERM, then SIGKILL of its whole tree once the grace has passed.</summary>
internal static class ChildStop
{
    private const int SigTerm = 15;

    public static async Task StopAsync(Process child, TimeSpan grace)
    {
        if (!OperatingSystem.IsWindows() && grace > TimeSpan.Zero)
        {
            _ = Kill(child.Id, SigTerm);
            try
            {
                await child.WaitForExitAsync(CancellationToken.None).WaitAsync(grace);
                return;
            }
            catch (TimeoutException)
            {
                // Still running after the grace: kill it below.
            }
        }
        try
        {
            child.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            return; // it exited meanwhile
        }
        await child.WaitForExitAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
