namespace RaftDlm.Client;

/// <summary>
/// A call the server refused, or one that could not reach a leader within the retry bounds. <see cref="Code"/>
/// is the contract's error code (<c>InvalidRequest</c>, <c>NotFound</c>, <c>SessionExpired</c>,
/// <c>WouldBlock</c>, <c>Deadlock</c>, <c>Conflict</c>, <c>Unavailable</c>, <c>OutcomeUnknown</c>, ...).
/// </summary>
public class DlmException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DlmException(string code, int status, string message, Exception? inner = null) : base(message, inner)
    {
        Code = code;
        Status = status;
    }

    /// <summary>The contract's error code.</summary>
    public string Code { get; }

    /// <summary>The HTTP status, or 0 when no node answered.</summary>
    public int Status { get; }

    /// <summary>True for <c>WouldBlock</c>: a <c>noQueue</c> request could not be granted now.</summary>
    public bool IsWouldBlock => Code == DlmErrorCodes.WouldBlock;
}

/// <summary>The session is unknown, closed or expired: every lock it held is gone (or orphaned).</summary>
public sealed class SessionExpiredException(string message, Exception? inner = null)
    : DlmException(DlmErrorCodes.SessionExpired, 404, message, inner);

/// <summary>
/// The request waited longer than its <see cref="LockOptions.Timeout"/> and the server cancelled it: no lock
/// was granted (a conversion keeps its old mode).
/// </summary>
public sealed class LockTimeoutException(string message, Exception? inner = null)
    : DlmException(DlmErrorCodes.Timeout, 409, message, inner);

/// <summary>The error codes of the HTTP contract.</summary>
public static class DlmErrorCodes
{
    /// <summary>Malformed request, bad name or mode, LVB of the wrong size, bound exceeded.</summary>
    public const string InvalidRequest = "InvalidRequest";
    /// <summary>The lockspace, lock or resource does not exist.</summary>
    public const string NotFound = "NotFound";
    /// <summary>The session is unknown, closed or expired.</summary>
    public const string SessionExpired = "SessionExpired";
    /// <summary>A <c>noQueue</c> request cannot be granted now.</summary>
    public const string WouldBlock = "WouldBlock";
    /// <summary>The request was chosen as a deadlock victim.</summary>
    public const string Deadlock = "Deadlock";
    /// <summary>The operation does not fit the lock's state.</summary>
    public const string Conflict = "Conflict";
    /// <summary>No leader or quorum within the retry bounds; the call was not applied.</summary>
    public const string Unavailable = "Unavailable";
    /// <summary>The call may or may not have been applied, and retries ran out.</summary>
    public const string OutcomeUnknown = "OutcomeUnknown";
    /// <summary>The request was cancelled (a waiting lock cancelled by an unlock).</summary>
    public const string Cancelled = "Cancelled";
    /// <summary>The request was still queued when its wait timeout passed, and the server cancelled it.</summary>
    public const string Timeout = "Timeout";
}
