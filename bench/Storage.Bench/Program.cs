using System.Diagnostics;
using System.Globalization;
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

// /proc/diskstats: name is field 3, writes completed field 8, flush requests completed field 19 (Linux 5.5+).
static (long Writes, long Flushes)? DiskCounters(string disk)
{
    if (disk.Length == 0 || !File.Exists("/proc/diskstats"))
    {
        return null;
    }

    foreach (var line in File.ReadLines("/proc/diskstats"))
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length >= 19 && fields[2] == disk)
        {
            return (long.Parse(fields[7], CultureInfo.InvariantCulture), long.Parse(fields[18], CultureInfo.InvariantCulture));
        }
    }

    throw new ArgumentException($"no disk '{disk}' in /proc/diskstats");
}
