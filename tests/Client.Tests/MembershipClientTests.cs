using System.Net;
using System.Text;
using RaftDlm.Testing;

namespace RaftDlm.Client.Tests;

/// <summary>
/// The membership calls against a real 3-node cluster: the list, a node added by hand becoming a voter and removed
/// again, and the refusals as <see cref="DlmException"/> with the contract's codes.
/// </summary>
public sealed class MembershipClientTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private ServerCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task List_add_and_remove()
    {
        await using var client = Clients.For(Cluster, "members");
        var members = await client.ListMembersAsync();
        Assert.Equal(["node1", "node2", "node3"], members.Select(member => member.Id));
        Assert.All(members, member => Assert.Equal("voter", member.Role));
        Assert.All(members, member => Assert.Equal((Cluster.Member(member.Id).RaftEndpoint, Cluster.HttpUrl(member.Id)), (member.RaftEndpoint, member.HttpUrl)));

        using var waiting = WaitingNode.Start(Cluster, "node4");
        var added = await client.AddMemberAsync("node4", waiting.Member.RaftEndpoint, waiting.Member.HttpUrl, TimeSpan.FromSeconds(90));
        Assert.Equal(new ClusterMember("node4", waiting.Member.RaftEndpoint, waiting.Member.HttpUrl, "voter", added.Status), added);
        // A node answers from the membership it has applied: a follower may list the change a moment later.
        var four = await ListedAsync(client, ["node1", "node2", "node3", "node4"]);
        Assert.Equal("voter", four.Single(member => member.Id == "node4").Role);

        var removed = await client.RemoveMemberAsync("node4");
        Assert.Equal(("node4", waiting.Member.RaftEndpoint), (removed.Id, removed.RaftEndpoint));
        await ListedAsync(client, ["node1", "node2", "node3"]);
    }

    [Fact]
    public async Task Refusals_carry_the_contract_codes()
    {
        await using var client = Clients.For(Cluster, "member-refusals");
        var missing = await Assert.ThrowsAsync<DlmException>(() => client.RemoveMemberAsync("node-none"));
        Assert.Equal((DlmErrorCodes.NotFound, 404), (missing.Code, missing.Status));

        var taken = await Assert.ThrowsAsync<DlmException>(() => client.AddMemberAsync("node1", "127.0.0.1:1", "http://127.0.0.1:2"));
        Assert.Equal((DlmErrorCodes.Conflict, 409), (taken.Code, taken.Status));

        // Nothing listens at that address: it does not catch up within the time given and is not added.
        var ports = TestSupport.LocalPorts.Free(2);
        var late = await Assert.ThrowsAsync<DlmException>(() => client.AddMemberAsync("node9", $"127.0.0.1:{ports[0]}", $"http://127.0.0.1:{ports[1]}", TimeSpan.FromMilliseconds(1500)));
        Assert.Equal((DlmErrorCodes.Timeout, 409), (late.Code, late.Status));
        Assert.IsNotType<LockTimeoutException>(late);
        Assert.DoesNotContain(await client.ListMembersAsync(), member => member.Id == "node9");

        var invalid = await Assert.ThrowsAsync<DlmException>(() => client.AddMemberAsync("node9", "no-port", "http://127.0.0.1:2"));
        Assert.Equal((DlmErrorCodes.InvalidRequest, 400), (invalid.Code, invalid.Status));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.AddMemberAsync("node9", "127.0.0.1:1", "http://127.0.0.1:2", TimeSpan.Zero));
    }

    [Fact]
    public async Task A_change_whose_outcome_is_unknown_is_not_sent_again_but_one_refused_as_unavailable_is_and_a_retried_removal_that_was_made_counts()
    {
        var handler = new Answers(HttpStatusCode.GatewayTimeout);
        await using (var client = new DlmClient(new DlmClientOptions { Endpoints = ["http://127.0.0.1:1", "http://127.0.0.1:2"] }, handler: handler))
        {
            var unknown = await Assert.ThrowsAsync<DlmException>(() => client.RemoveMemberAsync("node2"));
            Assert.Equal(DlmErrorCodes.OutcomeUnknown, unknown.Code);
            Assert.Equal(1, handler.Requests);
            await Assert.ThrowsAsync<DlmException>(() => client.AddMemberAsync("node4", "127.0.0.1:3", "http://127.0.0.1:4"));
            Assert.Equal(2, handler.Requests);
        }

        // 503: the change was not made (no leader); the next node is asked.
        handler = new Answers(HttpStatusCode.ServiceUnavailable, HttpStatusCode.OK);
        await using (var client = new DlmClient(new DlmClientOptions { Endpoints = ["http://127.0.0.1:1", "http://127.0.0.1:2"] }, handler: handler))
        {
            var removed = await client.RemoveMemberAsync("node2");
            Assert.Equal("node2", removed.Id);
            Assert.Equal(2, handler.Requests);
        }

        // 503, then 404 to the retry: the first attempt removed it after all (a leader removing itself).
        handler = new Answers(HttpStatusCode.ServiceUnavailable, HttpStatusCode.NotFound);
        await using (var client = new DlmClient(new DlmClientOptions { Endpoints = ["http://127.0.0.1:1", "http://127.0.0.1:2"] }, handler: handler))
        {
            var removed = await client.RemoveMemberAsync("node2");
            Assert.Equal(new ClusterMember("node2", "127.0.0.1:7721", "http://127.0.0.1:7720", "voter", "removed"), removed);
            Assert.Equal(2, handler.Requests);
            // A first answer of 404 stays NotFound.
            var missing = await Assert.ThrowsAsync<DlmException>(() => client.RemoveMemberAsync("node2"));
            Assert.Equal(DlmErrorCodes.NotFound, missing.Code);
        }
    }

    /// <summary>The members once the list has exactly these ids (every node asked in turn, for at most 30 s).</summary>
    private static async Task<IReadOnlyList<ClusterMember>> ListedAsync(DlmClient client, string[] ids)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        IReadOnlyList<ClusterMember> members;
        do
        {
            members = await client.ListMembersAsync();
            if (members.Select(member => member.Id).SequenceEqual(ids)) return members;
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);
        Assert.Equal(ids, members.Select(member => member.Id));
        return members;
    }

    /// <summary>
    /// Answers each change with the next status (the last one repeats; a 200 carries a member) and counts them; a GET
    /// of the members lists node1 and node2.
    /// </summary>
    private sealed class Answers(params HttpStatusCode[] statuses) : HttpMessageHandler
    {
        private int _requests;

        public int Requests => _requests;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method == HttpMethod.Get)
            {
                const string list = """{"members":[{"id":"node1","raftEndpoint":"127.0.0.1:7711","httpUrl":"http://127.0.0.1:7710","role":"voter","status":"leader"},{"id":"node2","raftEndpoint":"127.0.0.1:7721","httpUrl":"http://127.0.0.1:7720","role":"voter","status":"follower"}]}""";
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(list, Encoding.UTF8, "application/json") });
            }
            var status = statuses[Math.Min(Interlocked.Increment(ref _requests), statuses.Length) - 1];
            var code = status switch
            {
                HttpStatusCode.GatewayTimeout => "OutcomeUnknown",
                HttpStatusCode.NotFound => "NotFound",
                _ => "Unavailable",
            };
            var body = status == HttpStatusCode.OK
                ? """{"id":"node2","raftEndpoint":"127.0.0.1:7721","httpUrl":"http://127.0.0.1:7720","role":"voter","status":"removed"}"""
                : $$"""{"code":"{{code}}","detail":"test"}""";
            return Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") });
        }
    }
}
