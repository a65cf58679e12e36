namespace RaftDlm.Client;

// The cluster's membership at run time (docs/api.md, "Cluster and operations"): list, add, remove.
public sealed partial class DlmClient
{
    /// <summary>How long the server lets a new member catch up when the call gives no timeout.</summary>
    public static readonly TimeSpan DefaultAddMemberTimeout = TimeSpan.FromMinutes(5);

    /// <summary>The longest catch-up time a member add may ask for (the server's bound).</summary>
    public static readonly TimeSpan MaxAddMemberTimeout = TimeSpan.FromHours(1);

    /// <summary>The cluster's members as the node that answers has applied them, sorted by id.</summary>
    public async Task<IReadOnlyList<ClusterMember>> ListMembersAsync(CancellationToken ct = default) =>
        (await SendAsync(new Call(HttpMethod.Get, "/v1/cluster/members", null, "list-members"), ct).ConfigureAwait(false)).Read<MembersReply>().Members;

    /// <summary>
    /// Adds a member (an admin's call when authentication is on). The node must be running with an empty data
    /// directory, waiting to be added (started with <c>--join</c>). The leader catches it up as a learner, then
    /// makes it a voter; the call answers once it votes. <paramref name="timeout"/> bounds the catch-up (the
    /// server's default, 5 minutes, when null); when it passes the member is not added and the call fails with
    /// <see cref="DlmException"/> code <c>Timeout</c>. An id or address already taken, or another membership change
    /// in progress: code <c>Conflict</c>. A membership change is not retried once it may have reached the leader:
    /// such a failure is <c>OutcomeUnknown</c>, and <see cref="ListMembersAsync"/> tells what happened.
    /// </summary>
    public async Task<ClusterMember> AddMemberAsync(string id, string raftEndpoint, string httpUrl, TimeSpan? timeout = null, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(raftEndpoint);
        ArgumentException.ThrowIfNullOrWhiteSpace(httpUrl);
        if (timeout is { } given && (given < TimeSpan.FromMilliseconds(1) || given > MaxAddMemberTimeout))
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, $"the catch-up timeout must be between 1 ms and {MaxAddMemberTimeout}");
        }
        var body = new AddMemberBody(id, raftEndpoint, httpUrl, timeout is { } ms ? (int)Math.Ceiling(ms.TotalMilliseconds) : null);
        var wait = (timeout ?? DefaultAddMemberTimeout) + Options.RequestTimeout;
        var call = new Call(HttpMethod.Post, "/v1/cluster/members", body, "add-member")
        {
            AttemptTimeout = wait,
            Budget = wait + Options.RetryBudget,
            RetryUnknown = false,
        };
        try
        {
            return (await SendAsync(call, ct).ConfigureAwait(false)).Read<ClusterMember>();
        }
        catch (LockTimeoutException error)
        {
            // The contract's Timeout code: here the new member did not catch up in time (it was not added).
            throw new DlmException(DlmErrorCodes.Timeout, error.Status, error.Message, error);
        }
    }

    /// <summary>
    /// Removes the member with that id (an admin's call when authentication is on); the leader too, which hands
    /// over leadership first. Answers the removed member. No such member: code <c>NotFound</c>; the last member,
    /// or another membership change in progress: <c>Conflict</c>. Not retried once it may have reached the leader
    /// (see <see cref="AddMemberAsync"/>). A removal retried after <c>503</c> that then answers <c>NotFound</c> was
    /// made by an earlier attempt (a leader that removes itself may answer 503 after the change): it answers the
    /// member as listed before the call, with status <c>removed</c>.
    /// </summary>
    public async Task<ClusterMember> RemoveMemberAsync(string id, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        var before = (await ListMembersAsync(ct).ConfigureAwait(false)).FirstOrDefault(member => member.Id == id);
        var retried = false;
        var call = new Call(HttpMethod.Delete, "/v1/cluster/members/" + Uri.EscapeDataString(id), null, "remove-member")
        {
            AttemptTimeout = Options.RequestTimeout + Options.RequestTimeout,
            RetryUnknown = false,
            Retrying = () => retried = true,
        };
        try
        {
            return (await SendAsync(call, ct).ConfigureAwait(false)).Read<ClusterMember>();
        }
        catch (DlmException error) when (error.Code == DlmErrorCodes.NotFound && retried && before is not null)
        {
            return before with { Status = "removed" };
        }
    }
}

/// <summary>
/// A member of the cluster's membership: <c>Role</c> is <c>voter</c>, or <c>learner</c> while it is being caught up
/// (shown by the leader only); <c>Status</c> is <c>leader</c>, <c>follower</c>, <c>catching-up</c>,
/// <c>unavailable</c> or <c>unknown</c> as the answering node sees it (<c>removed</c> in the answer to a remove).
/// </summary>
public sealed record ClusterMember(string Id, string RaftEndpoint, string HttpUrl, string Role, string Status);

internal sealed record MembersReply(List<ClusterMember> Members);

internal sealed record AddMemberBody(string Id, string RaftEndpoint, string HttpUrl, int? TimeoutMs);
