using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>
/// One Consensus.TestNode running as a separate OS process, spoken to with its stdin/stdout line protocol.
/// Every wait is bounded; disposal kills the process by its pid.
/// </summary>
internal sealed class TestNodeProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly Process process;
    private readonly StringBuilder stderr = new();
    private readonly SemaphoreSlim exchange = new(1, 1);

    private TestNodeProcess(string id, Process process)
    {
        Id = id;
        this.process = process;
    }

    public string Id { get; }

    public int Pid => process.Id;

    public bool HasExited => process.HasExited;

    /// <summary>Whether the node logged <paramref name="text"/> to stderr.</summary>
    public bool StderrContains(string text)
    {
        lock (stderr)
            return stderr.ToString().Contains(text, StringComparison.Ordinal);
    }

    /// <summary>The tail of what the node logged to stderr, for failure messages.</summary>
    public string StderrTail
    {
        get
        {
            lock (stderr)
                return stderr.Length <= 4000 ? stderr.ToString() : stderr.ToString(stderr.Length - 4000, 4000);
        }
    }

    public static async Task<TestNodeProcess> StartAsync(string id, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(TestNodeBinary.DllPath);
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the test node.");
        var node = new TestNodeProcess(id, process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (node.stderr)
                node.stderr.AppendLine(e.Data);
        };
        process.BeginErrorReadLine();

        try
        {
            var first = await node.ReadLineAsync(StartTimeout);
            if (first != "READY")
                throw new InvalidOperationException($"Node {id} did not start: {first}\n{node.StderrTail}");
        }
        catch
        {
            node.Dispose();
            throw;
        }

        return node;
    }

    /// <summary>Sends one request line and returns the one reply line.</summary>
    public async Task<string> SendAsync(string request, TimeSpan timeout)
    {
        if (!await exchange.WaitAsync(timeout))
            throw new TimeoutException($"Node {Id} is busy.");
        try
        {
            await process.StandardInput.WriteLineAsync(request);
            await process.StandardInput.FlushAsync();
            return await ReadLineAsync(timeout);
        }
        finally
        {
            exchange.Release();
        }
    }

    private async Task<string> ReadLineAsync(TimeSpan timeout)
    {
        try
        {
            return await process.StandardOutput.ReadLineAsync().WaitAsync(timeout)
                ?? throw new IOException($"Node {Id} closed its output.\n{StderrTail}");
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Node {Id} did not answer within {timeout}.\n{StderrTail}");
        }
    }

    /// <summary>SIGSTOP: the process stops mid-flight, as in a long GC pause or a VM stall.</summary>
    public void Pause() => Signal(SigStop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(SigCont);

    private const int SigCont = 18;
    private const int SigStop = 19;

    private void Signal(int signal)
    {
        if (SendSignal(process.Id, signal) != 0)
            throw new InvalidOperationException($"kill -{signal} {process.Id} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>kill -9: no chance to flush or say goodbye.</summary>
    public void Kill()
    {
        try
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }

        process.WaitForExit(10_000);
    }

    /// <summary>Asks the node to stop cleanly, and kills it if it does not within the timeout.</summary>
    public async Task QuitAsync(TimeSpan timeout)
    {
        try
        {
            await SendAsync("quit", timeout);
            using var cts = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(cts.Token);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException)
        {
            Kill();
        }
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
        exchange.Dispose();
    }
}
