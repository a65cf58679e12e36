using System.Net;
using DotNext.Net.Cluster.Consensus.Raft;
using DotNext.Net.Cluster.Consensus.Raft.Membership;
using Microsoft.Extensions.Logging;
using DotNextNotLeaderException = DotNext.Net.Cluster.Consensus.Raft.NotLeaderException;

namespace RaftDlm.Consensus;

/// <summary>How this node stands in the cluster's membership.</summary>
public enum MembershipState
{
    /// <summary>A voter of the membership this node has applied.</summary>
    Member,

    /// <summary>Started to join an existing cluster and not added yet: it neither votes nor stands for election.</summary>
    Joining,

    /// <summary>Not in the membership any more (removed, or never readmitted): it neither votes nor serves writes.</summary>
    Removed,
}

/// <summary>One member as this node sees it.</summary>
/// <param name="Role">"voter", or "learner" for a node being caught up before it is added (seen on the leader only).</param>
/// <param name="Status">"leader", "follower", "catching-up", "unavailable" or "unknown" (reachability as seen from here).</param>
public sealed record MemberView(RaftMember Member, string Role, string Status);

/// <summary>Why a membership change was refused or failed.</summary>
public enum MembershipError
{
    /// <summary>The id or address is taken by another member, another change is in progress, or the change would leave no member.</summary>
    Conflict,

    /// <summary>No member has that id.</summary>
    NotFound,

    /// <summary>The new member did not catch up within the time given; it was not added (or was removed again).</summary>
    CatchUpTimedOut,
}

/// <summary>A membership change was refused or failed; nothing was changed (see <see cref="Error"/>).</summary>
public sealed class MembershipException(MembershipError error, string message, Exception? innerException = null)
    : Exception(message, innerException)
{
    public MembershipError Error { get; } = error;
}

public sealed partial class RaftNode
{
    /// <summary>DotNext's membership file in the data directory.</summary>
    public const string MembershipFileName = "membership";

    // Rounds of catch-up replication in one attempt of DotNext's AddMemberAsync; attempts are repeated, a pause
    // apart, until the add call's time bound. A round against a member that refuses (it holds the snapshot it is
    // sent, trap 13) ends at once, so one long attempt would spin; the pause also lets the leader take the newer
    // snapshot that trap 13's handler asks for.
    private const int WarmupRounds = 50;
    private const int WarmupPauseMs = 200;

    private readonly SemaphoreSlim _membershipGate = new(1, 1);
    private bool _joinExisting;
    private volatile bool _seenSelfAsMember;
    // Set by the event DotNext raises as it drops this node from the members while running, before it steps down.
    private volatile bool _selfRemoved;
    private volatile RaftMember? _learner;

    /// <summary>Whether this data directory holds a membership (it belonged to a cluster, or was readied to start one).</summary>
    public static bool HasStoredMembership(string dataDirectory) => File.Exists(Path.Combine(dataDirectory, MembershipFileName));

    /// <summary>
    /// The first start of a data directory that is not joining stores <see cref="RaftNodeOptions.Members"/> as the
    /// membership. Later starts keep the stored one; a node alone in it may change its own addresses (nobody else
    /// knows them), a member of a larger cluster may not: the others know it by the stored address.
    /// </summary>
    private async Task BootstrapMembershipAsync(MembershipStorage storage, bool joinExisting, CancellationToken ct)
    {
        IClusterConfigurationStorage<EndPoint> typed = storage;
        var configuration = await typed.LoadConfigurationAsync(ct).ConfigureAwait(false);
        var self = MemberEndPoint.From(_self);
        var stored = configuration.Members.OfType<MemberEndPoint>().FirstOrDefault(m => m.Id == _self.Id);
        if (stored is not null && (!stored.Equals(self) || stored.HttpEndpoint != self.HttpEndpoint))
        {
            if (configuration.Members.Count != 1)
            {
                throw new InvalidOperationException(
                    $"The cluster's membership stores {_self.Id} at {stored.Address} ({stored.HttpEndpoint}), but this node is configured at {self.Address} ({self.HttpEndpoint}). " +
                    "Start it with the stored addresses, or remove it from the cluster and add it again with the new ones.");
            }
            // The storage keeps the version it holds; a membership of one is written anew (a crash in between
            // leaves a log and no membership, which starts from Members: this node alone again).
            configuration = configuration.Remove(stored).Add(self);
            File.Delete(storage.FileName);
            await ((IClusterConfigurationStorage)storage).SaveConfigurationAsync(configuration, 0L, ct).ConfigureAwait(false);
            Log.MembershipBootstrapped(_logger, 1, _self.Id);
            return;
        }
        if (configuration.Members.Count > 0 || joinExisting) return;
        if (_options.Members.All(member => member.Id != _self.Id))
        {
            throw new InvalidOperationException(
                $"This data directory holds no membership and Members does not list {_self.Id}: list every member of the new cluster, this node included, or join a running cluster (Join).");
        }
        foreach (var member in _options.Members)
        {
            configuration = configuration.Add(MemberEndPoint.From(member));
        }
        await ((IClusterConfigurationStorage)storage).SaveConfigurationAsync(configuration, 0L, ct).ConfigureAwait(false);
        Log.MembershipBootstrapped(_logger, _options.Members.Count, string.Join(",", _options.Members.Select(m => m.Id)));
    }

    /// <summary>How this node stands in the membership it has applied.</summary>
    public MembershipState Membership
    {
        get
        {
            if (_cluster is not { } c) return _joinExisting ? MembershipState.Joining : MembershipState.Member;
            if (c.Members.Any(m => !m.IsRemote)) return MembershipState.Member;
            return _joinExisting && !_seenSelfAsMember ? MembershipState.Joining : MembershipState.Removed;
        }
    }

    /// <summary>Every member of the membership this node has applied, sorted by id, and on the leader the member being caught up.</summary>
    public IReadOnlyList<MemberView> MembersView
    {
        get
        {
            var result = new List<MemberView>();
            if (_cluster is not { } c) return result;
            var leader = c.Leader?.EndPoint;
            foreach (var peer in c.Members)
            {
                if (FindMember(peer.EndPoint) is not { } member) continue;
                var status = leader is not null && peer.EndPoint.Equals(leader) ? "leader"
                    : !peer.IsRemote ? "follower"
                    : peer.Status switch
                    {
                        DotNext.Net.Cluster.ClusterMemberStatus.Available => "follower",
                        DotNext.Net.Cluster.ClusterMemberStatus.Unavailable => "unavailable",
                        _ => "unknown",
                    };
                result.Add(new MemberView(member, "voter", status));
            }
            if (_learner is { } learner && IsLeader && result.All(view => view.Member.Id != learner.Id))
            {
                result.Add(new MemberView(learner, "learner", "catching-up"));
            }
            result.Sort((a, b) => string.CompareOrdinal(a.Member.Id, b.Member.Id));
            return result;
        }
    }

    /// <summary>
    /// Leader only. Adds <paramref name="member"/>: it is first caught up as a learner (it receives the log, and a
    /// snapshot when it is behind the leader's), then the membership with it is committed and it votes. A member
    /// with the same id and address already in the membership is readmitted: removed, then added again, so that a
    /// node that lost its data never votes with what it forgot. Bounded by <paramref name="timeout"/>: on timeout
    /// the member is not in the membership afterwards.
    /// </summary>
    /// <exception cref="NotLeaderException">This node is not the leader (nothing was changed), or leadership was lost during the change.</exception>
    /// <exception cref="MembershipException">Refused (<see cref="MembershipError.Conflict"/>) or not caught up in time.</exception>
    public async Task AddMemberAsync(RaftMember member, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(member);
        var c = RunningCluster;
        var address = MemberEndPoint.From(member);
        if (!IsLeader) throw new NotLeaderException(Leader);
        if (!await _membershipGate.WaitAsync(0, ct).ConfigureAwait(false))
        {
            throw new MembershipException(MembershipError.Conflict, "another membership change is in progress");
        }
        try
        {
            var sameId = FindById(c, member.Id);
            var sameAddress = c.Members.FirstOrDefault(m => m.EndPoint.Equals(address));
            if (sameId is not null || sameAddress is not null)
            {
                if (sameId is null || !ReferenceEquals(sameId, sameAddress) || FindMember(sameId.EndPoint)?.HttpEndpoint != member.HttpEndpoint)
                {
                    throw new MembershipException(MembershipError.Conflict,
                        $"the id '{member.Id}' or the address {member.RaftEndpoint} belongs to another member; remove it first");
                }
                if (!sameId.IsRemote)
                {
                    throw new MembershipException(MembershipError.Conflict, $"'{member.Id}' is the leader and a voter already");
                }
                Log.MemberReadmitting(_logger, member.Id);
                await RemoveCoreAsync(c, sameId.EndPoint, ct).ConfigureAwait(false);
            }

            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(timeout);
            _learner = member;
            Log.MemberAdding(_logger, member.Id, member.RaftEndpoint, (long)timeout.TotalMilliseconds);
            var added = false;
            try
            {
                while (!(added = await c.AddMemberAsync(address, bounded.Token).ConfigureAwait(false)))
                {
                    await Task.Delay(WarmupPauseMs, bounded.Token).ConfigureAwait(false);
                }
            }
            catch (DotNextNotLeaderException e) when (e.InnerException is null)
            {
                throw new NotLeaderException(Leader, e);
            }
            catch (DotNextNotLeaderException e)
            {
                // Leadership ended during the change: it may have been committed before.
                if (c.Members.Any(m => m.EndPoint.Equals(address))) return;
                throw new OutcomeUnknownException($"leadership ended while {member.Id} was being added; list the members before trying again", e);
            }
            catch (OperationCanceledException) when (bounded.IsCancellationRequested && !ct.IsCancellationRequested)
            {
                added = false;
            }
            finally
            {
                _learner = null;
            }
            if (!added)
            {
                // The membership with it is appended only after the catch-up; should it have been appended all
                // the same (a timeout in the last step), take it out again rather than leave it half-added.
                if (c.Members.Any(m => m.EndPoint.Equals(address)) && IsLeader)
                {
                    await RemoveCoreAsync(c, address, CancellationToken.None).ConfigureAwait(false);
                }
                Log.MemberAddFailed(_logger, member.Id, (long)timeout.TotalMilliseconds);
                throw new MembershipException(MembershipError.CatchUpTimedOut,
                    $"'{member.Id}' did not catch up with the leader within {(long)timeout.TotalMilliseconds} ms (is it running with an empty data directory and reachable at {member.RaftEndpoint}?); it was not added");
            }
            Log.MemberAdded(_logger, member.Id);
        }
        finally
        {
            _membershipGate.Release();
        }
    }

    /// <summary>
    /// Leader only. Removes the member with <paramref name="id"/>; removing the leader itself commits the membership
    /// without it, after which it steps down and the others elect a new leader.
    /// </summary>
    /// <returns>The removed member.</returns>
    public async Task<RaftMember> RemoveMemberAsync(string id, CancellationToken ct)
    {
        var c = RunningCluster;
        if (!IsLeader) throw new NotLeaderException(Leader);
        if (!await _membershipGate.WaitAsync(0, ct).ConfigureAwait(false))
        {
            throw new MembershipException(MembershipError.Conflict, "another membership change is in progress");
        }
        try
        {
            var target = FindById(c, id) ?? throw new MembershipException(MembershipError.NotFound, $"no member has the id '{id}'");
            if (c.Members.Count <= 1)
            {
                throw new MembershipException(MembershipError.Conflict, $"'{id}' is the last member");
            }
            var member = FindMember(target.EndPoint)!;
            Log.MemberRemoving(_logger, id, !target.IsRemote);
            await RemoveCoreAsync(c, target.EndPoint, ct).ConfigureAwait(false);
            Log.MemberRemoved(_logger, id);
            return member;
        }
        finally
        {
            _membershipGate.Release();
        }
    }

    private async Task RemoveCoreAsync(RaftCluster c, EndPoint address, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(_options.ProposalTimeoutMs);
        var self = c.Members.Any(m => !m.IsRemote && m.EndPoint.Equals(address));
        bool removed;
        try
        {
            removed = await c.RemoveMemberAsync(address, bounded.Token).ConfigureAwait(false);
        }
        catch (DotNextNotLeaderException e) when (e.InnerException is null)
        {
            // Thrown before anything was appended.
            throw new NotLeaderException(Leader, e);
        }
        catch (Exception e) when (e is DotNextNotLeaderException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            // Leadership ended (a leader that removes itself steps down as the change commits) or time ran out
            // after the membership without it was appended: applied here already, or of unknown fate. A leader
            // that removed itself steps down before DotNext publishes the new member list (its membership change
            // awaits the step-down first), so that list may still name it; the removal event came before both.
            if (!c.Members.Any(m => m.EndPoint.Equals(address)) || (self && _selfRemoved)) return;
            throw new OutcomeUnknownException($"the membership without {address} was proposed but not seen committed", e);
        }
        if (!removed)
        {
            throw new OutcomeUnknownException($"the membership without {address} was not committed");
        }
    }

    private void OnMemberAdded(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> args)
    {
        if (args.Member.IsRemote) return;
        _seenSelfAsMember = true;
        _selfRemoved = false;
    }

    private void OnMemberRemoved(RaftCluster<RaftClusterMember> sender, RaftClusterMemberEventArgs<RaftClusterMember> args)
    {
        _followerCopies.Forget(args.Member.EndPoint);
        // DotNext drops every member as it shuts down: only a removal while running is one.
        if (!args.Member.IsRemote && Volatile.Read(ref _lifecycle) == Running)
        {
            _selfRemoved = true;
            Log.SelfRemoved(_logger, _options.NodeId);
        }
    }

    private static RaftClusterMember? FindById(RaftCluster c, string id)
        => c.Members.FirstOrDefault(m => (m.EndPoint as MemberEndPoint)?.Id == id);
}
