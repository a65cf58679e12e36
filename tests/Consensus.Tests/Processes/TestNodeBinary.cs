namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>Finds the built Consensus.TestNode next to this test project's own build output.</summary>
internal static class TestNodeBinary
{
    private const string DllName = "RaftDlm.Consensus.TestNode.dll";

    public static string DllPath { get; } = Locate();

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable("RAFTDLM_TESTNODE_DLL") is { Length: > 0 } configured)
            return configured;

        // .../tests/Consensus.Tests/bin/<Configuration>/<tfm>/ -> .../tests/Consensus.TestNode/bin/<Configuration>/<tfm>/
        var ownOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = ownOutput.Name;
        var configuration = ownOutput.Parent!.Name;
        var testsRoot = ownOutput.Parent.Parent!.Parent!.Parent!.FullName;
        var candidate = Path.Combine(testsRoot, "Consensus.TestNode", "bin", configuration, tfm, DllName);
        return File.Exists(candidate)
            ? candidate
            : throw new FileNotFoundException($"Build tests/Consensus.TestNode first (looked for {candidate}), or set RAFTDLM_TESTNODE_DLL.");
    }
}
