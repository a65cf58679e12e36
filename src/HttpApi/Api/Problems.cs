using RaftDlm.LockStateMachine;

namespace RaftDlm.HttpApi.Api;

/// <summary>RFC 9457 problem responses with the contract's extra <c>code</c> field.</summary>
internal static class Problems
{
    public const string ContentType = "application/problem+json";

    public static IResult Of(int status, string code, string detail) => Results.Json(
        new ProblemJson("urn:raft-dlm:problem:" + code, Title(code), status, detail, code),
        Wire.Json,
        ContentType,
        status);

    public static IResult Invalid(string detail) => Of(400, "InvalidRequest", detail);

    public static IResult SessionExpired(string? sessionId) => Of(404, "SessionExpired", $"session '{sessionId}' is unknown, closed or expired");

    public static IResult NotFound(string detail) => Of(404, "NotFound", detail);

    public static IResult OutcomeUnknown(string detail) => Of(504, "OutcomeUnknown", detail + "; retry with the same requestId");

    public static IResult Unavailable(string detail) => new RetryLater(503, "Unavailable", detail);

    /// <summary>429 with Retry-After: a token's quota is used up; nothing was applied.</summary>
    public static IResult QuotaExceeded(string detail) => new RetryLater(429, "QuotaExceeded", detail);

    /// <summary>429 with Retry-After: a request rate bound was exceeded.</summary>
    public static IResult TooManyRequests(string detail) => new RetryLater(429, "TooManyRequests", detail);

    public static IResult From(ErrorResult error) => error.Code switch
    {
        ErrorCode.InvalidRequest => Of(400, "InvalidRequest", error.Message),
        ErrorCode.NotFound => Of(404, "NotFound", error.Message),
        ErrorCode.SessionExpired => Of(404, "SessionExpired", error.Message),
        ErrorCode.WouldBlock => Of(409, "WouldBlock", error.Message),
        ErrorCode.Deadlock => Of(409, "Deadlock", error.Message),
        _ => Of(409, "Conflict", error.Message),
    };

    private static string Title(string code) => code switch
    {
        "InvalidRequest" => "The request is not valid",
        "Unauthorized" => "A valid bearer token is needed",
        "Forbidden" => "The token has no right to do this",
        "NotFound" => "Not found",
        "SessionExpired" => "The session is unknown, closed or expired",
        "WouldBlock" => "The lock cannot be granted now",
        "Deadlock" => "The request was chosen as a deadlock victim",
        "Timeout" => "The request waited past its timeoutMs and was cancelled",
        "Conflict" => "The operation does not fit the lock's state",
        "Unavailable" => "No leader or quorum: the call was not applied",
        "OutcomeUnknown" => "The call was proposed but its fate is unknown",
        "TooManyRequests" => "Too many requests",
        "QuotaExceeded" => "The token's quota is used up",
        _ => code,
    };

    /// <summary>A problem with Retry-After (one second): definitely not applied, worth retrying later.</summary>
    private sealed class RetryLater(int status, string code, string detail) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = "1";
            return Of(status, code, detail).ExecuteAsync(httpContext);
        }
    }
}
