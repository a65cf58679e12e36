using System.Security.Cryptography;
using System.Text;
using RaftDlm.HttpApi.Hosting;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// Bearer-token access, on when any token is configured. An admin token may do everything. A lockspace
/// token may use sessions, read the cluster and the lockspace list, and act on locks, resources and
/// fencing checks of its own lockspaces; creating or deleting lockspaces and purging orphans are for
/// admins. A session belongs to the lockspace token that opened it (its principal, recorded in the log):
/// another lockspace token is answered about it, and about its locks and events, exactly as if they did not
/// exist. Admins may act on every session.
/// </summary>
internal static class Auth
{
    private const string AccessKey = "raftdlm.access";
    private const string CallerKey = "raftdlm.caller";

    public static Func<RequestDelegate, RequestDelegate> Middleware(ServerOptions options)
    {
        var admins = options.AdminTokens.ToHashSet(StringComparer.Ordinal);
        var scoped = options.LockspaceTokens.ToDictionary(
            entry => entry.Key,
            entry => entry.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToHashSet(StringComparer.Ordinal),
            StringComparer.Ordinal);
        var principals = options.LockspaceTokens.Keys.ToDictionary(token => token, Principal, StringComparer.Ordinal);
        return next => context =>
        {
            if (!options.AuthEnabled || !context.Request.Path.StartsWithSegments("/v1"))
            {
                return next(context);
            }
            var token = BearerToken(context.Request) ?? "";
            if (admins.Contains(token))
            {
                return next(context);
            }
            if (!scoped.TryGetValue(token, out var allowed))
            {
                return Problems.Of(401, "Unauthorized", "a valid bearer token is required").ExecuteAsync(context);
            }
            context.Items[AccessKey] = allowed;
            context.Items[CallerKey] = principals[token];
            return Denied(context.Request, allowed) is { } reason ? Problems.Of(403, "Forbidden", reason).ExecuteAsync(context) : next(context);
        };
    }

    /// <summary>Whether the caller may act on <paramref name="lockspace"/> (always, with auth off or an admin token).</summary>
    public static bool MayUse(HttpContext context, string lockspace) =>
        context.Items[AccessKey] is not HashSet<string> allowed || allowed.Contains(lockspace);

    /// <summary>
    /// The principal the request acts as, recorded as a session's owner and checked on every command of a
    /// session: null with authentication off or an admin token (any session), else the lockspace token's.
    /// </summary>
    public static string? Caller(HttpContext context) => context.Items[CallerKey] as string;

    /// <summary>Whether the caller may see and act on the session (false for an unknown session too).</summary>
    public static bool MayActOn(HttpContext context, LockApplier applier, long sessionId)
    {
        var caller = Caller(context);
        return applier.Read(machine => machine.SessionPermits(sessionId, caller));
    }

    /// <summary>
    /// The lockspace token a request's quotas are kept under, or null (authentication off, an admin token, or
    /// no valid token: the request is refused or unbounded by quotas).
    /// </summary>
    public static string? QuotaPartition(HttpContext context, ServerOptions options)
    {
        if (!options.AuthEnabled || BearerToken(context.Request) is not { } token) return null;
        return options.LockspaceTokens.ContainsKey(token) && !options.AdminTokens.Contains(token, StringComparer.Ordinal) ? token : null;
    }

    /// <summary>
    /// The answer when the caller's token may not open one more session (<paramref name="locks"/> false) or
    /// take one more lock: its live sessions or their locks reached the token's quota. Judged on this node's
    /// table before proposing, so requests in flight at once may pass it together.
    /// </summary>
    public static IResult? OverQuota(HttpContext context, LockApplier applier, ServerOptions options, bool locks)
    {
        if (Caller(context) is not { } caller) return null;
        var bound = locks ? options.TokenMaxLocks : options.TokenMaxSessions;
        if (bound <= 0) return null;
        var (sessions, held) = applier.Read(machine => machine.OwnerUsage(caller));
        var used = locks ? held : sessions;
        if (used < bound) return null;
        return Problems.QuotaExceeded(locks
            ? $"the token's sessions own {used} locks; its quota is {bound}"
            : $"the token has {used} live sessions; its quota is {bound}");
    }

    // The token of an "Authorization: Bearer <token>" header, or null.
    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.Ordinal) ? header["Bearer ".Length..].Trim() : null;
    }

    // A token's principal: a name derived from the token that does not reveal it (the log keeps it forever).
    private static string Principal(string token) =>
        "token:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)))[..16];

    public static IResult Forbidden(string lockspace) => Problems.Of(403, "Forbidden", $"the token has no right on lockspace '{lockspace}'");

    private static string? Denied(HttpRequest request, HashSet<string> allowed)
    {
        var segments = request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments is [_, "cluster", "snapshot", ..]) return "reading a snapshot needs an admin token";
        if (segments is [_, "cluster", "members", ..] && request.Method != "GET") return "changing the membership needs an admin token";
        if (segments is [_, "snapshot", ..]) return "taking a backup snapshot needs an admin token";
        if (segments.Length < 3 || segments[1] != "lockspaces") return null;
        var lockspace = Uri.UnescapeDataString(segments[2]);
        if (segments.Length == 3) return request.Method == "GET" ? null : "creating or deleting a lockspace needs an admin token";
        if (segments[3] == "orphans" && segments.Length == 4 && request.Method == "DELETE") return "purging orphans needs an admin token";
        return allowed.Contains(lockspace) ? null : $"the token has no right on lockspace '{lockspace}'";
    }
}
