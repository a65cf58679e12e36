using System.Net;
using Microsoft.Extensions.Logging;

namespace RaftDlm.Consensus.Tests;

/// <summary>
/// The logger factory handed to DotNext passes DotNext's records on, except the "unavailable" (74010) and "too far
/// behind" (74044) warnings, which it thins out to one per member and event every 10 s with a count of those left out.
/// </summary>
public sealed class ReplicationWatchTests
{
    private const string DotNextCategory = "DotNext.Net.Cluster.Consensus.Raft.RaftCluster";
    private static readonly EventId SlowMember = new(74044, "DotNext.Net.Cluster.Consensus.Raft.SlowMember");
    private static readonly EventId MemberUnavailable = new(74010, "DotNext.Net.Cluster.Consensus.Raft.MemberUnavailable");

    [Fact]
    public void A_flood_of_too_far_behind_records_reaches_the_log_once_per_member_per_interval_with_a_count()
    {
        var host = new RecordingLoggerFactory();
        var now = 1_000_000L;
        var logger = DotNextLogger(host, () => now);
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

        now += ReplicationWatch.ThinningIntervalMs;
        SlowMemberRecord(logger, node2);

        Assert.Equal(3, host.Records.Count(r => r.EventId == 74044));
        var dropped = Assert.Single(host.Records, r => r.EventId == 7126);
        Assert.Equal("RaftDlm.Consensus", dropped.Category);
        Assert.Equal(LogLevel.Warning, dropped.Level);
        Assert.Contains("127.0.0.1:7721", dropped.Message, StringComparison.Ordinal);
        Assert.Contains("74044", dropped.Message, StringComparison.Ordinal);
        Assert.Contains(" 499 more times", dropped.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dead_members_unavailable_records_are_thinned_apart_from_its_too_far_behind_ones()
    {
        var host = new RecordingLoggerFactory();
        var now = 0L;
        var logger = DotNextLogger(host, () => now);
        var node2 = new IPEndPoint(IPAddress.Loopback, 7721);

        for (var i = 0; i < 1000; i++)
        {
            MemberRecord(logger, MemberUnavailable, node2, new IOException("Connection refused"));
            MemberRecord(logger, SlowMember, node2);
            now += 5;
        }
        now += ReplicationWatch.ThinningIntervalMs;
        MemberRecord(logger, MemberUnavailable, node2, new IOException("Connection refused"));

        // The first of each passes, the first with its exception; then one more 74010 after the interval.
        var unavailable = host.Records.Where(r => r.EventId == 74010).ToList();
        Assert.Equal(2, unavailable.Count);
        Assert.All(unavailable, r => Assert.True(r.HadException));
        Assert.Single(host.Records, r => r.EventId == 74044);
        var leftOut = Assert.Single(host.Records, r => r.EventId == 7126);
        Assert.Contains("74010", leftOut.Message, StringComparison.Ordinal);
        Assert.Contains(" 999 more times", leftOut.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Other_records_pass_unchanged()
    {
        var host = new RecordingLoggerFactory();
        var logger = DotNextLogger(host, () => 0);

        for (var i = 0; i < 3; i++)
        {
            logger.Log(LogLevel.Warning, new EventId(74012), "another warning", null, (s, _) => s);
        }

        Assert.Equal(3, host.Records.Count(r => r.EventId == 74012));
    }

    /// <summary>The logger DotNext's leader would get from the watch, over <paramref name="host"/>, on the given clock.</summary>
    private static ILogger DotNextLogger(RecordingLoggerFactory host, Func<long> clockMs)
        => new ReplicationWatch(host, (_, _) => { }, new FollowerCopies(() => null), clockMs).CreateLogger(DotNextCategory);

    private static void SlowMemberRecord(ILogger logger, EndPoint member) => MemberRecord(logger, SlowMember, member);

    /// <summary>As DotNext's generated logging methods write them: a list of named fields, the member an endpoint.</summary>
    private static void MemberRecord(ILogger logger, EventId eventId, EndPoint member, Exception? exception = null)
    {
        var fields = new List<KeyValuePair<string, object?>>
        {
            new("Member", member),
            new("{OriginalFormat}", "Cluster member {Member} is …"),
        };
        logger.Log(LogLevel.Warning, eventId, fields, exception, (f, _) => $"Cluster member {f[0].Value} is …");
    }

    private sealed record Record(string Category, LogLevel Level, int EventId, string Message, bool HadException);

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
                    factory.Records.Add(new Record(category, logLevel, eventId.Id, formatter(state, exception), exception is not null));
                }
            }
        }
    }
}
