using System.Net;
using System.Runtime.InteropServices;
using DotNext.Net.Cluster.Consensus.Raft;

namespace RaftDlm.Consensus;

/// <summary>
/// The leader's record of how far each follower holds its log on disk in this leadership, from DotNext's own
/// account of each member's replication (<see cref="ReplicationWatch"/>): a member's replication sends one request
/// at a time, "Replication of M contains N entries. Preceding entry has index P" (event 74013) names what the next
/// reply answers, and "Member M is replicated successfully" (74014) is that reply accepted. A follower answers an
/// append only once the entries are synced (<see cref="SegmentedLog"/>: a follower's append is durable on return),
/// so an accepted request of N &gt; 0 entries after P means the member holds P + N on disk. Heartbeats (N = 0),
/// snapshot installs, failed or timed-out requests count for nothing.
/// </summary>
/// <remarks>
/// It lets the leader commit an entry that a majority of the members holds without its own copy (Raft allows the
/// leader's write to the disk to run in parallel with, or after, replication as long as it is not counted before
/// it is durable: Ongaro's thesis, §10.2.1), and so skip its own sync while the followers keep up
/// (<see cref="SegmentedLog"/>, "lazy leader sync"). Everything is cleared at every change of leader: a count
/// carried into another leadership could describe a log that has been cut since.
/// </remarks>
internal sealed class FollowerCopies(Func<IReadOnlyCollection<IRaftClusterMember>?> members)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<EndPoint, Progress> _progress = [];
    private bool _leading;

    /// <summary>Called each time what a majority holds may have grown (<see cref="HeldByMajority"/> says how far).</summary>
    public Action? Advanced { get; set; }

    /// <summary>True while this node leads and the members other than it can make a majority by themselves.</summary>
    public bool CanCover
    {
        get
        {
            lock (_gate)
            {
                return _leading && members() is { } all && all.Count - 1 >= Majority(all.Count);
            }
        }
    }

    private static int Majority(int members) => members / 2 + 1;

    /// <summary>A new leader (or none): this node's counts start again, and count only while it leads.</summary>
    public void Reset(bool leading)
    {
        lock (_gate)
        {
            _progress.Clear();
            _leading = leading;
        }
    }

    /// <summary>A member left the configuration: its copies no longer count.</summary>
    public void Forget(EndPoint member)
    {
        lock (_gate)
        {
            _progress.Remove(member);
        }
    }

    /// <summary>Event 74013: the member's next reply answers <paramref name="entries"/> entries after <paramref name="precedingIndex"/>.</summary>
    public void Sending(EndPoint member, int entries, long precedingIndex)
    {
        lock (_gate)
        {
            if (!_leading) return;
            ref var progress = ref CollectionsMarshal.GetValueRefOrAddDefault(_progress, member, out _);
            progress.Awaited = entries > 0 ? precedingIndex + entries : 0;
        }
    }

    /// <summary>Events 74015 and 74018 (a refusal, a snapshot install): the member's next reply proves nothing.</summary>
    public void NotSending(EndPoint member)
    {
        lock (_gate)
        {
            if (_progress.TryGetValue(member, out var progress))
            {
                _progress[member] = progress with { Awaited = 0 };
            }
        }
    }

    /// <summary>Event 74014: the member accepted the request it was sent last.</summary>
    public void Accepted(EndPoint member)
    {
        lock (_gate)
        {
            if (!_leading || !_progress.TryGetValue(member, out var progress))
            {
                return;
            }
            _progress[member] = new Progress(long.Max(progress.Held, progress.Awaited), Awaited: 0);
            if (progress.Awaited <= progress.Held)
            {
                return;
            }
        }
        Advanced?.Invoke();
    }

    /// <summary>The highest index that a majority of the members holds on disk without counting this node (0: none).</summary>
    public long HeldByMajority()
    {
        lock (_gate)
        {
            return HeldByMajorityLocked();
        }
    }

    private long HeldByMajorityLocked()
    {
        // Only the members of the configuration count, as in DotNext's own majority: not a member being caught
        // up before it is added, nor one removed.
        if (!_leading || members() is not { } all)
        {
            return 0;
        }
        var needed = Majority(all.Count);
        Span<long> held = stackalloc long[all.Count];
        var followers = 0;
        foreach (var member in all)
        {
            if (member.IsRemote)
            {
                held[followers++] = _progress.TryGetValue(member.EndPoint, out var progress) ? progress.Held : 0;
            }
        }
        if (followers < needed)
        {
            return 0;
        }
        // The needed-th highest of the followers' held indexes: at most a handful of members.
        held = held[..followers];
        held.Sort();
        return held[^needed];
    }

    private record struct Progress(long Held, long Awaited);
}
