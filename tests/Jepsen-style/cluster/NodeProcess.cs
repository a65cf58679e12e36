using System.Diagnostics;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>
/// One server process, optionally inside a network namespace (<c>ip netns exec</c> replaces itself
/// with the server, so the pid is the server's). Its output goes to a log file in the run folder.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    private NodeProcess(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
        _process.OutputDataReceived += (_, line) => Write(line.Data);
        _process.ErrorDataReceived += (_, line) => Write(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int ProcessId => _process.Id;
    public bool Running => !_process.HasExited;

    public static NodeProcess Start(string? netns, string serverDll, IEnumerable<string> arguments, string logPath)
    {
        var start = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (netns is not null)
        {
            foreach (var word in new[] { "netns", "exec", netns, "dotnet" }) start.ArgumentList.Add(word);
        }
        start.ArgumentList.Add(serverDll);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["DOTNET_TieredPGO"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        start.Environment["Logging__LogLevel__RaftDlm"] = "Information";
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        log.WriteLine($"=== start {DateTime.UtcNow:O} ===");
        var process = Process.Start(start) ?? throw new InvalidOperationException("the server process did not start");
        return new NodeProcess(process, log);
    }

    /// <summary>kill -9 (SIGCONT first, so a paused process does not linger).</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        Shell.Signal(_process.Id, "CONT");
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, so the server shuts down cleanly; kill -9 if it has not exited within 10 s.</summary>
    public void Stop()
    {
        if (_process.HasExited) return;
        Shell.Signal(_process.Id, "CONT");
        Shell.Signal(_process.Id, "TERM");
        if (!_process.WaitForExit(10_000)) Kill();
    }

    public void Pause() => Shell.Signal(_process.Id, "STOP");
    public void Resume() => Shell.Signal(_process.Id, "CONT");

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        lock (_log) _log.Dispose();
    }

    private void Write(string? line)
    {
        if (line is null) return;
        lock (_log)
        {
            try { _log.WriteLine(line); }
            catch (ObjectDisposedException) { }
        }
    }
}
