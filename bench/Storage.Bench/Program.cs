using System.Diagnostics;
using System.Globalization;
using RaftDlm.Bench;
using RaftDlm.Consensus.Storage;

// dotnet run -c Release --project bench/Storage.Bench -- [--dir D] [--records N] [--bytes B] [--disk vda]
// Appends N records of B bytes to a RecordLog in D (default ./storage-bench, deleted first and after; it must
// be on the disk measured, not a tmpfs), with a Sync after each, and prints syncs per second. With --disk it
// also prints the write and flush requests that reached that block device per Sync (from /proc/diskstats:
// the whole machine's, so keep it otherwise idle). The first segment is preallocated before the clock starts.
string Value(string name, string fallback)
{
    var at = Array.IndexOf(args, "--" + name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

var directory = Path.GetFullPath(Value("dir", "storage-bench"));
var records = int.Parse(Value("records", "2000"), CultureInfo.InvariantCulture);
var payload = new byte[int.Parse(Value("bytes", "100"), CultureInfo.InvariantCulture)];
var disk = Value("disk", "");
if (Directory.Exists(directory))
{
    Directory.Delete(directory, recursive: true);
}

try
{
    // No background preallocation of the next segment: its writes would fall in the measured window.
    using var log = RecordLog.Open(OsStorageFiles.Instance, directory, 64 * 1024 * 1024, preallocateInBackground: false);
    var before = DiskCounters(disk);
    var clock = Stopwatch.StartNew();
    for (var index = 1; index <= records; index++)
    {
        log.Append(index, 1, 0, payload);
        log.Sync();
    }

    clock.Stop();
    var after = DiskCounters(disk);
    Console.Write(string.Create(CultureInfo.InvariantCulture,
        $"{records} appends of {payload.Length} bytes, each synced: {records / clock.Elapsed.TotalSeconds:F0} syncs/s, {clock.Elapsed.TotalMilliseconds * 1000 / records:F0} µs each"));
    Console.WriteLine(before is { } b && after is { } a
        ? string.Create(CultureInfo.InvariantCulture,
            $"; {disk}: {(double)(a.Writes - b.Writes) / records:F2} writes and {(double)(a.Flushes - b.Flushes) / records:F2} flushes per sync")
        : "");
}
finally
{
    Directory.Delete(directory, recursive: true);
}

// Null without a device to measure (or on a system without /proc/diskstats).
static (long Writes, long Flushes)? DiskCounters(string disk) =>
    disk.Length == 0 || !File.Exists("/proc/diskstats") ? null : ProcCounters.Disk(disk);
