using System.Diagnostics;
using RaftDlm.TestSupport;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>Runs a short command and waits for it (bounded).</summary>
public static class Shell
{
    public static (int ExitCode, string Output) Run(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(15_000))
            {
                ProcessSignals.Send(process.Id, UnixSignal.Kill);
                return (-1, "timed out: " + file + " " + string.Join(' ', arguments));
            }
            return (process.ExitCode, output.Result + error.Result);
        }
        catch (System.ComponentModel.Win32Exception error)
        {
            return (-1, error.Message);
        }
    }

    /// <summary>Runs and throws when the command fails.</summary>
    public static string Must(string file, params string[] arguments)
    {
        var (code, output) = Run(file, arguments);
        if (code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({code}): {output}");
        return output;
    }
}
