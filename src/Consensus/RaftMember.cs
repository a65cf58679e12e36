using System.Globalization;
using System.Net;

namespace RaftDlm.Consensus;

/// <summary>One member of the cluster.</summary>
/// <param name="Id">A stable, unique node name (for example "node1").</param>
/// <param name="RaftEndpoint">The Raft transport's address, "host:port": an IP literal or a DNS name, resolved when connecting.</param>
/// <param name="HttpEndpoint">The client-facing address, carried along so that hosts can redirect to the leader.</param>
public sealed record RaftMember(string Id, string RaftEndpoint, string HttpEndpoint)
{
    /// <summary>Splits "host:port" ("[v6]:port" for IPv6); throws <see cref="FormatException"/> with the reason.</summary>
    public static (string Host, int Port) SplitAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        var colon = address.LastIndexOf(':');
        if (colon <= 0 || colon == address.Length - 1)
        {
            throw new FormatException($"'{address}' is not host:port");
        }
        var host = address[..colon];
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (!int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"'{address}' has no port between 1 and 65535");
        }
        if (Uri.CheckHostName(host) == UriHostNameType.Unknown)
        {
            throw new FormatException($"'{address}' has no valid host name or IP address");
        }
        return (host, port);
    }

    /// <summary>
    /// The address to listen on for this member's own Raft endpoint: its IP, or what its name resolves to (an IPv4
    /// address first: a peer that resolves the name tries every address it gets).
    /// </summary>
    internal IPEndPoint ListenEndPoint()
    {
        var (host, port) = SplitAddress(RaftEndpoint);
        if (IPAddress.TryParse(host, out var ip)) return new IPEndPoint(ip, port);
        var addresses = Dns.GetHostAddresses(host);
        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        return chosen is not null
            ? new IPEndPoint(chosen, port)
            : throw new FormatException($"'{host}' does not resolve to any address");
    }
}
