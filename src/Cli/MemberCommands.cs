using System.CommandLine;
using System.Globalization;
using RaftDlm.Client;

namespace RaftDlm.Cli;

/// <summary>dlmctl's membership commands: <c>member list|add|remove</c>, over <c>/v1/cluster/members</c>.</summary>
internal static class MemberCommands
{
    public static Command Member()
    {
        var command = new Command("member", "The cluster's members: list them, add a node, remove one");

        var list = new Command("list", "Each member: id, Raft endpoint, HTTP URL, role (voter or learner) and status, as the answering node sees them");
        list.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var members = await client.ListMembersAsync(ct);
            output.Table(new { members }, ["ID", "RAFT ENDPOINT", "HTTP URL", "ROLE", "STATUS"],
                members.Select(member => new[] { member.Id, member.RaftEndpoint, member.HttpUrl, member.Role, member.Status }));
            return 0;
        }));
        command.Add(list);

        var id = new Argument<string>("id") { Description = "The member's id, e.g. node4" };
        var raftEndpoint = new Argument<string>("raft-endpoint") { Description = "Its Raft endpoint, host:port (a DNS name is resolved when connecting)" };
        var httpUrl = new Argument<string>("http-url") { Description = "Its HTTP URL, e.g. http://127.0.0.1:7740" };
        var timeout = new Option<int?>("--timeout-ms")
        {
            Description = "How long it may take to catch up before the add is given up (it is then not added); the server's default is 300000",
        };
        timeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int?>() is { } ms && (ms < 1 || ms > DlmClient.MaxAddMemberTimeout.TotalMilliseconds))
            {
                result.AddError($"--timeout-ms must be between 1 and {DlmClient.MaxAddMemberTimeout.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}");
            }
        });
        var add = new Command("add", "Add a running node that waits to be added (started with an empty data directory and --join): it is caught up as a learner, then votes; answers once it is a voter (admin)")
        {
            id, raftEndpoint, httpUrl, timeout,
        };
        add.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            var ms = parse.GetValue(timeout);
            if (!output.IsJson) Console.Error.WriteLine($"dlmctl: adding {parse.GetValue(id)}; it votes once it has caught up (at most {(ms ?? (int)DlmClient.DefaultAddMemberTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)} ms)");
            var member = await client.AddMemberAsync(parse.GetRequiredValue(id), parse.GetRequiredValue(raftEndpoint), parse.GetRequiredValue(httpUrl),
                ms is { } given ? TimeSpan.FromMilliseconds(given) : null, ct);
            Print(output, member);
            return 0;
        }));
        command.Add(add);

        var remove = new Command("remove", "Remove a member, the leader too (it hands over leadership first); its process keeps running until stopped (admin)") { id };
        remove.SetAction((parse, ct) => Commands.Run(parse, async (client, output) =>
        {
            Print(output, await client.RemoveMemberAsync(parse.GetRequiredValue(id), ct));
            return 0;
        }));
        command.Add(remove);
        return command;
    }

    private static void Print(Output output, ClusterMember member) =>
        output.Fields(member, [("id", member.Id), ("raftEndpoint", member.RaftEndpoint), ("httpUrl", member.HttpUrl), ("role", member.Role), ("status", member.Status)]);
}
