using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>
/// Bytes on disk or in the log carry a format version this build does not read: a newer version of the
/// server wrote them. The node refuses them instead of guessing (docs/formats.md): a snapshot it cannot read
/// stops its start, and an entry it cannot apply stops its applier, so it never answers from a state the
/// other replicas do not have. It still stores and acknowledges entries; once upgraded it applies them.
/// </summary>
public sealed class UnsupportedFormatException : Exception
{
    public UnsupportedFormatException(string message)
        : base(message)
    {
    }

    public UnsupportedFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public UnsupportedFormatException()
    {
    }

    /// <summary>The message for <paramref name="what"/> written in version <paramref name="version"/>, when this build reads <paramref name="readable"/>.</summary>
    public static UnsupportedFormatException Newer(string what, long version, string readable) =>
        new(NewerMessage(what, version, readable) + " It applies nothing more until then.");

    /// <summary>"{what} has format version {version}, which this build does not read (it reads {readable}) …".</summary>
    public static string NewerMessage(string what, long version, string readable) =>
        $"{what} has format version {version}, which this build does not read (it reads {readable}): a newer version of the server wrote it. Upgrade this node.";
}

internal static partial class FormatLog
{
    [LoggerMessage(7130, LogLevel.Critical, "Entry {Index} cannot be applied by this build; this node stops applying until it is upgraded")]
    public static partial void UnsupportedEntry(ILogger logger, long index, Exception exception);
}
