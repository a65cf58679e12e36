using System.Globalization;

namespace RaftDlm.Bench;

/// <summary>
/// Linux's counters the benchmarks read, shared by the bench programs (linked into each): a process's CPU time
/// from /proc/PID/stat and a block device's completed write and flush requests from /proc/diskstats (the whole
/// machine's, so keep it otherwise idle while measuring).
/// </summary>
internal static class ProcCounters
{
    /// <summary>USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every Linux this runs on.</summary>
    public const double ClockTicksPerSecond = 100;

    /// <summary>utime + stime of one process, in clock ticks (fields 14 and 15, counted after the command name).</summary>
    public static long ProcessTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Writes and flush requests the device completed: fields 8 and 19 of its /proc/diskstats line (after major,
    /// minor and name, the 5th and the 16th; flushes are counted from Linux 5.5 on).
    /// </summary>
    public static (long Writes, long Flushes) Disk(string device)
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
