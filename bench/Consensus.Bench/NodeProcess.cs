using System.Diagnostics;
using System.Globalization;

namespace RaftDlm.Consensus.Bench;

/// <summary>A node of the bench as a child process of the driver, driven over its standard input and output.</summary>
internal sealed class NodeProcess(string id, Process process)
{
    public string Id { get; } = id;

    public int Pid => process.Id;

    public static NodeProcess Start(string id, string members, string dataDirectory, int bytes)
    {
        // The same program: through the dotnet host when the driver runs that way, or its own executable (dotnet run).
        var host = Environment.ProcessPath ?? throw new InvalidOperationException("no path of the running program");
        var start = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") start.ArgumentList.Add(typeof(NodeProcess).Assembly.Location);
        foreach (var argument in (string[])["node", "--id", id, "--members", members, "--data", dataDirectory, "--bytes", bytes.ToString(CultureInfo.InvariantCulture)])
        {
            start.ArgumentList.Add(argument);
        }

        return new NodeProcess(id, Process.Start(start) ?? throw new InvalidOperationException("could not start " + id));
    }

    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var line = await ReadLineAsync(timeout);
        if (line != "READY") throw new InvalidOperationException($"{Id} did not start: {line ?? "exited"}");
    }

    /// <summary>A run on the leader; null when this node is not the leader.</summary>
    public async Task<RunReply?> TryRunAsync(int proposers, int seconds)
    {
        await process.StandardInput.WriteLineAsync($"run {proposers} {seconds}");
        await process.StandardInput.FlushAsync();
        // The run's own length, and a margin for the stragglers' last proposals (each bounded by its timeout).
        var line = await ReadLineAsync(TimeSpan.FromSeconds(seconds + 30));
        return line switch
        {
            null => throw new InvalidOperationException($"{Id} exited"),
            _ when line.StartsWith("OK ", StringComparison.Ordinal) => RunReply.Parse(line),
            "ERR not-leader" => null,
            _ => throw new InvalidOperationException($"{Id}: {line}"),
        };
    }

    public async Task<RunReply> RunAsync(int proposers, int seconds) =>
        await TryRunAsync(proposers, seconds) ?? throw new InvalidOperationException($"{Id} is no longer the leader");

    public async Task StopAsync(TimeSpan timeout)
    {
        try
        {
            if (!process.HasExited)
            {
                await process.StandardInput.WriteLineAsync("quit");
                await process.StandardInput.FlushAsync();
            }

            using var wait = new CancellationTokenSource(timeout);
            await process.WaitForExitAsync(wait.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException)
        {
            process.Kill(entireProcessTree: true);
        }
        finally
        {
            process.Dispose();
        }
    }

    private async Task<string?> ReadLineAsync(TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        return await process.StandardOutput.ReadLineAsync(wait.Token);
    }
}

/// <summary>What the leader's process reports of a run.</summary>
internal sealed record RunReply(long Commits, long Errors, double P50Ms, double P99Ms)
{
    public static RunReply Parse(string line)
    {
        var words = line.Split(' ');
        return new RunReply(long.Parse(words[1], CultureInfo.InvariantCulture), long.Parse(words[2], CultureInfo.InvariantCulture),
            double.Parse(words[3], CultureInfo.InvariantCulture), double.Parse(words[4], CultureInfo.InvariantCulture));
    }
}
