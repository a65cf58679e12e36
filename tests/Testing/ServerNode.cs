using RaftDlm.TestSupport;

namespace RaftDlm.Testing;

/// <summary>
/// One server process (src/HttpApi) started with <see cref="ChildProcess"/>: its command line comes from the
/// cluster's members, its output goes to a log file. Disposal kills it by pid.
/// </summary>
public sealed class ServerNode : IDisposable
{
    /// <summary>How many lines of the log <see cref="Output"/> keeps.</summary>
    private const int KeptLines = 400;

    private readonly ChildProcess _process;

    private ServerNode(string id, ChildProcess process)
    {
        Id = id;
        _process = process;
    }

    public string Id { get; }

    public int ProcessId => _process.Id;

    public bool Running => !_process.HasExited;

    /// <summary>
    /// Starts <paramref name="self"/> of <paramref name="members"/> with its data in <paramref name="dataDirectory"/>,
    /// <paramref name="extraArguments"/> after the standard ones. <paramref name="options"/> may add a wrapper
    /// (a network namespace) and environment variables, which override the defaults: server GC off (several
    /// nodes share two cores) and log level Information.
    /// </summary>
    public static ServerNode Start(
        ServerMember self, IReadOnlyList<ServerMember> members, string dataDirectory, string logPath,
        IEnumerable<string> extraArguments, ChildProcessOptions? options = null)
    {
        options ??= new ChildProcessOptions();
        string[] arguments =
        [
            "--node-id", self.Id,
            "--http", self.HttpUrl,
            "--raft", self.RaftEndpoint,
            "--data", dataDirectory,
            "--members", ServerMember.MembersArgument(members),
            .. extraArguments,
        ];
        var environment = new Dictionary<string, string>
        {
            ["DOTNET_gcServer"] = "0",
            ["Logging__LogLevel__Default"] = "Information",
        };
        foreach (var (name, value) in options.Environment)
        {
            environment[name] = value;
        }
        return new ServerNode(self.Id, ChildProcess.Start(ServerBinary.Path, arguments, logPath, options with { Environment = environment }));
    }

    /// <summary>The last lines this process logged, for failure messages and log assertions.</summary>
    public string Output() => _process.LogTail(KeptLines);

    /// <summary>SIGKILL: the process gets no chance to flush or say goodbye.</summary>
    public void Kill() => _process.Kill();

    /// <summary>SIGTERM, so the server shuts down cleanly; kill -9 if it has not exited within the bound.</summary>
    public void Stop() => _process.Stop();

    /// <summary>SIGSTOP; false when the process is gone.</summary>
    public bool Pause() => _process.Pause();

    /// <summary>SIGCONT; false when the process is gone.</summary>
    public bool Resume() => _process.Resume();

    public void Dispose() => _process.Dispose();
}
