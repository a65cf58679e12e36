using RaftDlm.TestSupport;

namespace RaftDlm.Cli.Tests;

/// <summary>Runs the built <c>dlmctl</c> as a child process against given endpoints, each run logged to a file of its own, every wait bounded.</summary>
internal sealed class Dlmctl(string logFolder, string endpoints, TimeSpan bound)
{
    private static int _runs;

    /// <summary>Starts dlmctl; <c>--endpoints</c> is added unless <paramref name="args"/> has its own.</summary>
    public ChildProcess Start(params string[] args)
    {
        var log = Path.Combine(logFolder, $"run-{Interlocked.Increment(ref _runs)}.log");
        string[] all = args.Contains("--endpoints") ? args : ["--endpoints", endpoints, .. args];
        return ChildProcess.Start(BuildOutput.Find("src/Cli", "dlmctl.dll"), all, log);
    }

    /// <summary>Runs dlmctl to its end (bounded) and returns its exit code and everything it printed.</summary>
    public async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        using var process = Start(args);
        Assert.True(await process.WaitForExitAsync(bound), $"dlmctl {string.Join(' ', args)} did not end:\n{process.Log()}");
        return (process.ExitCode, process.Log());
    }

    /// <summary>Runs dlmctl and asserts it exited 0.</summary>
    public async Task<string> RunOkAsync(params string[] args)
    {
        var (exit, text) = await RunAsync(args);
        Assert.True(exit == 0, $"dlmctl {string.Join(' ', args)} exited {exit}:\n{text}");
        return text;
    }
}
