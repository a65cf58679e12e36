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

    /// <summary>Decodes a command; garbage gives null and a reason, never an exception.</summary>
    public static Command? TryDecode(ReadOnlyMemory<byte> bytes, out string? error)
    {
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
}
