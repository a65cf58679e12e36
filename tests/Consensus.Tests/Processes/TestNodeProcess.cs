using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>
/// One Consensus.TestNode running as a separate OS process (started with <see cref="ChildProcess"/>), spoken
/// to with its stdin/stdout line protocol; what it logs to stderr goes to a log file. Every wait is bounded;
/// disposal kills the process by its pid.
/// </summary>
internal sealed class TestNodeProcess : IDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private const int TailLines = 40;
    private readonly ChildProcess _process;
    private readonly SemaphoreSlim _exchange = new(1, 1);

    private TestNodeProcess(string id, ChildProcess process)
    {
        Id = id;
        _process = process;
    }

    public string Id { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Whether the node logged <paramref name="text"/> to stderr.</summary>
    public bool StderrContains(string text) => _process.LogContains(text);

    /// <summary>The tail of what the node logged to stderr, for failure messages.</summary>
    public string StderrTail => _process.LogTail(TailLines);

    public static async Task<TestNodeProcess> StartAsync(string id, IEnumerable<string> arguments, string logPath)
    {
        var process = ChildProcess.Start(TestNodeBinary.DllPath, arguments, logPath, new ChildProcessOptions { TalksOnStandardIo = true });
        var node = new TestNodeProcess(id, process);
        try
        {
            var first = await node.ReadLineAsync(StartTimeout);
            if (first != "READY")
            {
                throw new InvalidOperationException($"Node {id} did not start: {first}\n{node.StderrTail}");
            }
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
        if (!await _exchange.WaitAsync(timeout))
        {
            throw new TimeoutException($"Node {Id} is busy.");
        }
        try
        {
            await _process.StandardInput.WriteLineAsync(request);
            await _process.StandardInput.FlushAsync();
            return await ReadLineAsync(timeout);
        }
        finally
        {
            _exchange.Release();
        }
    }

    private async Task<string> ReadLineAsync(TimeSpan timeout)
    {
        try
        {
            return await _process.StandardOutput.ReadLineAsync().WaitAsync(timeout)
                ?? throw new IOException($"Node {Id} closed its output.\n{StderrTail}");
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Node {Id} did not answer within {timeout}.\n{StderrTail}");
        }
    }

    /// <summary>SIGSTOP: the process stops mid-flight, as in a long GC pause or a VM stall.</summary>
    public void Pause()
    {
        if (!_process.Pause())
        {
            throw new InvalidOperationException($"kill -STOP {Pid} failed: errno {ProcessSignals.LastError}");
        }
    }

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume()
    {
        if (!_process.Resume())
        {
            throw new InvalidOperationException($"kill -CONT {Pid} failed: errno {ProcessSignals.LastError}");
        }
    }

    /// <summary>kill -9: no chance to flush or say goodbye.</summary>
    public void Kill() => _process.Kill();

    /// <summary>Asks the node to stop cleanly, and kills it if it does not within the timeout.</summary>
    public async Task QuitAsync(TimeSpan timeout)
    {
        try
        {
            await SendAsync("quit", timeout);
            if (!await _process.WaitForExitAsync(timeout))
            {
                Kill();
            }
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException)
        {
            Kill();
        }
    }

    public void Dispose()
    {
        _process.Dispose();
        _exchange.Dispose();
    }
}
