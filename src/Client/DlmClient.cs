using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RaftDlm.Client;

/// <summary>
/// The Raft DLM's HTTP contract, spoken to a list of nodes. Any node accepts any call: on a refused
/// connection, a timeout or <c>503 Unavailable</c> the next node is tried, with jittered exponential
/// backoff once every node has been tried. <c>504 OutcomeUnknown</c> is retried with the same body, so a
/// mutating call keeps its request id and the server answers a retry with the first reply. Every retry
/// loop is bounded by <see cref="DlmClientOptions.MaxAttempts"/> and <see cref="DlmClientOptions.RetryBudget"/>.
/// One <see cref="HttpClient"/> is shared by every call; the instance is thread-safe.
/// </summary>
public sealed partial class DlmClient : IAsyncDisposable, IDisposable
{
    private readonly HttpClient _http;
    private readonly string[] _endpoints;
    private readonly ILogger _logger;
    private int _preferred;

    /// <summary>Creates a client. <paramref name="handler"/> replaces the default socket handler (tests count requests with one).</summary>
    public DlmClient(DlmClientOptions options, ILogger<DlmClient>? logger = null, HttpMessageHandler? handler = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _endpoints = options.Endpoints.Select(endpoint => endpoint.Trim().TrimEnd('/')).Where(endpoint => endpoint.Length > 0).ToArray();
        if (_endpoints.Length == 0) throw new ArgumentException("at least one endpoint is needed", nameof(options));
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _http = new HttpClient(handler ?? TrustedCa.Apply(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
            MaxConnectionsPerServer = 64,
        }, options))
        {
            // Each attempt carries its own timeout; the client-wide one would cut long-polls short.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (options.BearerToken is { Length: > 0 } token) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Metrics = new DlmClientMetrics(options.Name);
        // Spread clients over the nodes; a client sticks to the node that last answered.
        _preferred = Random.Shared.Next(_endpoints.Length);
    }

    /// <summary>The options this client was made with.</summary>
    public DlmClientOptions Options { get; }

    /// <summary>This client's counters (also published on the <c>RaftDlm.Client</c> meter).</summary>
    public DlmClientMetrics Metrics { get; }

    /// <summary>The endpoints, in the order given.</summary>
    public IReadOnlyList<string> Endpoints => _endpoints;

    internal ILogger Logger => _logger;

    /// <summary>Opens a session and starts its keep-alives and event pump.</summary>
    public async Task<DlmSession> OpenSessionAsync(DlmSessionOptions? options = null, CancellationToken ct = default)
    {
        options ??= new DlmSessionOptions();
        options.LeaseMarginFor(options.Ttl); // refuses a margin the TTL cannot hold before anything is opened
        var body = new OpenSessionBody(options.Name, (int)options.Ttl.TotalMilliseconds);
        // The lease counts from the first attempt's send: a retried open may have been applied by an earlier one.
        var sent = Stopwatch.GetTimestamp();
        var reply = await SendAsync(new Call(HttpMethod.Post, "/v1/sessions", body, "open-session"), ct).ConfigureAwait(false);
        var opened = reply.Read<SessionOpened>();
        LogSessionOpened(opened.SessionId, opened.TtlMs);
        return DlmSession.Start(this, opened.SessionId, TimeSpan.FromMilliseconds(opened.TtlMs), options, sent);
    }

    /// <summary>Opens a session with a name and a time to live.</summary>
    public Task<DlmSession> OpenSessionAsync(string name, TimeSpan ttl, CancellationToken ct = default) =>
        OpenSessionAsync(new DlmSessionOptions { Name = name, Ttl = ttl }, ct);

    /// <summary>Creates a lockspace; true when it was created, false when it existed with the same settings.</summary>
    public async Task<bool> CreateLockspaceAsync(string name, int lvbBytes = 32, int lockDelayMs = 0, CancellationToken ct = default)
    {
        var reply = await SendAsync(new Call(HttpMethod.Put, "/v1/lockspaces/" + Uri.EscapeDataString(name), new LockspaceRequestBody(lvbBytes, lockDelayMs), "create-lockspace"), ct).ConfigureAwait(false);
        return reply.Status == 201;
    }

    /// <summary>Deletes a lockspace (with <paramref name="force"/>, even while it holds locks).</summary>
    public Task DeleteLockspaceAsync(string name, bool force = false, CancellationToken ct = default) =>
        SendAsync(new Call(HttpMethod.Delete, $"/v1/lockspaces/{Uri.EscapeDataString(name)}{(force ? "?force=true" : "")}", null, "delete-lockspace"), ct);

    /// <summary>Every lockspace.</summary>
    public async Task<IReadOnlyList<LockspaceInfo>> GetLockspacesAsync(CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, "/v1/lockspaces", null, "lockspaces"), ct).ConfigureAwait(false)).Read<LockspacesReply>().Lockspaces;

    /// <summary>
    /// An operator's conversion of a lock by id (the lock's own session keeps it; <paramref name="lvb"/> is written on
    /// a conversion down from PW or EX). Answers the lock as the server shows it: granted in the new mode, or still
    /// converting after <see cref="DlmClientOptions.LockWait"/>.
    /// </summary>
    public async Task<LockInfo> ConvertLockAsync(string lockspace, string lockId, LockMode mode, byte[]? lvb = null, CancellationToken ct = default)
    {
        var body = new ConvertRequestBody(mode.ToString(), WireJson.Base64(lvb), null, (int)Options.LockWait.TotalMilliseconds, 0, null);
        var call = new Call(HttpMethod.Post, LockPath(lockspace, lockId) + "/convert", body, "convert") { AttemptTimeout = Options.LockWait + Options.RequestTimeout };
        return (await SendAsync(call, ct).ConfigureAwait(false)).Read<LockInfo>();
    }

    /// <summary>Gives an orphan held in exactly <paramref name="mode"/> on a top-level resource to the session <paramref name="sessionId"/>.</summary>
    public async Task<LockInfo> AdoptOrphanAsync(string sessionId, string lockspace, string resource, LockMode mode, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Post, $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/orphans/adopt", new AdoptRequestBody(sessionId, resource, mode.ToString(), 0), "adopt"), ct).ConfigureAwait(false)).Read<LockInfo>();

    /// <summary>Releases every orphan on a top-level resource (an admin's call when authentication is on).</summary>
    public Task PurgeOrphansAsync(string lockspace, string resource, CancellationToken ct = default) =>
        SendAsync(new Call(HttpMethod.Delete, $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/orphans?resource={Uri.EscapeDataString(resource)}", null, "purge"), ct);

    /// <summary>One page of sessions, by id, after the cursor <paramref name="after"/> (null: from the start).</summary>
    public async Task<SessionsPage> ListSessionsAsync(string? after = null, int limit = 100, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, $"/v1/sessions?limit={limit}{(after is null ? "" : "&after=" + Uri.EscapeDataString(after))}", null, "list-sessions"), ct).ConfigureAwait(false)).Read<SessionsPage>();

    /// <summary>One page of a lockspace's resources that hold locks, by name.</summary>
    public async Task<ResourcesPage> ListResourcesAsync(string lockspace, string? prefix = null, string? after = null, int limit = 100, CancellationToken ct = default)
    {
        var query = $"?limit={limit}{(prefix is null ? "" : "&prefix=" + Uri.EscapeDataString(prefix))}{(after is null ? "" : "&after=" + Uri.EscapeDataString(after))}";
        return (await SendAsync(new Call(HttpMethod.Get, $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/resources{query}", null, "list-resources"), ct).ConfigureAwait(false)).Read<ResourcesPage>();
    }

    /// <summary>A lockspace's wait-for graph.</summary>
    public async Task<WaitForGraph> GetWaitForAsync(string lockspace, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/waitfor", null, "waitfor"), ct).ConfigureAwait(false)).Read<WaitForGraph>();

    /// <summary>A resource's LVB and queues, or null when no lock exists on it.</summary>
    public async Task<ResourceInfo?> GetResourceAsync(string lockspace, string resource, CancellationToken ct = default)
    {
        try
        {
            var path = $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/resources/{Uri.EscapeDataString(resource)}";
            return (await SendAsync(new Call(HttpMethod.Get, path, null, "resource"), ct).ConfigureAwait(false)).Read<ResourceInfo>();
        }
        catch (DlmException error) when (error.Code == DlmErrorCodes.NotFound && error.Message.StartsWith("no lock exists", StringComparison.Ordinal))
        {
            return null;
        }
    }

    /// <summary>A lock as the server shows it.</summary>
    public async Task<LockInfo> GetLockAsync(string lockspace, string lockId, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, LockPath(lockspace, lockId), null, "get-lock"), ct).ConfigureAwait(false)).Read<LockInfo>();

    /// <summary>A session and its locks.</summary>
    public async Task<SessionInfo> GetSessionAsync(string sessionId, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, "/v1/sessions/" + Uri.EscapeDataString(sessionId), null, "get-session"), ct).ConfigureAwait(false)).Read<SessionInfo>();

    /// <summary>Closes a session by id (its non-persistent locks are released).</summary>
    public Task CloseSessionAsync(string sessionId, CancellationToken ct = default) =>
        SendAsync(new Call(HttpMethod.Delete, "/v1/sessions/" + Uri.EscapeDataString(sessionId), null, "close-session"), ct);

    /// <summary>True while a lock with that fencing token is granted on the resource in a mode covering <paramref name="mode"/>.</summary>
    public async Task<bool> CheckFenceAsync(string lockspace, string resource, long fencingToken, LockMode mode, CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Post, "/v1/fence/check", new FenceRequestBody(lockspace, resource, fencingToken, mode.ToString()), "fence"), ct).ConfigureAwait(false))
            .Read<FenceReply>().Valid;

    /// <summary>The cluster as some node sees it.</summary>
    public async Task<ClusterInfo> GetClusterAsync(CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, "/v1/cluster", null, "cluster"), ct).ConfigureAwait(false)).Read<ClusterInfo>();

    /// <summary>The cluster as one given endpoint sees it (no retry on other nodes).</summary>
    public async Task<ClusterInfo> GetClusterFromAsync(string endpoint, CancellationToken ct = default)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(Options.RequestTimeout);
        Metrics.Request("cluster");
        using var response = await _http.GetAsync(endpoint.TrimEnd('/') + "/v1/cluster", timeout.Token).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
        var reply = new Reply((int)response.StatusCode, text);
        return reply.Read<ClusterInfo>();
    }

    /// <inheritdoc/>
    public void Dispose() => _http.Dispose();

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    internal static string LockPath(string lockspace, string lockId) =>
        $"/v1/lockspaces/{Uri.EscapeDataString(lockspace)}/locks/{Uri.EscapeDataString(lockId)}";

    // Sends one call, moving over the nodes until one gives an answer that is not 503/504 or a transport
    // failure. Answers of 2xx come back; other answers become DlmException.
    internal async Task<Reply> SendAsync(Call call, CancellationToken ct)
    {
        var payload = call.Body is null ? null : JsonSerializer.Serialize(call.Body, call.Body.GetType(), WireJson.Options);
        var attemptTimeout = call.AttemptTimeout ?? Options.RequestTimeout;
        var budget = call.Budget ?? Options.RetryBudget;
        var maxAttempts = Math.Max(1, call.MaxAttempts ?? Options.MaxAttempts);
        var started = Stopwatch.GetTimestamp();
        var backoff = Options.InitialBackoff;
        var sawOutcomeUnknown = false;
        string lastFailure = "";
        for (var attempt = 1; ; attempt++)
        {
            ct.ThrowIfCancellationRequested();
            var index = Volatile.Read(ref _preferred);
            var endpoint = _endpoints[(index & int.MaxValue) % _endpoints.Length];
            Metrics.Request(call.Operation);
            if (attempt > 1)
            {
                Metrics.Retry(call.Operation);
                call.Retrying?.Invoke();
            }
            bool unknown;
            try
            {
                using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attemptCts.CancelAfter(attemptTimeout);
                using var request = new HttpRequestMessage(call.Method, endpoint + call.Path);
                if (payload is not null) request.Content = new StringContent(payload, Encoding.UTF8, "application/json");
                using var response = await _http.SendAsync(request, attemptCts.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(attemptCts.Token).ConfigureAwait(false);
                var status = (int)response.StatusCode;
                if (status is not (503 or 504 or 502 or 429))
                {
                    var reply = new Reply(status, text);
                    if (status >= 300) throw reply.Error();
                    return reply;
                }
                unknown = status is 504 or 502;
                lastFailure = $"{endpoint} answered {status}: {Problem(text)}";
            }
            catch (HttpRequestException error)
            {
                // A refused connection never reached a server; a reset after sending might have.
                unknown = call.Method != HttpMethod.Get && error.HttpRequestError != HttpRequestError.ConnectionError;
                lastFailure = $"{endpoint}: {error.Message}";
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                unknown = call.Method != HttpMethod.Get;
                lastFailure = $"{endpoint}: no answer within {attemptTimeout.TotalMilliseconds:0} ms";
            }
            sawOutcomeUnknown |= unknown;
            if (unknown && !call.RetryUnknown)
            {
                LogGaveUp(call.Operation, attempt, lastFailure);
                throw new DlmException(DlmErrorCodes.OutcomeUnknown, 504, $"{call.Operation}: the outcome is unknown (it may have been applied) and the call is not repeated; last: {lastFailure}");
            }
            // The next attempt goes to the next node, unless another call has moved on already.
            Interlocked.CompareExchange(ref _preferred, index + 1, index);
            var elapsed = Stopwatch.GetElapsedTime(started);
            if (attempt >= maxAttempts || elapsed >= budget)
            {
                LogGaveUp(call.Operation, attempt, lastFailure);
                var code = sawOutcomeUnknown ? DlmErrorCodes.OutcomeUnknown : DlmErrorCodes.Unavailable;
                throw new DlmException(code, sawOutcomeUnknown ? 504 : 503, $"{call.Operation}: no node answered within {attempt} attempts and {elapsed.TotalMilliseconds:0} ms; last: {lastFailure}");
            }
            LogRetrying(call.Operation, attempt, lastFailure);
            // Try every node once without waiting; after a full round, back off with full jitter.
            if (attempt % _endpoints.Length == 0)
            {
                var delay = TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * backoff.TotalMilliseconds);
                var left = budget - elapsed;
                await Task.Delay(delay < left ? delay : left, ct).ConfigureAwait(false);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, Options.MaxBackoff.Ticks));
            }
        }
    }

    private static string Problem(string text)
    {
        try
        {
            return JsonSerializer.Deserialize<ProblemReply>(text, WireJson.Options)?.Detail ?? text;
        }
        catch (JsonException)
        {
            return text;
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Debug, Message = "{Operation}: attempt {Attempt} failed ({Failure}); retrying")]
    private partial void LogRetrying(string operation, int attempt, string failure);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "{Operation}: giving up after {Attempts} attempts; last failure: {Failure}")]
    private partial void LogGaveUp(string operation, int attempts, string failure);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Session {SessionId} opened with a TTL of {TtlMs} ms")]
    private partial void LogSessionOpened(string sessionId, int ttlMs);
}

// One logical call: its path, body and retry bounds.
internal sealed record Call(HttpMethod Method, string Path, object? Body, string Operation)
{
    public TimeSpan? AttemptTimeout { get; init; }
    public TimeSpan? Budget { get; init; }
    public int? MaxAttempts { get; init; }

    /// <summary>False for a call that must not be sent again once it may have been applied (a membership change).</summary>
    public bool RetryUnknown { get; init; } = true;

    /// <summary>Called before each attempt after the first.</summary>
    public Action? Retrying { get; init; }
}

// A server's answer.
internal readonly record struct Reply(int Status, string Body)
{
    public T Read<T>() => JsonSerializer.Deserialize<T>(Body, WireJson.Options)
        ?? throw new DlmException(DlmErrorCodes.InvalidRequest, Status, "the server answered an empty body");

    public DlmException Error()
    {
        ProblemReply? problem = null;
        try
        {
            problem = Body.Length == 0 ? null : JsonSerializer.Deserialize<ProblemReply>(Body, WireJson.Options);
        }
        catch (JsonException)
        {
        }
        var code = problem?.Code ?? (Status == (int)HttpStatusCode.NotFound ? DlmErrorCodes.NotFound : "Http" + Status);
        var message = problem?.Detail ?? problem?.Title ?? $"HTTP {Status}";
        return code switch
        {
            DlmErrorCodes.SessionExpired => new SessionExpiredException(message),
            DlmErrorCodes.Timeout => new LockTimeoutException(message),
            _ => new DlmException(code, Status, message),
        };
    }
}
