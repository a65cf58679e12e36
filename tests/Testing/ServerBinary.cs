using RaftDlm.TestSupport;

namespace RaftDlm.Testing;

/// <summary>Finds the server built beside the tests (same configuration).</summary>
public static class ServerBinary
{
    public static string Path { get; } = BuildOutput.Find(System.IO.Path.Combine("src", "HttpApi"), "RaftDlm.Server.dll");
}
