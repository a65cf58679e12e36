using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>
/// The logger factory handed to DotNext, wrapping the host's: it passes every record on unchanged and tells
/// <see cref="RaftNode"/> when the leader restarts a member's replication from entry 0 (DotNext's event
/// 74015, "ReplicationFailed", with <c>EntryIndex</c> 0). That is the only trace DotNext leaves of the loop of
/// trap 13 (docs/consensus-notes.md): a snapshot install refused because the follower already holds it.
/// </summary>
internal sealed class ReplicationWatch(ILoggerFactory inner, Action restartedFromZero) : ILoggerFactory
{
    private const int ReplicationFailedEventId = 74015;

    public ILogger CreateLogger(string categoryName) => new Watching(inner.CreateLogger(categoryName), restartedFromZero);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The host owns the inner factory and disposes it.
    public void Dispose()
    {
    }

    private sealed class Watching(ILogger inner, Action restartedFromZero) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == ReplicationFailedEventId && state is IReadOnlyList<KeyValuePair<string, object?>> fields
                && fields.Any(field => field.Key == "EntryIndex" && field.Value is 0L))
            {
                restartedFromZero();
            }
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
