namespace RaftDlm.Testing;

/// <summary>
/// One member of a server cluster: where it listens for HTTP and for Raft. The one home of how the tests
/// name a member on the server's command line (<c>--members id=host:raftPort=httpUrl,…</c>).
/// </summary>
public sealed record ServerMember(string Id, string Host, int HttpPort, int RaftPort)
{
    /// <summary>"https" for a member that serves its API over TLS.</summary>
    public string Scheme { get; init; } = "http";

    public string HttpUrl => $"{Scheme}://{Host}:{HttpPort}";

    public string RaftEndpoint => $"{Host}:{RaftPort}";

    /// <summary>The value of <c>--members</c>.</summary>
    public static string MembersArgument(IEnumerable<ServerMember> members) =>
        string.Join(',', members.Select(member => $"{member.Id}={member.RaftEndpoint}={member.HttpUrl}"));
}
