using System.Net;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>
/// The logger factory handed to DotNext, wrapping the host's: it passes every record on unchanged and tells
/// <see cref="RaftNode"/> each time the leader's replication of a member failed (DotNext's event 74015,
/// "ReplicationFailed": the member's endpoint and the entry DotNext will retry from). It is raised in the
/// member's replication right after DotNext moved its next index, and is the only trace DotNext leaves of the
/// walk of trap 13 (docs/consensus-notes.md).
/// </summary>
internal sealed class ReplicationWatch(ILoggerFactory inner, Action<EndPoint, long> replicationFailed) : ILoggerFactory
{
    private const int ReplicationFailedEventId = 74015;

    public ILogger CreateLogger(string categoryName) => new Watching(inner.CreateLogger(categoryName), replicationFailed);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The host owns the inner factory and disposes it.
    public void Dispose()
    {
    }

    private sealed class Watching(ILogger inner, Action<EndPoint, long> replicationFailed) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == ReplicationFailedEventId && state is IReadOnlyList<KeyValuePair<string, object?>> fields
                && fields.FirstOrDefault(field => field.Key == "Member").Value is EndPoint member
                && fields.FirstOrDefault(field => field.Key == "EntryIndex").Value is long entryIndex)
            {
                replicationFailed(member, entryIndex);
            }
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
