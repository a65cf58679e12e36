using System.Globalization;

namespace RaftDlm.Consensus.Tests.Processes;

/// <summary>The parsed reply to "status": space-separated key=value pairs after "OK".</summary>
internal sealed record NodeStatus(string Id, IReadOnlyDictionary<string, string> Values)
{
    public bool IsLeader => Values["isLeader"] == "true";

    public string Leader => Values["leader"];

    public long Count => Long("count");

    public string Hash => Values["hash"];

    public long LastTimeMs => Long("lastTime");

    public long Regressions => Long("regressions");

    public long SnapshotIndex => Long("snapshot");

    public long Term => Long("term");

    public long CommitIndex => Long("commit");

    public long AppliedIndex => Long("applied");

    public static NodeStatus Parse(string id, string reply)
    {
        if (!reply.StartsWith("OK ", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"status of {id} failed: {reply}");
        }
        var values = reply[3..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair[1]);
        return new NodeStatus(id, values);
    }

    private long Long(string key) => long.Parse(Values[key], CultureInfo.InvariantCulture);

    public override string ToString() => $"{Id}: " + string.Join(' ', Values.Select(p => $"{p.Key}={p.Value}"));
}
