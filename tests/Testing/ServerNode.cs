using System.Diagnostics;
using System.Text;

namespace RaftDlm.Testing;

/// <summary>One server process. Its output is kept (the last lines) for failure messages.</summary>
public sealed class ServerNode : IDisposable
{
    private const int KeptLines = 400;
    private readonly Process _process;
    private readonly Queue<string> _lines = new();

    private ServerNode(string id, Process process)
    {
        Id = id;
        _process = process;
        _process.OutputDataReceived += (_, line) => Keep(line.Data);
        _process.ErrorDataReceived += (_, line) => Keep(line.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Id { get; }
    public int ProcessId => _process.Id;
    public bool Running => !_process.HasExited;

    public static ServerNode Start(string id, string serverDll, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(serverDll);
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["Logging__LogLevel__Default"] = "Information";
        var process = Process.Start(start) ?? throw new InvalidOperationException("the server process did not start");
        return new ServerNode(id, process);
    }

    public string Output()
    {
        lock (_lines) return string.Join('\n', _lines);
    }

    /// <summary>SIGKILL: the process gets no chance to flush or say goodbye.</summary>
    public void Kill()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGSTOP / SIGCONT, for pauses.</summary>
    public void Signal(string signal)
    {
        using var kill = Process.Start("kill", ["-" + signal, ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit(5_000);
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        lock (_lines)
        {
            _lines.Enqueue(line);
            while (_lines.Count > KeptLines) _lines.Dequeue();
        }
    }
}
