using System.Globalization;
using RaftDlm.Bench;

namespace RaftDlm.Consensus.Bench;

/// <summary>
/// The three node processes' CPU time (from /proc/PID/stat) and, with a device named, its completed write and
/// flush requests (from /proc/diskstats: the whole machine's, so keep it otherwise idle).
/// </summary>
internal readonly record struct Counters(TimeSpan NodesCpu, long Writes, long Flushes)
{
    public static Counters Take(IEnumerable<NodeProcess> nodes, string disk)
    {
        var ticks = nodes.Sum(node => ProcCounters.ProcessTicks(node.Pid));
        var (writes, flushes) = disk.Length > 0 ? ProcCounters.Disk(disk) : (0, 0);
        return new Counters(TimeSpan.FromSeconds(ticks / ProcCounters.ClockTicksPerSecond), writes, flushes);
    }

    public Counters Since(Counters start) => new(NodesCpu - start.NodesCpu, Writes - start.Writes, Flushes - start.Flushes);
}

/// <summary>One measured run, as a line of the results.</summary>
internal sealed record RunResult(int Round, int Proposers, long Commits, long Errors, double CommitsPerSecond, double P50Ms,
    double P99Ms, double ServerCpuMsPerCommit, double? FlushesPerCommit, double? WritesPerCommit)
{
    public static RunResult From(int round, int proposers, int seconds, RunReply reply, Counters used, bool disk)
    {
        double commits = Math.Max(1, reply.Commits);
        return new RunResult(round, proposers, reply.Commits, reply.Errors,
            Math.Round(reply.Commits / (double)seconds, 1), reply.P50Ms, reply.P99Ms,
            Math.Round(used.NodesCpu.TotalMilliseconds / commits, 4),
            disk ? Math.Round(used.Flushes / commits, 2) : null,
            disk ? Math.Round(used.Writes / commits, 2) : null);
    }
}

/// <summary>"--name value" arguments.</summary>
internal sealed class Arguments(string[] args)
{
    public static Arguments Parse(string[] args) => new(args);

    public string Value(string name, string fallback)
    {
        var at = Array.IndexOf(args, "--" + name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }

    public int Int(string name, int fallback) => int.Parse(Value(name, fallback.ToString(CultureInfo.InvariantCulture)), CultureInfo.InvariantCulture);
}
