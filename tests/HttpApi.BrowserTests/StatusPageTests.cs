using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using RaftDlm.Testing;
using RaftDlm.TestSupport;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace RaftDlm.HttpApi.BrowserTests;

/// <summary>
/// The status page (<c>/ui/</c>) in a real headless chromium, against a real 3-node cluster, served by a
/// follower: a lock taken through the API shows with its holder, a queued waiter shows as an edge of the
/// wait-for graph, and when the leader is killed the page names the new one.
/// </summary>
public sealed class StatusPageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [BrowserFact]
    public async Task The_page_shows_holders_waiters_and_the_new_leader_after_a_kill()
    {
        await using var cluster = await ServerCluster.StartAsync(3);
        var leader = await cluster.WaitForLeaderAsync();
        var follower = cluster.Ids.First(id => id != leader);
        var api = cluster.Client(follower);

        AssertCreated(await RetryAsync(() => api.PutAsJsonAsync("/v1/lockspaces/vol", new { lvbBytes = 8, lockDelayMs = 0 })));
        var holder = await OpenSessionAsync(api, "holder");
        var waiter = await OpenSessionAsync(api, "waiter");
        var held = await LockAsync(api, holder, "EX", waitMs: null);
        Assert.Equal("granted", held["state"]!.GetValue<string>());
        var token = held["fencingToken"]!.GetValue<long>();

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1200, Height = 1700 } });
        await page.GotoAsync(cluster.HttpUrl(follower) + "/ui/");

        // The cluster: served by the follower, naming the leader.
        await Expect(page.GetByTestId("serving-node"), follower);
        await Expect(page.GetByTestId("leader"), leader);

        // The lock, with its holder and fencing token, in the resource's granted queue.
        var holderRow = page.GetByTestId("queues").Locator("tbody tr").Filter(new() { HasText = "granted" });
        await Assertions.Expect(holderRow).ToContainTextAsync(holder, new() { Timeout = (float)Bound.TotalMilliseconds });
        await Assertions.Expect(holderRow).ToContainTextAsync("EX");
        await Assertions.Expect(holderRow).ToContainTextAsync(token.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // A waiter: the graph gets an edge from it to the holder.
        var queued = await LockAsync(api, waiter, "EX", waitMs: 0);
        Assert.Equal("waiting", queued["state"]!.GetValue<string>());
        await Assertions.Expect(page.Locator($"svg [data-edge='{waiter}->{holder}']")).ToHaveCountAsync(1, new() { Timeout = (float)Bound.TotalMilliseconds });
        await Assertions.Expect(page.GetByTestId("queues").Locator("tbody tr").Filter(new() { HasText = "waiting" })).ToContainTextAsync(waiter);
        await Assertions.Expect(page.GetByTestId("sessions")).ToContainTextAsync("holder");

        var screenshot = Path.Combine(BuildOutput.RepositoryRoot, "docs", "images", "status-page.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        output.WriteLine("screenshot: " + screenshot);

        // The leader dies; the page, still served by the follower, names the new leader.
        cluster.Kill(leader);
        var next = await NewLeaderAsync(cluster, leader);
        output.WriteLine($"leader {leader} killed; new leader {next}");
        await Expect(page.GetByTestId("leader"), next);
        await Assertions.Expect(page.GetByTestId("members").Locator("tbody tr").Filter(new() { HasText = leader })).ToContainTextAsync("unreachable", new() { Timeout = (float)Bound.TotalMilliseconds });
    }

    [BrowserFact]
    public async Task With_authentication_on_the_page_asks_for_a_token_and_shows_what_it_may_see()
    {
        const string admin = "page-admin", token = "page-tenant";
        var settings = new Dictionary<string, string> { ["AdminTokens:0"] = admin, ["LockspaceTokens:" + token] = "mine" };
        await using var cluster = await ServerCluster.StartAsync(1, settings, probeToken: admin);
        var node = cluster.Ids[0];
        var api = cluster.Client(node);
        foreach (var ls in new[] { "mine", "theirs" })
        {
            AssertCreated(await RetryAsync(() =>
            {
                var create = new HttpRequestMessage(HttpMethod.Put, $"/v1/lockspaces/{ls}") { Content = JsonContent.Create(new { lvbBytes = 8, lockDelayMs = 0 }) };
                create.Headers.Authorization = new("Bearer", admin);
                return api.SendAsync(create);
            }));
        }

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await Chromium.LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(cluster.HttpUrl(node) + "/ui");
        await Assertions.Expect(page.GetByTestId("token-input")).ToBeVisibleAsync(new() { Timeout = (float)Bound.TotalMilliseconds });
        await Assertions.Expect(page.GetByTestId("error")).ToContainTextAsync("token");

        await page.GetByTestId("token-input").FillAsync(token);
        await page.GetByTestId("token-submit").ClickAsync();
        await Expect(page.GetByTestId("leader"), node);
        await Expect(page.GetByTestId("current-lockspace"), "mine");
        await Assertions.Expect(page.GetByTestId("resources-note")).ToHaveTextAsync("");
        await page.Locator("button[data-lockspace='theirs']").ClickAsync();
        await Assertions.Expect(page.GetByTestId("resources-note")).ToHaveTextAsync("Not permitted with this token.", new() { Timeout = (float)Bound.TotalMilliseconds });
    }

    private static Task Expect(ILocator locator, string text) =>
        Assertions.Expect(locator).ToHaveTextAsync(text, new() { Timeout = (float)Bound.TotalMilliseconds });

    private static async Task<string> NewLeaderAsync(ServerCluster cluster, string old)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline)
        {
            foreach (var id in cluster.RunningIds)
            {
                try
                {
                    var view = await cluster.Client(id).GetFromJsonAsync<JsonObject>("/v1/cluster");
                    if (view?["leaderId"]?.GetValue<string>() is { } leader && leader != old) return leader;
                }
                catch (HttpRequestException)
                {
                    // that node is the dead one, or busy: ask the next
                }
            }
            await Task.Delay(200);
        }
        throw new TimeoutException("no new leader within " + Bound);
    }

    // The first write through a follower may come before it has heard from the new leader (503: nothing applied).
    private static async Task<HttpResponseMessage> RetryAsync(Func<Task<HttpResponseMessage>> send)
    {
        for (var attempt = 0; ; attempt++)
        {
            var reply = await send();
            if (reply.StatusCode != HttpStatusCode.ServiceUnavailable || attempt == 50) return reply;
            await Task.Delay(200);
        }
    }

    private static async Task<string> OpenSessionAsync(HttpClient api, string name)
    {
        var reply = await api.PostAsJsonAsync("/v1/sessions", new { name, ttlMs = 120_000 });
        AssertCreated(reply);
        return (await reply.Content.ReadFromJsonAsync<JsonObject>())!["sessionId"]!.GetValue<string>();
    }

    private static async Task<JsonObject> LockAsync(HttpClient api, string sessionId, string mode, int? waitMs)
    {
        var reply = await api.PostAsJsonAsync("/v1/lockspaces/vol/locks", new { sessionId, resource = "vol-7", mode, waitMs });
        Assert.True(reply.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted, $"{reply.StatusCode}: {await reply.Content.ReadAsStringAsync()}");
        return (await reply.Content.ReadFromJsonAsync<JsonObject>())!;
    }

    private static void AssertCreated(HttpResponseMessage reply) =>
        Assert.True(reply.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, reply.StatusCode.ToString());
}
