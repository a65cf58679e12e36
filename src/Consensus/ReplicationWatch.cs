using System.Net;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus;

/// <summary>
/// The logger factory handed to DotNext, wrapping the host's: it passes every record on unchanged and reads from
/// DotNext's account of the leader's replication what DotNext keeps to itself:
/// <list type="bullet">
/// <item>each time the replication of a member failed (event 74015, "ReplicationFailed": the member's endpoint and the
/// entry DotNext will retry from), raised right after DotNext moved the member's next index: the only trace
/// DotNext leaves of the walk of trap 13 (docs/consensus-notes.md);</item>
/// <item>what each follower holds on disk (<see cref="FollowerCopies"/>): the size of each request sent (74013), its
/// acceptance (74014), and the requests that prove nothing (74015, and a snapshot install, 74018).</item>
/// </list>
/// The last three are debug records: DotNext's categories are enabled at that level here, and a record the host's
/// logger does not want is dropped after it has been read.
/// It also thins out two warnings DotNext's leader raises once per round of replication: "Cluster member … is
/// unavailable" (74010, with the exception, stack trace and all, each time a round cannot reach a member: hundreds
/// of times a second while a follower is down) and "Cluster member … is too far behind the leader" (74044, each
/// time a round finds that member's queue of rounds full: hundreds of times a second for a follower that is merely
/// the slower of two). For each member and event the first record passes, then at most one every
/// <see cref="ThinningIntervalMs"/>, preceded by a count of those left out in between (event 7126).
/// </summary>
internal sealed class ReplicationWatch(ILoggerFactory inner, Action<EndPoint, long> replicationFailed, FollowerCopies copies,
    Func<long>? clockMs = null) : ILoggerFactory
{
    private const int ReplicaSizeEventId = 74013;
    private const int ReplicationSuccessfulEventId = 74014;
    private const int ReplicationFailedEventId = 74015;
    private const int InstallingSnapshotEventId = 74018;
    private const string DotNextCategories = "DotNext.Net.Cluster";
    private const int MemberUnavailableEventId = 74010;
    private const int SlowMemberEventId = 74044;
    private const int MaxThinnedKeys = 256;
    internal const long ThinningIntervalMs = 10_000;

    private readonly Func<long> _clockMs = clockMs ?? (() => Environment.TickCount64);
    private readonly Lock _thinningGate = new();
    private readonly Dictionary<(int EventId, EndPoint Member), ThinnedRecords> _thinned = [];
    private ILogger? _logger;

    public ILogger CreateLogger(string categoryName)
        => new Watching(inner.CreateLogger(categoryName), this, categoryName.StartsWith(DotNextCategories, StringComparison.Ordinal));

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    // The host owns the inner factory and disposes it.
    public void Dispose()
    {
    }

    private void Read(int eventId, IReadOnlyList<KeyValuePair<string, object?>> fields)
    {
        if (Field(fields, "Member") is not EndPoint member)
        {
            return;
        }
        switch (eventId)
        {
            case ReplicaSizeEventId when Field(fields, "LogEntries") is int entries && Field(fields, "PrevLogIndex") is long preceding:
                copies.Sending(member, entries, preceding);
                break;
            case ReplicationSuccessfulEventId:
                copies.Accepted(member);
                break;
            case ReplicationFailedEventId:
                copies.NotSending(member);
                if (Field(fields, "EntryIndex") is long entryIndex)
                {
                    replicationFailed(member, entryIndex);
                }
                break;
            case InstallingSnapshotEventId:
                copies.NotSending(member);
                break;
        }
    }

    /// <summary>Whether a record of a thinned-out event goes on to the host's logger (see the class remarks).</summary>
    private bool PassThinned(EventId eventId, IReadOnlyList<KeyValuePair<string, object?>> fields)
    {
        if (Field(fields, "Member") is not EndPoint member)
        {
            return true;
        }
        var now = _clockMs();
        long dropped;
        lock (_thinningGate)
        {
            if (!_thinned.TryGetValue((eventId.Id, member), out var records))
            {
                if (_thinned.Count >= MaxThinnedKeys)
                {
                    _thinned.Clear(); // members come and go; a member forgotten here is logged once more
                }
                _thinned[(eventId.Id, member)] = new ThinnedRecords { PassedAtMs = now };
                return true;
            }
            if (now - records.PassedAtMs < ThinningIntervalMs)
            {
                records.Dropped++;
                return false;
            }
            dropped = records.Dropped;
            records.PassedAtMs = now;
            records.Dropped = 0;
        }
        if (dropped > 0)
        {
            _logger ??= inner.CreateLogger("RaftDlm.Consensus");
            Log.ThinnedRecordsLeftOut(_logger, eventId.Id, eventId.Name ?? "?", member.ToString() ?? "?", dropped);
        }
        return true;
    }

    private sealed class ThinnedRecords
    {
        public long PassedAtMs;
        public long Dropped;
    }

    private static object? Field(IReadOnlyList<KeyValuePair<string, object?>> fields, string name)
    {
        for (var i = 0; i < fields.Count; i++)
        {
            var field = fields[i];
            if (field.Key == name)
            {
                return field.Value;
            }
        }
        return null;
    }

    private sealed class Watching(ILogger inner, ReplicationWatch watch, bool dotNext) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel)
            => (dotNext ? logLevel >= LogLevel.Debug : logLevel >= LogLevel.Warning) || inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id is ReplicaSizeEventId or ReplicationSuccessfulEventId or ReplicationFailedEventId or InstallingSnapshotEventId
                && state is IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                watch.Read(eventId.Id, fields);
            }
            if ((eventId.Id is MemberUnavailableEventId or SlowMemberEventId) && state is IReadOnlyList<KeyValuePair<string, object?>> thinned
                && !watch.PassThinned(eventId, thinned))
            {
                return;
            }
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
