using System.Reflection;
using System.Reflection.Emit;
using DotNext.Net.Cluster.Consensus.Raft;

namespace RaftDlm.Consensus;

/// <summary>
/// Moves the leader's next index for one member: DotNext keeps it in <c>IRaftClusterMember.ReplicationState</c>,
/// a private field of <see cref="RaftClusterMember"/> that only DotNext itself may reach. <see cref="RaftNode"/>
/// uses it for trap 13 (docs/consensus-notes.md): to resume replication right after the leader's snapshot
/// instead of walking down one entry per round below it. Bound by name once, for DotNext.Net.Cluster 6.12.0
/// only; a DotNext where the members moved fails the node's start with a message naming them.
/// </summary>
internal static class ReplicationCursor
{
    private static readonly Lazy<Action<RaftClusterMember, long>> Setter = new(Bind);

    /// <summary>Binds the members now, so that a missing one fails the start, not a leader's replication.</summary>
    public static void EnsureBound() => _ = Setter.Value;

    /// <summary>Sets the index of the next entry the leader sends to <paramref name="member"/>.</summary>
    /// <remarks>
    /// Call it only from the member's own replication (DotNext's ReplicationFailed log record is raised there,
    /// right after DotNext moved the index): nothing else writes the index while that round runs.
    /// </remarks>
    public static void MoveTo(RaftClusterMember member, long nextIndex) => Setter.Value(member, nextIndex);

    private static Action<RaftClusterMember, long> Bind()
    {
        var state = typeof(RaftClusterMember).GetField("state", BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw Missing("RaftClusterMember.state");
        var nextIndex = state.FieldType.GetField("NextIndex", BindingFlags.Instance | BindingFlags.Public);
        if (!state.FieldType.IsValueType || nextIndex?.FieldType != typeof(long))
        {
            throw Missing("ReplicationState.NextIndex of type long");
        }

        // The state is a struct held in the member: write its field in place, as DotNext does.
        var method = new DynamicMethod("MoveReplicationCursor", returnType: null, [typeof(RaftClusterMember), typeof(long)],
            typeof(RaftClusterMember).Module, skipVisibility: true);
        var il = method.GetILGenerator();
        il.Emit(OpCodes.Ldarg_0);
        il.Emit(OpCodes.Ldflda, state);
        il.Emit(OpCodes.Ldarg_1);
        il.Emit(OpCodes.Stfld, nextIndex);
        il.Emit(OpCodes.Ret);
        return method.CreateDelegate<Action<RaftClusterMember, long>>();
    }

    private static InvalidOperationException Missing(string member) =>
        new($"DotNext's RaftClusterMember has no member {member}: RaftDlm.Consensus supports DotNext.Net.Cluster 6.12.0 only.");
}
