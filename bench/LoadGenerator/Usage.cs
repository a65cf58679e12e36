using System.Globalization;

namespace RaftDlm.LoadGenerator;

/// <summary>
/// Counters of what a run consumes, read from Linux's /proc: CPU time of the server processes (summed) and
/// of this process, and the write and flush requests the block device completed. Absent counters stay null.
/// </summary>
internal readonly record struct Usage(TimeSpan? ServerCpu, TimeSpan ClientCpu, long? DiskWrites, long? DiskFlushes)
{
    // USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux this runs on.
    private const double ClockTicksPerSecond = 100;

    // Columns of /proc/diskstats after major, minor and name: writes completed is the 5th, flushes completed the 16th.
    private const int WritesCompleted = 4, FlushesCompleted = 15;

    public static Usage Take(Options options) =>
        new(options.ServerPids.Count == 0 ? null : TimeSpan.FromSeconds(options.ServerPids.Sum(ProcessTicks) / ClockTicksPerSecond),
            Environment.CpuUsage.TotalTime,
            options.Disk is null ? null : DiskCounter(options.Disk, WritesCompleted),
            options.Disk is null ? null : DiskCounter(options.Disk, FlushesCompleted));

    public Usage Since(Usage start) =>
        new(ServerCpu - start.ServerCpu, ClientCpu - start.ClientCpu, DiskWrites - start.DiskWrites, DiskFlushes - start.DiskFlushes);

    public Result PerOperation(Result result)
    {
        double operations = result.Operations;
        return result with
        {
            ServerCpuMsPerOp = ServerCpu is { } server ? Math.Round(server.TotalMilliseconds / operations, 4) : null,
            ClientCpuMsPerOp = Math.Round(ClientCpu.TotalMilliseconds / operations, 4),
            DiskWritesPerOp = DiskWrites is { } writes ? Math.Round(writes / operations, 2) : null,
            DiskFlushesPerOp = DiskFlushes is { } flushes ? Math.Round(flushes / operations, 2) : null,
        };
    }

    /// <summary>utime + stime of one process, in clock ticks (fields 14 and 15, counted after the command name).</summary>
    private static long ProcessTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static long DiskCounter(string device, int column)
    {
        foreach (var line in File.ReadLines("/proc/diskstats"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 + column && fields[2] == device) return long.Parse(fields[3 + column], CultureInfo.InvariantCulture);
        }
        throw new ArgumentException($"no block device '{device}' in /proc/diskstats (or a kernel without flush counters)");
    }
}
