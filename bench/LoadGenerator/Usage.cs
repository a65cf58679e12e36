using RaftDlm.Bench;

namespace RaftDlm.LoadGenerator;

/// <summary>
/// Counters of what a run consumes, read from Linux's /proc: CPU time of the server processes (summed) and
/// of this process, and the write and flush requests the block device completed. Absent counters stay null.
/// </summary>
internal readonly record struct Usage(TimeSpan? ServerCpu, TimeSpan ClientCpu, long? DiskWrites, long? DiskFlushes)
{
    public static Usage Take(Options options)
    {
        (long Writes, long Flushes)? disk = options.Disk is null ? null : ProcCounters.Disk(options.Disk);
        return new(options.ServerPids.Count == 0 ? null : TimeSpan.FromSeconds(options.ServerPids.Sum(ProcCounters.ProcessTicks) / ProcCounters.ClockTicksPerSecond),
            Environment.CpuUsage.TotalTime, disk?.Writes, disk?.Flushes);
    }

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
}
