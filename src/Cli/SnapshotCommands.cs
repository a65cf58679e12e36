using System.CommandLine;
using System.Globalization;
using RaftDlm.Client;

namespace RaftDlm.Cli;

/// <summary>dlmctl's backups: <c>snapshot save FILE</c> (from the cluster) and <c>snapshot status FILE</c> (offline).</summary>
internal static class SnapshotCommands
{
    private const int Failed = 1;

    public static Command Snapshot()
    {
        var command = new Command("snapshot", "Back up the lock table to a file, and check a backup file");
        var file = new Argument<string>("file");
        var stale = new Option<bool>("--stale") { Description = "Take it on the node reached, without the leader's read barrier" };
        var save = new Command("save", "Save a consistent backup of the whole lock table (admin token); it is written to FILE.partial, checked, then renamed") { file, stale };
        save.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var path = Path.GetFullPath(parse.GetRequiredValue(file));
            var partial = path + ".partial";
            try
            {
                await using (var target = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                {
                    await client.SaveSnapshotAsync(target, parse.GetValue(stale), ct);
                    target.Flush(flushToDisk: true);
                }
                var info = await SnapshotBackup.ReadInfoAsync(partial, ct);
                if (!info.ChecksumOk) throw new InvalidDataException("the backup received does not match its checksum");
                File.Move(partial, path, overwrite: true);
                Print(output, path, info);
                return 0;
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                File.Delete(partial);
                Console.Error.WriteLine($"dlmctl: snapshot save {path}: {error.Message}");
                return Failed;
            }
            catch
            {
                File.Delete(partial);
                throw;
            }
        }));
        command.Add(save);

        var status = new Command("status", "Show what a backup file holds and whether its checksum holds (offline; exit 1 when it does not)") { file };
        status.SetAction(async (parse, ct) =>
        {
            var path = Path.GetFullPath(parse.GetRequiredValue(file));
            try
            {
                var info = await SnapshotBackup.ReadInfoAsync(path, ct);
                Print(new Output(parse.GetValue(Commands.JsonOption)), path, info);
                if (info.ChecksumOk) return 0;
                Console.Error.WriteLine($"dlmctl: {path}: the checksum does not match; the file is corrupt");
                return Failed;
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                Console.Error.WriteLine($"dlmctl: snapshot status: {error.Message}");
                return Failed;
            }
        });
        command.Add(status);
        return command;
    }

    private static void Print(Output output, string path, SnapshotBackupInfo info) => output.Fields(new { file = path, info }, [
        ("file", path),
        ("version", Number(info.Version)),
        ("index", Number(info.Index)),
        ("term", Number(info.Term)),
        ("taken", $"{info.CreatedAt} on {info.NodeId}"),
        ("lockspaces", Number(info.Lockspaces)),
        ("sessions", Number(info.Sessions)),
        ("resources", Number(info.Resources)),
        ("locks", Number(info.Locks)),
        ("max token", Number(info.MaxFencingToken)),
        ("size", Number(info.SizeBytes) + " bytes"),
        ("sha256", info.Sha256),
        ("checksum", info.ChecksumOk ? "ok" : "MISMATCH"),
    ]);

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
