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
/// It also thins one warning out: DotNext logs "Cluster member … is too far behind the leader" (74044) each time a
/// round of replication finds that member's queue of rounds full, which under a steady load is hundreds of times a
/// second for a follower that is merely the slower of two. The first record for a member passes, then at most one
/// every <see cref="SlowMemberLogIntervalMs"/>, followed by a count of those dropped in between (event 7126).
/// </summary>
internal sealed class ReplicationWatch(ILoggerFactory inner, Action<EndPoint, long> replicationFailed, FollowerCopies copies,
    Func<long>? clockMs = null) : ILoggerFactory
{
    private const int ReplicaSizeEventId = 74013;
    private const int ReplicationSuccessfulEventId = 74014;
    private const int ReplicationFailedEventId = 74015;
    private const int InstallingSnapshotEventId = 74018;
    private const string DotNextCategories = "DotNext.Net.Cluster";
    private const int SlowMemberEventId = 74044;
    private const int MaxWatchedMembers = 256;
    internal const long SlowMemberLogIntervalMs = 10_000;

    private readonly Func<long> _clockMs = clockMs ?? (() => Environment.TickCount64);
    private readonly Lock _slowGate = new();
    private readonly Dictionary<EndPoint, SlowMemberRecords> _slowMembers = [];
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

    /// <summary>Whether a "too far behind" record for this member goes on to the host's logger (see the class remarks).</summary>
    private bool PassSlowMember(IReadOnlyList<KeyValuePair<string, object?>> fields)
    {
        if (Field(fields, "Member") is not EndPoint member)
        {
            return true;
        }
        var now = _clockMs();
        long dropped;
        lock (_slowGate)
        {
            if (!_slowMembers.TryGetValue(member, out var records))
            {
                if (_slowMembers.Count >= MaxWatchedMembers)
                {
                    _slowMembers.Clear(); // members come and go; a member forgotten here is logged once more
                }
                _slowMembers[member] = new SlowMemberRecords { PassedAtMs = now };
                return true;
            }
            if (now - records.PassedAtMs < SlowMemberLogIntervalMs)
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
            Log.SlowMemberRecordsDropped(_logger, member.ToString() ?? "?", dropped);
        }
        return true;
    }

    private sealed class SlowMemberRecords
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
            if (eventId.Id == SlowMemberEventId && state is IReadOnlyList<KeyValuePair<string, object?>> slow
                && !watch.PassSlowMember(slow))
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
