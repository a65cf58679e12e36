namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// One 3-node cluster shared by the endpoint test classes (<see cref="SessionEndpointTests"/>,
/// <see cref="LockspaceEndpointTests"/>, <see cref="LockEndpointTests"/>, <see cref="ClusterEndpointTests"/>).
/// Each test uses its own lockspaces and sessions, so none depends on another's order.
/// </summary>
[CollectionDefinition(Name)]
public sealed class EndpointCluster : ICollectionFixture<ClusterFixture>
{
    public const string Name = "endpoint cluster";
}
