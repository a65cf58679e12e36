using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using DotNext.Buffers;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Http;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using DotNextHttpVersion = DotNext.Net.Http.HttpProtocolVersion;

namespace RaftDlm.Consensus;

/// <summary>
/// Prototype: the Raft node over DotNext.AspNetCore.Cluster's HTTP transport instead of its TCP transport. A
/// small web host of its own listens on the node's Raft endpoint (Kestrel) and runs DotNext's
/// <c>RaftHttpCluster</c> with the node's log and membership storage, handed over through DI. No TLS, no
/// membership changes, no trap-13 cursor (the HTTP member is another class).
/// </summary>
internal sealed class HttpRaftTransport : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpRaftTransport(WebApplication app, IRaftCluster cluster)
    {
        _app = app;
        Cluster = cluster;
    }

    public IRaftCluster Cluster { get; }

    public static HttpRaftTransport Create(RaftMember self, RaftTransport transport, IPersistentState log,
        HttpMembershipStorage storage, ILoggerFactory loggerFactory, Action<HttpClusterMemberConfiguration> configure)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = [],
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "RaftDlm.Consensus.Raft",
        });
        var listen = self.ListenEndPoint();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(listen, endpoint => endpoint.Protocols = transport == RaftTransport.Http2 ? HttpProtocols.Http2 : HttpProtocols.Http1);
            kestrel.AddServerHeader = false;
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(log);
        builder.Services.AddSingleton<IClusterConfigurationStorage<UriEndPoint>>(storage);
        builder.Services.ConfigureLocalNode(configuration =>
        {
            configuration.PublicEndPoint = HttpMembershipStorage.RaftUri(self);
            if (transport == RaftTransport.Http2)
            {
                // Cleartext HTTP/2 needs prior knowledge: the client must not fall back to HTTP/1.1.
                configuration.ProtocolVersion = DotNextHttpVersion.Http2;
                configuration.ProtocolVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            }
            else
            {
                configuration.ProtocolVersion = DotNextHttpVersion.Http1;
            }
            configure(configuration);
        });
        var app = builder.Build();
        app.UseConsensusProtocolHandler();
        return new HttpRaftTransport(app, app.Services.GetRequiredService<IRaftCluster>());
    }

    /// <summary>Starts the cluster (a hosted service) and then Kestrel.</summary>
    public Task StartAsync(CancellationToken ct) => _app.StartAsync(ct);

    public Task StopAsync(CancellationToken ct) => _app.StopAsync(ct);

    public ValueTask DisposeAsync() => _app.DisposeAsync();
}

/// <summary>A member's Raft address for the HTTP transport: its URI, carrying the member's id and HTTP address.</summary>
internal sealed class MemberUriEndPoint(string id, string host, int port, string httpEndpoint)
    : UriEndPoint(new Uri(string.Create(CultureInfo.InvariantCulture, $"http://{HostPart(host)}:{port}/")))
{
    public string Id { get; } = id;

    public string Host { get; } = host;

    public int Port { get; } = port;

    public string HttpEndpoint { get; } = httpEndpoint;

    public RaftMember ToMember() => new(Id, Host + ":" + Port.ToString(CultureInfo.InvariantCulture), HttpEndpoint);

    public static MemberUriEndPoint From(RaftMember member)
    {
        var (host, port) = RaftMember.SplitAddress(member.RaftEndpoint);
        return new MemberUriEndPoint(member.Id, host, port, member.HttpEndpoint);
    }

    private static string HostPart(string host) => host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host;
}

/// <summary>The membership file of <see cref="MembershipStorage"/> (same records), with URI addresses for the HTTP transport.</summary>
internal sealed class HttpMembershipStorage(string fileName) : PersistentClusterConfigurationStorage<UriEndPoint>(fileName)
{
    private const byte FormatVersion = 1;

    public static Uri RaftUri(RaftMember member) => MemberUriEndPoint.From(member).Uri;

    protected override IEqualityComparer<UriEndPoint> Comparer => UriComparer.Instance;

    protected override void Encode(UriEndPoint address, ref BufferWriterSlim<byte> writer)
    {
        var member = address as MemberUriEndPoint
            ?? throw new ArgumentException($"A member address must carry its id ({address}).", nameof(address));
        writer.Add(FormatVersion);
        WriteString(ref writer, member.Id);
        WriteString(ref writer, member.Host);
        WriteInt(ref writer, member.Port);
        WriteString(ref writer, member.HttpEndpoint);
    }

    protected override UriEndPoint Decode(ref SequenceReader reader)
    {
        Span<byte> one = stackalloc byte[1];
        reader.Read(one);
        if (one[0] != FormatVersion)
        {
            throw new InvalidDataException($"Membership record format {one[0]} is not known to this version.");
        }
        var id = ReadString(ref reader);
        var host = ReadString(ref reader);
        var port = ReadInt(ref reader);
        var http = ReadString(ref reader);
        return new MemberUriEndPoint(id, host, port, http);
    }

    private static void WriteString(ref BufferWriterSlim<byte> writer, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteInt(ref writer, bytes.Length);
        writer.Write(bytes);
    }

    private static void WriteInt(ref BufferWriterSlim<byte> writer, int value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        writer.Write(bytes);
    }

    private static int ReadInt(ref SequenceReader reader)
    {
        Span<byte> bytes = stackalloc byte[sizeof(int)];
        reader.Read(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    private static string ReadString(ref SequenceReader reader)
    {
        var length = ReadInt(ref reader);
        if (length is < 0 or > 4096) throw new InvalidDataException($"Membership record string of {length} bytes.");
        var bytes = new byte[length];
        reader.Read(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    private sealed class UriComparer : IEqualityComparer<UriEndPoint>
    {
        public static readonly UriComparer Instance = new();

        public bool Equals(UriEndPoint? x, UriEndPoint? y) => ReferenceEquals(x, y) || (x is not null && y is not null && x.Uri.Equals(y.Uri));

        public int GetHashCode(UriEndPoint obj) => obj.Uri.GetHashCode();
    }
}
