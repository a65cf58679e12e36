using RaftDlm.Testing;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// One real cluster shared by every test of a class (IClassFixture). Tests of a class use their own
/// lockspaces and sessions so they do not depend on each other's order.
/// </summary>
public class ClusterFixture : IAsyncLifetime
{
    public ServerCluster Cluster { get; private set; } = null!;

    protected virtual int Size => 3;

    protected virtual IReadOnlyDictionary<string, string>? Settings => null;

    /// <summary>The bearer token the cluster's own probes send (for a cluster that requires one).</summary>
    protected virtual string? ProbeToken => null;

    public async Task InitializeAsync() => Cluster = await ServerCluster.StartAsync(Size, Settings, ProbeToken);

    public async Task DisposeAsync()
    {
        if (Cluster is not null) await Cluster.DisposeAsync();
    }

    /// <summary>The agreed leader's client and a follower's client (the follower forwards to the leader).</summary>
    public async Task<(HttpClient Leader, HttpClient Follower)> NodesAsync()
    {
        var leader = await Cluster.WaitForLeaderAsync();
        var follower = Cluster.RunningIds.First(id => id != leader);
        return (Cluster.Client(leader), Cluster.Client(follower));
    }

    /// <summary>"leader" or "follower": the client a theory row names.</summary>
    public async Task<HttpClient> ClientAsync(string target)
    {
        var (leader, follower) = await NodesAsync();
        return target == "leader" ? leader : follower;
    }
}
