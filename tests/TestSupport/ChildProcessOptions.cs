namespace RaftDlm.TestSupport;

/// <summary>How <see cref="ChildProcess.Start"/> runs <c>dotnet &lt;dll&gt;</c>.</summary>
public sealed record ChildProcessOptions
{
    /// <summary>
    /// Words run before <c>dotnet</c>, such as <c>ip netns exec &lt;namespace&gt;</c>. The wrapper must replace
    /// itself with <c>dotnet</c> (exec), so that the pid the tests signal is the server's.
    /// </summary>
    public IReadOnlyList<string> Wrapper { get; init; } = [];

    /// <summary>Environment variables of the child, on top of those of the tests.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// When true the caller talks to the child over stdin and stdout (a line protocol), and only stderr goes
    /// to the log; otherwise both stdout and stderr go to the log.
    /// </summary>
    public bool TalksOnStandardIo { get; init; }
}
