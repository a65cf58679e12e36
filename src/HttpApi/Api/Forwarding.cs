using System.Net.Sockets;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// Any node accepts any call: a write, or a linearizable read, that reaches a follower is sent on to the
/// leader's HTTP endpoint and its answer relayed (the leader's read barrier is what makes a read
/// linearizable). Reads with <c>?stale=true</c> and <c>/v1/cluster</c> are answered locally. A forwarded
/// request is never forwarded again (a node that is not the leader when it arrives answers 503), so
/// elections cannot make requests loop.
/// </summary>
internal sealed partial class Forwarding(RaftNode node, LeaderWatch leaders, ServerOptions options, ServerMetrics metrics, ILogger<Forwarding> logger)
{
    public const string ForwardedHeader = "X-RaftDlm-Forwarded";

    private readonly HttpClient _client = new(TlsFiles.TrustPeers(new SocketsHttpHandler
    {
        UseProxy = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxConnectionsPerServer = 512,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    }, options))
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    // An answer that takes longer is given up (504): the longest wait a call may ask for, and a margin. Adding
    // a member waits for it to catch up, as long as its timeoutMs.
    private static readonly TimeSpan RelayTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan MembershipRelayTimeout = TimeSpan.FromMilliseconds(MembershipEndpoints.MaxAddTimeoutMs) + RelayTimeout;

    public Task InvokeAsync(HttpContext context, RequestDelegate next) =>
        // The leader's own calls and the local reads go straight on, without a state machine of this method's.
        !ForLeader(context.Request) || node.IsLeader ? next(context) : ForwardAsync(context, next);

    private async Task ForwardAsync(HttpContext context, RequestDelegate next)
    {
        if (node.Membership != MembershipState.Member)
        {
            // Its view of the leader may be stale: a removed (or not yet added) node sends nothing on.
            metrics.Unavailable();
            await Problems.Unavailable(node.Membership == MembershipState.Removed
                ? "this node was removed from the cluster; send the call to a member"
                : "this node is joining the cluster; send the call to a member").ExecuteAsync(context);
            return;
        }
        if (context.Request.Headers.ContainsKey(ForwardedHeader))
        {
            metrics.Unavailable();
            await Problems.Unavailable("this node is not the leader any more; the call was not applied").ExecuteAsync(context);
            return;
        }
        var leader = await leaders.WaitForLeaderAsync(TimeSpan.FromMilliseconds(options.LeaderWaitMs), context.RequestAborted);
        if (leader is null || leader.Id == options.NodeId)
        {
            if (node.IsLeader)
            {
                await next(context);
                return;
            }
            metrics.Unavailable();
            await Problems.Unavailable("no leader is known; the call was not applied").ExecuteAsync(context);
            return;
        }
        metrics.Forwarded();
        await RelayAsync(context, leader);
    }

    /// <summary>Everything under /v1 but this node's own cluster views and reads that accept stale data; membership changes are the leader's.</summary>
    private static bool ForLeader(HttpRequest request)
    {
        if (IsMembershipChange(request)) return true;
        if (!request.Path.StartsWithSegments("/v1") || request.Path.StartsWithSegments("/v1/cluster")) return false;
        var read = HttpMethods.IsGet(request.Method) || request.Path.StartsWithSegments("/v1/fence");
        return !read || !string.Equals(request.Query["stale"], "true", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsMembershipChange(HttpRequest request) =>
        request.Path.StartsWithSegments("/v1/cluster/members") && !HttpMethods.IsGet(request.Method);

    private async Task RelayAsync(HttpContext context, RaftMember leader)
    {
        // The raw request target, not Path: Path is decoded once already (all but %2F), so re-encoding it would
        // turn a resource named "a%2Fb" into "a/b" on the leader.
        var raw = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget;
        var pathAndQuery = raw is { Length: > 0 } && raw[0] == '/' ? raw : context.Request.Path + context.Request.QueryString;
        var target = new Uri(leader.HttpEndpoint.TrimEnd('/') + pathAndQuery);
        if (context.Request.ContentLength > options.MaxRequestBodyBytes)
        {
            // Refused here as the leader would refuse it; relaying it would fail while copying the body.
            await TooLarge().ExecuteAsync(context);
            return;
        }
        using var message = new HttpRequestMessage(new HttpMethod(context.Request.Method), target);
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            message.Content = new StreamContent(context.Request.Body);
            if (context.Request.ContentType is { } type) message.Content.Headers.TryAddWithoutValidation("Content-Type", type);
        }
        if (context.Request.Headers.Authorization.Count > 0) message.Headers.TryAddWithoutValidation("Authorization", context.Request.Headers.Authorization.ToString());
        message.Headers.TryAddWithoutValidation(ForwardedHeader, options.NodeId);

        HttpResponseMessage response;
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            bounded.CancelAfter(IsMembershipChange(context.Request) ? MembershipRelayTimeout : RelayTimeout);
            response = await _client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, bounded.Token);
        }
        catch (Exception error) when (error.GetBaseException() is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge })
        {
            // A chunked body that grew past the limit: the leader never got a whole request, so nothing was applied.
            await TooLarge().ExecuteAsync(context);
            return;
        }
        catch (HttpRequestException error) when (error.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
        {
            LogForwardFailed(leader.Id, error.Message);
            metrics.Unavailable();
            await Problems.Unavailable($"the leader {leader.Id} refused the connection; the call was not applied").ExecuteAsync(context);
            return;
        }
        catch (HttpRequestException error) when (error.InnerException is System.Security.Authentication.AuthenticationException)
        {
            // The TLS handshake failed (the leader's certificate is not trusted here), so nothing was sent.
            LogForwardFailed(leader.Id, error.InnerException.Message);
            metrics.Unavailable();
            await Problems.Unavailable($"the leader {leader.Id}'s certificate was refused; the call was not applied").ExecuteAsync(context);
            return;
        }
        catch (Exception error) when (error is HttpRequestException or TaskCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            LogForwardFailed(leader.Id, error.Message);
            metrics.OutcomeUnknown();
            await Problems.OutcomeUnknown($"the call was sent to the leader {leader.Id} but no answer came").ExecuteAsync(context);
            return;
        }
        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            if (response.Content.Headers.ContentType is { } contentType) context.Response.ContentType = contentType.ToString();
            if (response.Headers.RetryAfter is { } retryAfter) context.Response.Headers.RetryAfter = retryAfter.ToString();
            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
    }

    private IResult TooLarge() => Problems.Of(413, "InvalidRequest", $"the body is larger than {options.MaxRequestBodyBytes} bytes");

    [LoggerMessage(EventId = 2300, Level = LogLevel.Warning, Message = "Forwarding to leader {LeaderId} failed: {Reason}")]
    private partial void LogForwardFailed(string leaderId, string reason);
}
