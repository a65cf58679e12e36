using System.Globalization;
using System.Net;

namespace RaftDlm.Consensus;

/// <summary>
/// A member's Raft address as DotNext's membership stores it: a host name or IP literal and a port, resolved
/// when a connection is made, carrying the member's id and HTTP address along. DotNext compares members by
/// host and port alone (<see cref="DnsEndPoint.Equals(object?)"/>), so the same host string must name a
/// member everywhere.
/// </summary>
internal sealed class MemberEndPoint(string id, string host, int port, string httpEndpoint) : DnsEndPoint(host, port)
{
    public string Id { get; } = id;

    public string HttpEndpoint { get; } = httpEndpoint;

    public RaftMember ToMember() => new(Id, Address, HttpEndpoint);

    /// <summary>"host:port", as the member was configured.</summary>
    public string Address => ToString();

    public override string ToString() => Host + ":" + Port.ToString(CultureInfo.InvariantCulture);

    public static MemberEndPoint From(RaftMember member)
    {
        var (host, port) = RaftMember.SplitAddress(member.RaftEndpoint);
        return new MemberEndPoint(member.Id, host, port, member.HttpEndpoint);
    }
}
