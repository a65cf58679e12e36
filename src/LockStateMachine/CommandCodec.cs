using System.Reflection;
using MessagePack;
using MessagePack.Resolvers;

namespace RaftDlm.LockStateMachine;

/// <summary>The binary form of commands and results in the Raft log: MessagePack unions.</summary>
public static class CommandCodec
{
    /// <summary>Standard resolvers, hardened for input that may be garbage.</summary>
    public static MessagePackSerializerOptions Options { get; } = MessagePackSerializerOptions.Standard
        .WithResolver(StandardResolver.Instance)
        .WithSecurity(MessagePackSecurity.UntrustedData);

    public static byte[] Encode(Command command) => MessagePackSerializer.Serialize(command, Options);

    public static byte[] EncodeResult(Result result) => MessagePackSerializer.Serialize(result, Options);

    public static Result DecodeResult(ReadOnlyMemory<byte> bytes) => MessagePackSerializer.Deserialize<Result>(bytes, Options);

    /// <summary>
    /// The highest union key of <see cref="Command"/> this build knows (its kinds are 0 to this). A new kind of
    /// command takes the next key; docs/formats.md says when a leader may propose it.
    /// </summary>
    public static int LastCommandKind { get; } = typeof(Command).GetCustomAttributes<UnionAttribute>().Max(union => union.Key);

    /// <summary>Decodes a command; garbage gives null and a reason, never an exception.</summary>
    public static Command? TryDecode(ReadOnlyMemory<byte> bytes, out string? error) => TryDecode(bytes, out error, out _);

    /// <summary>
    /// Decodes a command, as <see cref="TryDecode(ReadOnlyMemory{byte}, out string?)"/>; <paramref name="unknownKind"/>
    /// is the union key of a well-formed command of a kind this build does not know (a newer version wrote it;
    /// MessagePack alone would decode it as null), else null.
    /// </summary>
    public static Command? TryDecode(ReadOnlyMemory<byte> bytes, out string? error, out int? unknownKind)
    {
        unknownKind = NewerKind(bytes);
        if (unknownKind is { } kind)
        {
            error = $"command kind {kind} is not one this build knows (0 to {LastCommandKind})";
            return null;
        }
        try
        {
            error = null;
            var command = MessagePackSerializer.Deserialize<Command>(bytes, Options);
            if (command is null) error = "the entry holds no command";
            return command;
        }
        catch (Exception decodeError) when (decodeError is MessagePackSerializationException or EndOfStreamException
            or InvalidOperationException or ArgumentException or OverflowException)
        {
            error = "the entry is not a valid command: " + decodeError.Message;
            return null;
        }
    }

    /// <summary>The key of a union <c>[key, body]</c> above <see cref="LastCommandKind"/>, or null.</summary>
    private static int? NewerKind(ReadOnlyMemory<byte> bytes)
    {
        try
        {
            var reader = new MessagePackReader(bytes);
            if (reader.NextMessagePackType != MessagePackType.Array || reader.ReadArrayHeader() != 2) return null;
            if (reader.NextMessagePackType != MessagePackType.Integer) return null;
            var key = reader.ReadInt64();
            return key > LastCommandKind && key <= int.MaxValue ? (int)key : null;
        }
        catch (Exception error) when (error is MessagePackSerializationException or EndOfStreamException or OverflowException)
        {
            return null;
        }
    }
}
