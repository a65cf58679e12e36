using System.Diagnostics;
using System.Globalization;
using RaftDlm.Consensus;

namespace RaftDlm.Consensus.Bench;

/// <summary>
/// One node process: a <see cref="RaftNode"/> over a counting machine, driven over standard input. "run P S"
/// makes P proposers propose for S seconds, each waiting for its commit and apply before the next, and answers
/// "OK commits errors p50Ms p99Ms" ("ERR not-leader" on a follower); "quit" stops the node.
/// </summary>
internal static class BenchNode
{
    // Latencies kept per run, at most: beyond it a run still counts commits but samples no more.
    private const int MaxSamples = 1_000_000;

    public static async Task<int> RunAsync(string[] args)
    {
        var options = Arguments.Parse(args);
        var id = options.Value("id", "");
        var members = options.Value("members", "").Split(',').Select(spec =>
        {
            var parts = spec.Split('=', 2);
            return new RaftMember(parts[0], parts[1], "http://" + parts[1]);
        }).ToList();
        var payload = new byte[options.Int("bytes", 64)];
        await using var node = new RaftNode(new RaftNodeOptions
        {
            NodeId = id,
            Members = members,
            DataDirectory = options.Value("data", ""),
        }, new CountingMachine());
        await node.StartAsync(CancellationToken.None);
        Console.WriteLine("READY");
        while (Console.ReadLine() is { } line)
        {
            var words = line.Split(' ');
            if (words[0] == "quit") break;
            if (words is not ["run", var proposers, var seconds])
            {
                Console.WriteLine("ERR unknown request");
                continue;
            }

            Console.WriteLine(node.IsLeader
                ? await RunProposersAsync(node, payload, int.Parse(proposers, CultureInfo.InvariantCulture), int.Parse(seconds, CultureInfo.InvariantCulture))
                : "ERR not-leader");
        }

        return 0;
    }

    private static async Task<string> RunProposersAsync(RaftNode node, byte[] payload, int proposers, int seconds)
    {
        var samples = new double[MaxSamples];
        var sampled = 0;
        long commits = 0, errors = 0;
        using var window = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        await Task.WhenAll(Enumerable.Range(0, proposers).Select(_ => Task.Run(async () =>
        {
            while (!window.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                try
                {
                    await node.ProposeAsync(payload, CancellationToken.None);
                    Interlocked.Increment(ref commits);
                    var slot = Interlocked.Increment(ref sampled) - 1;
                    if (slot < MaxSamples) samples[slot] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
                catch (Exception e) when (e is OutcomeUnknownException or NotLeaderException)
                {
                    Interlocked.Increment(ref errors);
                }
            }
        })));
        var kept = Math.Min(sampled, MaxSamples);
        Array.Sort(samples, 0, kept);
        double Percentile(double p) => kept == 0 ? 0 : samples[Math.Min(kept - 1, (int)(p * kept))];
        return string.Create(CultureInfo.InvariantCulture, $"OK {commits} {errors} {Percentile(0.50):F3} {Percentile(0.99):F3}");
    }

    /// <summary>Counts the commands applied; its snapshot is the count.</summary>
    private sealed class CountingMachine : IReplicatedStateMachine
    {
        private long _applied;
        private long _lastIndex;

        public long LastAppliedIndex => _lastIndex;

        public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
        {
            _applied++;
            _lastIndex = index;
            return null;
        }

        public void WriteSnapshot(Stream destination)
        {
            using var writer = new BinaryWriter(destination, System.Text.Encoding.UTF8, leaveOpen: true);
            writer.Write(_applied);
            writer.Write(_lastIndex);
        }

        public void RestoreSnapshot(Stream source)
        {
            using var reader = new BinaryReader(source, System.Text.Encoding.UTF8, leaveOpen: true);
            _applied = reader.ReadInt64();
            _lastIndex = reader.ReadInt64();
        }
    }
}
