using RaftDlm.Consensus;
using System.Net;
using static RaftDlm.HttpApi.Tests.EndpointCalls;
using static RaftDlm.HttpApi.Tests.Http;

namespace RaftDlm.HttpApi.Tests;

/// <summary>
/// The cluster and operations paths of the HTTP API (docs/api.md; src/HttpApi/Api/ClusterEndpoints.cs):
/// /v1/cluster, /healthz, /readyz, /metrics, the OpenAPI document, and stale reads answered by a follower.
/// </summary>
[Collection(EndpointCluster.Name)]
public sealed class ClusterEndpointTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Cluster_health_ready_metrics_and_openapi()
    {
        var leaderId = await fixture.Cluster.WaitForLeaderAsync();
        // A write that every node has applied, so each has a commit and an applied index to show (this
        // test may be the first to run on a fresh cluster, where a follower may not know any commit yet).
        var created = await Put(fixture.Cluster.Client(leaderId), "/v1/lockspaces/cluster-view", new { lvbBytes = 8, lockDelayMs = 0 });
        Assert.True(created.Status is HttpStatusCode.Created or HttpStatusCode.OK, created.ToString());
        await fixture.Cluster.WaitForSameStateAsync();
        foreach (var id in fixture.Cluster.RunningIds)
        {
            var client = fixture.Cluster.Client(id);
            var cluster = await Get(client, "/v1/cluster");
            AssertStatus(cluster, HttpStatusCode.OK);
            Assert.Equal(id, Str(cluster.Body, "nodeId"));
            Assert.Equal(leaderId, Str(cluster.Body, "leaderId"));
            Assert.True(Long(cluster.Body, "term") > 0);
            Assert.True(Long(cluster.Body, "commitIndex") > 0);
            Assert.True(Long(cluster.Body, "appliedIndex") > 0);
            var members = cluster.Body!["members"]!.AsArray();
            Assert.Equal(fixture.Cluster.Ids.Order(), members.Select(member => Str(member, "id")).Order());
            foreach (var member in members)
            {
                Assert.Equal(fixture.Cluster.HttpUrl(Str(member, "id")), Str(member, "httpEndpoint"));
                Assert.Contains("127.0.0.1:", Str(member, "raftEndpoint"));
                Assert.False(string.IsNullOrEmpty(Str(member, "status")));
            }

            AssertStatus(await Get(client, "/healthz"), HttpStatusCode.OK);
            AssertStatus(await ReadyAsync(client), HttpStatusCode.OK);

            var metrics = await Get(client, "/metrics");
            AssertStatus(metrics, HttpStatusCode.OK);
            Assert.Equal("text/plain", metrics.MediaType);
            // Every node exports the consensus gauges and the lock table's, each series labelled with the node.
            Assert.Contains("# TYPE raftdlm_consensus_term gauge", metrics.Text);
            Assert.Contains($"raftdlm_consensus_is_leader{{otel_scope_name=\"RaftDlm.Consensus\",raftdlm_node=\"{id}\"}} {(id == leaderId ? 1 : 0)}", metrics.Text);
            Assert.Contains("# TYPE raftdlm_sessions gauge", metrics.Text);
            if (id == leaderId)
            {
                // Only the leader proposes, so only it has measured commit latencies.
                Assert.Contains("# TYPE raftdlm_consensus_commit_latency_seconds histogram", metrics.Text);
                Assert.Contains("raftdlm_consensus_commit_latency_seconds_bucket{otel_scope_name=\"RaftDlm.Consensus\",raftdlm_node=\"" + id + "\",le=\"+Inf\"}", metrics.Text);
                Assert.Contains("raftdlm_consensus_commit_latency_seconds_count", metrics.Text);
            }
        }

        var openapi = await Get(fixture.Cluster.Client(leaderId), "/openapi/v1.json");
        AssertStatus(openapi, HttpStatusCode.OK);
        var paths = openapi.Body!["paths"]!.AsObject();
        (string Path, string Method)[] contract =
        [
            ("/v1/sessions", "post"), ("/v1/sessions/{sessionId}/keepalive", "post"), ("/v1/sessions/{sessionId}", "get"),
            ("/v1/sessions/{sessionId}", "delete"), ("/v1/sessions/{sessionId}/events", "get"),
            ("/v1/lockspaces/{name}", "put"), ("/v1/lockspaces", "get"), ("/v1/lockspaces/{name}", "delete"),
            ("/v1/lockspaces/{ls}/locks", "post"), ("/v1/lockspaces/{ls}/locks/{lockId}/convert", "post"),
            ("/v1/lockspaces/{ls}/locks/{lockId}", "delete"), ("/v1/lockspaces/{ls}/locks/{lockId}", "get"),
            ("/v1/lockspaces/{ls}/orphans/adopt", "post"), ("/v1/lockspaces/{ls}/orphans", "delete"),
            ("/v1/lockspaces/{ls}/resources/{resource}", "get"), ("/v1/fence/check", "post"),
            ("/v1/cluster", "get"), ("/healthz", "get"), ("/readyz", "get"), ("/metrics", "get"),
            ("/v1/sessions", "get"), ("/v1/lockspaces/{ls}/resources", "get"), ("/v1/lockspaces/{ls}/waitfor", "get"),
        ];
        Assert.All(contract, entry => Assert.True(
            paths[entry.Path]?[entry.Method] is not null,
            $"{entry.Method} {entry.Path} is missing from the OpenAPI document; it has {string.Join(' ', paths.Select(path => path.Key))}"));
    }

    /// <summary>
    /// Series that a running 3-node cluster with some traffic exports, ours and DotNext's; the log's own depend on
    /// the log the servers run on (the setting LogEngine, which the test servers take from the environment).
    /// </summary>
    private static readonly string[] ExportedMetrics =
    [
        "raftdlm_consensus_commit_latency_seconds", "raftdlm_consensus_proposals_total", "raftdlm_consensus_entries_applied_total",
        "raftdlm_consensus_leader_changes_total", "raftdlm_consensus_is_leader", "raftdlm_consensus_term", "raftdlm_consensus_commit_index",
        "raftdlm_consensus_applied_log_index", "raftdlm_consensus_snapshot_index", "raftdlm_forwarded_requests_total", "raftdlm_sessions",
        "raftdlm_locks", "raftdlm_resources", "raftdlm_queued_requests", "raftdlm_lockspaces", "raftdlm_applied_index",
        "transitions_to_leader_count_total", "incoming_heartbeats_count_total", "broadcast_time_milliseconds", "response_time_milliseconds",
        .. Enum.Parse<LogEngine>(Environment.GetEnvironmentVariable("RAFTDLM_LogEngine") is { Length: > 0 } engine ? engine : RaftNodeOptions.DefaultLogEngine.ToString(), ignoreCase: true) switch
        {
            LogEngine.Segmented => (string[])["raftdlm_log_sync_duration_seconds", "raftdlm_log_entries_per_sync"],
            _ =>
            [
                "entries_append_count_total", "entries_append_bytes", "entries_commit_count_total", "entries_apply_count_total",
                "entries_apply_duration_milliseconds", "entries_flush_count_total", "entries_flush_duration_milliseconds",
            ],
        },
    ];

    [Fact]
    public async Task Metrics_export_our_series_and_DotNexts_and_each_is_documented()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var session = await OpenSession(follower); // forwarded to the leader
        AssertStatus(await Lock(follower, ls, session, "metrics", "EX"), HttpStatusCode.OK);
        var exported = new HashSet<string>();
        for (var attempt = 0; attempt < 50 && !ExportedMetrics.All(exported.Contains); attempt++)
        {
            foreach (var id in fixture.Cluster.RunningIds)
            {
                var text = (await Get(fixture.Cluster.Client(id), "/metrics")).Text;
                foreach (var line in text.Split('\n'))
                {
                    if (!line.StartsWith("# TYPE ", StringComparison.Ordinal)) continue;
                    exported.Add(line.Split(' ')[2]);
                }
            }
            if (!ExportedMetrics.All(exported.Contains)) await Task.Delay(200);
        }
        var missing = ExportedMetrics.Where(name => !exported.Contains(name)).ToList();
        Assert.True(missing.Count == 0, "not exported: " + string.Join(", ", missing));

        // docs/operations.md names every one of them.
        var operations = await File.ReadAllTextAsync(Path.Combine(TestSupport.BuildOutput.RepositoryRoot, "docs", "operations.md"));
        var undocumented = ExportedMetrics.Where(name => !operations.Contains($"`{name}`", StringComparison.Ordinal)).ToList();
        Assert.True(undocumented.Count == 0, "not in docs/operations.md: " + string.Join(", ", undocumented));
    }

    [Fact]
    public async Task Stale_reads_are_answered_by_the_follower_itself()
    {
        var (leader, follower) = await fixture.NodesAsync();
        var ls = await CreateLockspace(leader);
        var session = await OpenSession(leader);
        var held = await Lock(leader, ls, session, "stale", "EX");
        AssertStatus(held, HttpStatusCode.OK);

        // The follower applies the entries a moment later; a stale read shows them once it has (bounded).
        Reply view = await Get(follower, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}?stale=true");
        for (var tries = 0; view.Status != HttpStatusCode.OK && tries < 50; tries++)
        {
            await Task.Delay(100);
            view = await Get(follower, $"/v1/lockspaces/{ls}/locks/{Str(held.Body, "lockId")}?stale=true");
        }
        AssertStatus(view, HttpStatusCode.OK);
        Assert.Equal("granted", Str(view.Body, "state"));
        AssertStatus(await Get(follower, $"/v1/lockspaces/{ls}/resources/stale?stale=true"), HttpStatusCode.OK);
        AssertStatus(await Get(follower, $"/v1/sessions/{session}?stale=true"), HttpStatusCode.OK);
        Assert.Contains((await Get(follower, "/v1/lockspaces?stale=true")).Body!["lockspaces"]!.AsArray(), item => Str(item, "name") == ls);
    }
}
