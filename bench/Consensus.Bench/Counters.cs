using System.Globalization;

namespace RaftDlm.Consensus.Bench;

/// <summary>
/// The three node processes' CPU time (from /proc/PID/stat) and, with a device named, its completed write and
/// flush requests (from /proc/diskstats: the whole machine's, so keep it otherwise idle).
/// </summary>
internal readonly record struct Counters(TimeSpan NodesCpu, long Writes, long Flushes)
{
    // USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux this runs on.
    private const double ClockTicksPerSecond = 100;

    public static Counters Take(IEnumerable<NodeProcess> nodes, string disk)
    {
        var ticks = nodes.Sum(node => ProcessTicks(node.Pid));
        var (writes, flushes) = disk.Length > 0 ? DiskCounters(disk) : (0, 0);
        return new Counters(TimeSpan.FromSeconds(ticks / ClockTicksPerSecond), writes, flushes);
    }

    public Counters Since(Counters start) => new(NodesCpu - start.NodesCpu, Writes - start.Writes, Flushes - start.Flushes);

    /// <summary>utime + stime, in clock ticks (fields 14 and 15, counted after the command name).</summary>
    private static long ProcessTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    // Columns after major, minor and name: writes completed is the 5th, flushes completed the 16th.
    private static (long Writes, long Flushes) DiskCounters(string device)
    {
        foreach (var line in File.ReadLines("/proc/diskstats"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 18 && fields[2] == device)
            {
                return (long.Parse(fields[7], CultureInfo.InvariantCulture), long.Parse(fields[18], CultureInfo.InvariantCulture));
            }
        }

        throw new ArgumentException($"no block device '{device}' in /proc/diskstats (or a kernel without flush counters)");
    }
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
