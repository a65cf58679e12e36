using RaftDlm.TestSupport;

namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>Finds the built Consensus.TestNode beside this test project's build (same configuration), or where <c>RAFTDLM_TESTNODE_DLL</c> says.</summary>
internal static class TestNodeBinary
{
    public static string DllPath { get; } =
        Environment.GetEnvironmentVariable("RAFTDLM_TESTNODE_DLL") is { Length: > 0 } configured
            ? configured
            : BuildOutput.Find(Path.Combine("tests", "Consensus.TestNode"), "RaftDlm.Consensus.TestNode.dll");
}
