using RaftDlm.Testing;

namespace RaftDlm.Client.Tests;

/// <summary>One 3-node cluster of real server processes shared by a test class that kills no node.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public ServerCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await ServerCluster.StartAsync(3);

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>Counts the HTTP requests a client sends, apart from its keep-alives and event polls.</summary>
public sealed class CountingHandler() : DelegatingHandler(new SocketsHttpHandler { UseProxy = false })
{
    private long _requests;

    public long Requests => Interlocked.Read(ref _requests);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri?.AbsolutePath ?? "";
        if (!path.EndsWith("/keepalive", StringComparison.Ordinal) && !path.EndsWith("/events", StringComparison.Ordinal)) Interlocked.Increment(ref _requests);
        return base.SendAsync(request, cancellationToken);
    }
}

internal static class Clients
{
    public static DlmClient For(ServerCluster cluster, string name, CountingHandler? handler = null) => new(
        new DlmClientOptions
        {
            Endpoints = cluster.Ids.Select(cluster.HttpUrl).ToList(),
            Name = name,
            RetryBudget = TimeSpan.FromSeconds(15),
            EventPollWait = TimeSpan.FromSeconds(5),
        },
        handler: handler);

    public static byte[] Lvb(ulong value) => BitConverter.GetBytes(value);

    public static ulong Counter(byte[] lvb) => lvb.Length < 8 ? 0 : BitConverter.ToUInt64(lvb, 0);

    /// <summary>Blocks until the task completes, at most for <paramref name="bound"/>; false when it did not.</summary>
    public static bool Wait(Task task, TimeSpan bound) => task.Wait(bound);

    /// <summary>Waits for a condition, a bounded number of times.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition()) return true;
            await Task.Delay(20);
        }
        return condition();
    }
}
