using System.Net;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// The logger factory handed to DotNext passes DotNext's records on, except the "too far behind" warning (74044),
/// which it thins out to one per member every 10 s with a count of those it dropped.
/// </summary>
public sealed class ReplicationWatchTests
{
    private const string DotNextCategory = "DotNext.Net.Cluster.Consensus.Raft.RaftCluster";
    private static readonly EventId SlowMember = new(74044, "SlowMember");

    [Fact]
    public void A_flood_of_too_far_behind_records_reaches_the_log_once_per_member_per_interval_with_a_count()
    {
        var host = new RecordingLoggerFactory();
        var now = 1_000_000L;
        var watch = new ReplicationWatch(host, (_, _) => { }, new FollowerCopies(() => null), () => now);
        var logger = watch.CreateLogger(DotNextCategory);
        var node2 = new IPEndPoint(IPAddress.Loopback, 7721);
        var node3 = new IPEndPoint(IPAddress.Loopback, 7731);

        for (var i = 0; i < 500; i++)
        {
            SlowMemberRecord(logger, node2);
            now += 10; // 5 s in all
        }
        SlowMemberRecord(logger, node3);

        Assert.Equal(2, host.Records.Count(r => r.EventId == 74044));
        Assert.Contains(host.Records, r => r.EventId == 74044 && r.Message.Contains("7721", StringComparison.Ordinal));
        Assert.Contains(host.Records, r => r.EventId == 74044 && r.Message.Contains("7731", StringComparison.Ordinal));
        Assert.DoesNotContain(host.Records, r => r.EventId == 7126);

        now += ReplicationWatch.SlowMemberLogIntervalMs;
        SlowMemberRecord(logger, node2);

        Assert.Equal(3, host.Records.Count(r => r.EventId == 74044));
        var dropped = Assert.Single(host.Records, r => r.EventId == 7126);
        Assert.Equal("RaftDlm.Consensus", dropped.Category);
        Assert.Equal(LogLevel.Warning, dropped.Level);
        Assert.Contains("127.0.0.1:7721", dropped.Message, StringComparison.Ordinal);
        Assert.Contains(" 499 more times", dropped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_records_pass_unchanged()
    {
        var host = new RecordingLoggerFactory();
        var watch = new ReplicationWatch(host, (_, _) => { }, new FollowerCopies(() => null), () => 0);
        var logger = watch.CreateLogger(DotNextCategory);

        for (var i = 0; i < 3; i++)
        {
            logger.Log(LogLevel.Warning, new EventId(74010), "member unavailable", null, (s, _) => s);
        }

        Assert.Equal(3, host.Records.Count(r => r.EventId == 74010));
    }

    /// <summary>As DotNext's generated logging method writes it: a list of named fields, the member an endpoint.</summary>
    private static void SlowMemberRecord(ILogger logger, EndPoint member)
    {
        var fields = new List<KeyValuePair<string, object?>>
        {
            new("Member", member),
            new("{OriginalFormat}", "Cluster member {Member} is too far behind the leader"),
        };
        logger.Log(LogLevel.Warning, SlowMember, fields, null, (f, _) => $"Cluster member {f[0].Value} is too far behind the leader");
    }

    private sealed record Record(string Category, LogLevel Level, int EventId, string Message);

    private sealed class RecordingLoggerFactory : ILoggerFactory
    {
        public List<Record> Records { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Recording(this, categoryName);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Recording(RecordingLoggerFactory factory, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (factory.Records)
                {
                    factory.Records.Add(new Record(category, logLevel, eventId.Id, formatter(state, exception)));
                }
            }
        }
    }
}
