using System.Buffers;
using MessagePack;
using Microsoft.Extensions.Logging.Abstractions;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// A command of a kind this build does not know (a newer version's) stops the applier (docs/formats.md):
/// answering it with an error, as for garbage, would leave this replica without what newer ones applied.
/// </summary>
public sealed class CommandFormatTests
{
    [Fact]
    public void A_command_of_a_newer_kind_is_refused_and_changes_nothing()
    {
        var applier = new LockApplier(new ServerOptions(), NullLogger<LockApplier>.Instance);
        Assert.IsType<SessionResult>(applier.Apply(1, 0, 1_000, CommandCodec.Encode(new OpenSession("a", 10_000))), exactMatch: false);
        var before = applier.Read(machine => machine.StateHash());

        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(2);
        writer.Write(CommandCodec.LastCommandKind + 1);
        writer.WriteArrayHeader(1);
        writer.Write(1L);
        writer.Flush();

        var refused = Assert.Throws<UnsupportedFormatException>(() => applier.Apply(2, 0, 2_000, buffer.WrittenSpan));
        Assert.Contains($"is of kind {CommandCodec.LastCommandKind + 1}, which this build does not know", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, applier.LastAppliedIndex);
        Assert.Equal(before, applier.Read(machine => machine.StateHash()));

        // Garbage is still answered with an error, as on every replica of every version.
        Assert.IsType<ErrorResult>(applier.Apply(3, 0, 3_000, new byte[] { 0xC1 }));
    }
}
