using System.Buffers.Binary;
using System.Net;
using System.Text;
using DotNext.Buffers;
using DotNext.Net.Cluster.Consensus.Raft.Membership;

namespace RaftDlm.Consensus;

/// <summary>
/// The cluster's membership as DotNext keeps it, in the file "membership" of the data directory, each member
/// encoded with its id and HTTP address so that every node knows every member's name and where its clients go.
/// </summary>
internal sealed class MembershipStorage(string fileName) : PersistentClusterConfigurationStorage<EndPoint>(fileName)
{
    public string FileName { get; } = fileName;

    private const byte FormatVersion = 1;

    protected override void Encode(EndPoint address, ref BufferWriterSlim<byte> writer)
    {
        var member = address as MemberEndPoint
            ?? throw new ArgumentException($"A member address must carry its id ({address}).", nameof(address));
        writer.Add(FormatVersion);
        WriteString(ref writer, member.Id);
        WriteString(ref writer, member.Host);
        WriteInt(ref writer, member.Port);
        WriteString(ref writer, member.HttpEndpoint);
    }

    protected override EndPoint Decode(ref SequenceReader reader)
    {
        Span<byte> one = stackalloc byte[1];
        reader.Read(one);
        var version = one[0];
        if (version != FormatVersion)
        {
            throw new InvalidDataException($"Membership record format {version} is not known to this version (it reads format {FormatVersion}).");
        }
        var id = ReadString(ref reader);
        var host = ReadString(ref reader);
        var port = ReadInt(ref reader);
        var http = ReadString(ref reader);
        return new MemberEndPoint(id, host, port, http);
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
}
