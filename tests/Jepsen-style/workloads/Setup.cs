using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

public static class Setup
{
    /// <summary>Creates a lockspace, retrying (bounded) while the cluster settles.</summary>
    public static async Task CreateLockspaceAsync(RunContext context, string name, int lvbBytes, CancellationToken cancel)
    {
        for (var attempt = 0; attempt < 60; attempt++)
        {
            var reply = await context.Client.PutAsync(attempt % context.Client.NodeCount, $"/v1/lockspaces/{name}", new { lvbBytes, lockDelayMs = 0 }, cancel);
            if (reply.Type == OpType.Ok) return;
            await Task.Delay(500, cancel);
        }
        throw new InvalidOperationException("could not create lockspace " + name);
    }
}
