using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using RaftDlm.Consensus;
using RaftDlm.HttpApi.Hosting;
using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

/// <summary>What every endpoint does the same way: read a body, propose a command, pass a read barrier, wait.</summary>
internal sealed class Requests(RaftNode node, LockApplier applier, LockProposer proposer, ServerMetrics metrics, ServerOptions options)
{
    /// <summary>The longest a call may wait for a grant or an event (<c>waitMs</c>).</summary>
    public const int MaxWaitMs = 60_000;

    /// <summary>Reads a JSON body; a missing body gives <paramref name="empty"/>, a bad one a 400 or 413 problem.</summary>
    public static async Task<(T? Body, IResult? Problem)> ReadAsync<T>(HttpContext context, T? empty = default)
    {
        var request = context.Request;
        var hasBody = request.ContentLength > 0 || (request.ContentLength is null && request.Headers.TransferEncoding.Count > 0);
        if (!hasBody) return (empty, empty is null ? Problems.Invalid("a JSON body is required") : null);
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, Wire.Json, context.RequestAborted).ConfigureAwait(false);
            return body is null ? (default, Problems.Invalid("the JSON body is null")) : (body, null);
        }
        catch (JsonException error)
        {
            return (default, Problems.Invalid("malformed JSON: " + error.Message));
        }
        catch (BadHttpRequestException error) when (error.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            return (default, Problems.Of(413, "InvalidRequest", $"the body is larger than {limit} bytes"));
        }
    }

    /// <summary>
    /// Proposes on this node; failures become the contract's 503 and 504. A command malformed in itself
    /// (a bad name, mode or flag combination) is refused with 400 before it takes a place in the log.
    /// </summary>
    public async Task<(Result? Result, IResult? Problem)> ProposeAsync(Command command, CancellationToken ct)
    {
        if (CommandShape.Check(command, options.Limits) is { } invalid) return (null, Problems.Invalid(invalid));
        try
        {
            return (await proposer.ProposeAsync(command, ct).ConfigureAwait(false), null);
        }
        catch (NotLeaderException)
        {
            metrics.Unavailable();
            return (null, Problems.Unavailable("this node lost the leadership before proposing; the call was not applied"));
        }
        catch (OutcomeUnknownException error)
        {
            metrics.OutcomeUnknown();
            return (null, Problems.OutcomeUnknown(error.Message));
        }
    }

    /// <summary>A linearizable read waits for the read barrier unless <c>?stale=true</c>.</summary>
    public async Task<IResult?> BarrierAsync(HttpContext context)
    {
        if (string.Equals(context.Request.Query["stale"], "true", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            await node.ReadBarrierAsync(context.RequestAborted).ConfigureAwait(false);
            return null;
        }
        catch (Exception error) when (error is NotLeaderException or OutcomeUnknownException or TimeoutException
            or OperationCanceledException && !context.RequestAborted.IsCancellationRequested)
        {
            metrics.Unavailable();
            return Problems.Unavailable("no leader confirmed the read: " + error.Message);
        }
    }

    /// <summary>
    /// Waits up to <paramref name="waitMs"/> for a queued lock to be granted, woken by the applies that
    /// touch its session. Returns the lock as it is then, or null when it ended without a grant.
    /// </summary>
    public Task<LockView?> WaitForGrantAsync(long sessionId, string lockspace, long lockId, int waitMs, CancellationToken ct) =>
        applier.ReadWhenAsync(sessionId, machine => machine.GetLock(lockspace, lockId),
            view => view is null || view.State is LockViewState.Granted or LockViewState.Orphan, TimeSpan.FromMilliseconds(waitMs), ct);

    /// <summary>Whether the lock's last queued request ended in a timeout (see <see cref="LockMachine.TimedOut"/>).</summary>
    public bool TimedOut(long sessionId, long lockId) => applier.Read(machine => machine.TimedOut(sessionId, lockId));

    /// <summary>
    /// Waits up to <paramref name="waitMs"/> for the session to have an event numbered above
    /// <paramref name="after"/>. Returns the page as it is then, or null when the session does not exist.
    /// </summary>
    public Task<EventPage?> WaitForEventsAsync(long sessionId, long after, int maxEvents, int waitMs, CancellationToken ct) =>
        applier.ReadWhenAsync(sessionId, machine => machine.GetEvents(sessionId, after, maxEvents),
            page => page is null || page.SessionEnded || page.Events.Count > 0, TimeSpan.FromMilliseconds(waitMs), ct);
}
