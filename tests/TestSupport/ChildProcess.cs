using System.Diagnostics;
using System.Text;

namespace RaftDlm.TestSupport;

/// <summary>
/// One process a test starts (<c>dotnet &lt;dll&gt; &lt;arguments&gt;</c>), the one launcher of every test project.
/// Its output goes to a log file (appended to, so a node restarted with the same file keeps its history,
/// while <see cref="Log"/> shows only this run). It is stopped by process id through
/// <see cref="ProcessSignals"/>, and every wait is bounded by <see cref="ExitWait"/> or the caller's timeout.
/// Disposal kills the process.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    /// <summary>How long a kill, or a clean stop before the kill, waits for the process to exit.</summary>
    public static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(10);

    private static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly long _logStart;
    private readonly bool _talks;
    private bool _logClosed;
    private int _disposed;

    private ChildProcess(Process process, StreamWriter log, long logStart, string logPath, bool talks)
    {
        _process = process;
        _log = log;
        _logStart = logStart;
        _talks = talks;
        LogPath = logPath;
        Write($"=== start {DateTime.UtcNow:O}, pid {process.Id} ===");
        if (!talks)
        {
            _process.OutputDataReceived += (_, line) => Write(line.Data);
            _process.BeginOutputReadLine();
        }
        _process.ErrorDataReceived += (_, line) => Write(line.Data);
        _process.BeginErrorReadLine();
    }

    /// <summary>The process id, by which it is signalled.</summary>
    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    public string LogPath { get; }

    /// <summary>The child's stdin, when started with <see cref="ChildProcessOptions.TalksOnStandardIo"/>.</summary>
    public StreamWriter StandardInput => _talks ? _process.StandardInput : throw new InvalidOperationException("the process was started without TalksOnStandardIo");

    /// <summary>The child's stdout, when started with <see cref="ChildProcessOptions.TalksOnStandardIo"/>.</summary>
    public StreamReader StandardOutput => _talks ? _process.StandardOutput : throw new InvalidOperationException("the process was started without TalksOnStandardIo");

    /// <summary>Starts <c>dotnet <paramref name="dll"/> <paramref name="arguments"/></c> with its output appended to <paramref name="logPath"/>.</summary>
    public static ChildProcess Start(string dll, IEnumerable<string> arguments, string logPath, ChildProcessOptions? options = null)
    {
        options ??= new ChildProcessOptions();
        var wrapped = options.Wrapper.Count > 0;
        var start = new ProcessStartInfo(wrapped ? options.Wrapper[0] : "dotnet")
        {
            RedirectStandardInput = options.TalksOnStandardIo,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Utf8,
            StandardErrorEncoding = Utf8,
        };
        if (wrapped)
        {
            foreach (var word in options.Wrapper.Skip(1))
            {
                start.ArgumentList.Add(word);
            }
            start.ArgumentList.Add("dotnet");
        }
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (name, value) in options.Environment)
        {
            start.Environment[name] = value;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        var file = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        var log = new StreamWriter(file, Utf8) { AutoFlush = true };
        try
        {
            var process = Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start");
            return new ChildProcess(process, log, file.Position, logPath, options.TalksOnStandardIo);
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    /// <summary>What this run of the process wrote to its log (not earlier runs appended to the same file).</summary>
    public string Log()
    {
        try
        {
            using var file = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            file.Seek(_logStart, SeekOrigin.Begin);
            using var reader = new StreamReader(file, Utf8);
            return reader.ReadToEnd();
        }
        catch (IOException error)
        {
            return $"(log {LogPath} unreadable: {error.Message})";
        }
    }

    /// <summary>The last <paramref name="lines"/> lines of <see cref="Log"/>, for failure messages.</summary>
    public string LogTail(int lines)
    {
        var all = Log().Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public bool LogContains(string text) => Log().Contains(text, StringComparison.Ordinal);

    /// <summary>SIGSTOP; false when the process is gone.</summary>
    public bool Pause() => !HasExited && ProcessSignals.Send(Id, UnixSignal.Stop);

    /// <summary>SIGCONT after <see cref="Pause"/>; false when the process is gone.</summary>
    public bool Resume() => !HasExited && ProcessSignals.Send(Id, UnixSignal.Cont);

    /// <summary>kill -9 (which ends a stopped process too), then waits up to <see cref="ExitWait"/> for the exit.</summary>
    public void Kill()
    {
        if (!HasExited)
        {
            ProcessSignals.Send(Id, UnixSignal.Kill);
        }
        _process.WaitForExit(ExitWait);
    }

    /// <summary>
    /// A clean stop: SIGCONT (a stopped process would not act on the next signal), SIGTERM, and
    /// <see cref="Kill"/> if it has not exited within <paramref name="grace"/> (default <see cref="ExitWait"/>).
    /// </summary>
    public void Stop(TimeSpan? grace = null)
    {
        if (HasExited)
        {
            return;
        }
        ProcessSignals.Send(Id, UnixSignal.Cont);
        ProcessSignals.Send(Id, UnixSignal.Term);
        if (!_process.WaitForExit(grace ?? ExitWait))
        {
            Kill();
        }
    }

    /// <summary>Waits for the process to exit on its own; false when it has not within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        Kill();
        _process.Dispose();
        lock (_log)
        {
            _logClosed = true;
            _log.Dispose();
        }
    }

    private void Write(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_log)
        {
            try
            {
                if (!_logClosed)
                {
                    _log.WriteLine(line);
                }
            }
            catch (IOException)
            {
                // a lost log line must not take the tests down
            }
        }
    }
}
