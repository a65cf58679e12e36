namespace RaftDlm.TestSupport;

/// <summary>
/// Finds what another project of the repository built, in the same configuration and target framework as
/// the running tests (<c>&lt;project&gt;/bin/&lt;Configuration&gt;/&lt;tfm&gt;/</c>).
/// </summary>
public static class BuildOutput
{
    /// <summary>The folder above the running build output that holds <c>Raft.sln</c>.</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The path of <paramref name="dllName"/> built by the project in <paramref name="projectFolder"/> (relative to the repository).</summary>
    public static string Find(string projectFolder, string dllName)
    {
        var (configuration, targetFramework) = OwnBuild();
        var path = Path.Combine(RepositoryRoot, projectFolder, "bin", configuration, targetFramework, dllName);
        return File.Exists(path) ? path : throw new FileNotFoundException($"build {projectFolder} ({configuration}) first", path);
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Raft.sln")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("Raft.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The configuration and target framework of the running build, from its own output folder.</summary>
    private static (string Configuration, string TargetFramework) OwnBuild()
    {
        var own = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        if (own.Parent is { Parent.Name: "bin" } configuration)
        {
            return (configuration.Name, own.Name);
        }
        var release = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal);
        return (release ? "Release" : "Debug", "net10.0");
    }
}
