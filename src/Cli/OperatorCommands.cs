using System.CommandLine;
using System.Globalization;
using RaftDlm.Client;

namespace RaftDlm.Cli;

/// <summary>dlmctl's operator commands on locks and orphans: <c>lock convert</c>, <c>orphans list|adopt|purge</c>.</summary>
internal static class OperatorCommands
{
    public static Command LockConvert()
    {
        var lockspace = new Argument<string>("lockspace");
        var lockId = new Argument<string>("lock-id");
        var mode = new Option<string>("--mode") { Required = true, Description = "NL, CR, CW, PR, PW or EX" };
        var lvb = new Option<string?>("--lvb") { Description = "The LVB to write on a conversion down from PW or EX, as hex (e.g. 2a00000000000000)" };
        var command = new Command("convert", "Convert a lock (of any session) in place, by its id") { lockspace, lockId, mode, lvb };
        command.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var bytes = parse.GetValue(lvb) is { } hex ? Convert.FromHexString(hex) : null;
            var info = await client.ConvertLockAsync(parse.GetRequiredValue(lockspace), parse.GetRequiredValue(lockId), LockModes.Parse(parse.GetRequiredValue(mode)), bytes, ct);
            output.Fields(info, [("lock", info.LockId), ("state", info.State), ("mode", info.Mode), ("requested", info.RequestedMode), ("token", info.FencingToken?.ToString(CultureInfo.InvariantCulture)), ("lvb", Output.Lvb(info.Lvb))]);
            return 0;
        }));
        command.Validators.Add(result =>
        {
            if (result.GetValue(lvb) is { } hex && (hex.Length % 2 != 0 || !hex.All(Uri.IsHexDigit))) result.AddError($"--lvb must be hex digits, two per byte: '{hex}'");
        });
        return command;
    }

    public static Command Orphans()
    {
        var command = new Command("orphans", "Persistent locks whose session ended: list, adopt or purge them");
        var lockspace = new Argument<string>("lockspace");
        var list = new Command("list", "List a lockspace's orphans") { lockspace };
        list.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var orphans = new List<LockInfo>();
            string? after = null;
            for (var page = 0; page < 10_000; page++)
            {
                var resources = await client.ListResourcesAsync(parse.GetRequiredValue(lockspace), after: after, limit: 1_000, ct: ct);
                foreach (var resource in resources.Resources.Where(item => item.Granted > 0))
                {
                    var view = await client.GetResourceAsync(parse.GetRequiredValue(lockspace), resource.Resource, ct);
                    if (view is not null) orphans.AddRange(view.Granted.Where(item => item.State == "orphan"));
                }
                if ((after = resources.Next) is null) break;
            }
            output.Table(new { orphans }, ["LOCK", "RESOURCE", "MODE", "TOKEN"],
                orphans.Select(item => new[] { item.LockId, item.Resource, item.Mode, item.FencingToken?.ToString(CultureInfo.InvariantCulture) }));
            return 0;
        }));
        command.Add(list);

        var resource = new Argument<string>("resource");
        var mode = new Option<string>("--mode") { Required = true, Description = "The orphan's mode, exactly" };
        var session = new Option<string>("--session") { Required = true, Description = "The session that takes the orphan over" };
        var adopt = new Command("adopt", "Give an orphan to a live session (same lock id and fencing token)") { lockspace, resource, mode, session };
        adopt.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var info = await client.AdoptOrphanAsync(parse.GetRequiredValue(session), parse.GetRequiredValue(lockspace), parse.GetRequiredValue(resource), LockModes.Parse(parse.GetRequiredValue(mode)), ct);
            output.Fields(info, [("lock", info.LockId), ("session", info.SessionId), ("mode", info.Mode), ("token", info.FencingToken?.ToString(CultureInfo.InvariantCulture))]);
            return 0;
        }));
        command.Add(adopt);

        var purge = new Command("purge", "Release every orphan on a resource (admin)") { lockspace, resource };
        purge.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            await client.PurgeOrphansAsync(parse.GetRequiredValue(lockspace), parse.GetRequiredValue(resource), ct);
            output.Fields(new { lockspace = parse.GetValue(lockspace), resource = parse.GetValue(resource), purged = true }, [("purged", parse.GetValue(resource))]);
            return 0;
        }));
        command.Add(purge);
        return command;
    }
}
