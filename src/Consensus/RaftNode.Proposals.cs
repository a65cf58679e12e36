using System.Diagnostics;
using DotNext.Net.Cluster.Consensus.Raft;
using Microsoft.Extensions.Logging;
using DotNextNotLeaderException = DotNext.Net.Cluster.Consensus.Raft.NotLeaderException;

namespace RaftDlm.Consensus;

public sealed partial class RaftNode
{
    private const int RetryDelayMs = 50;

    /// <summary>
    /// Leader only. Stamps leader time, appends, replicates, waits for commit and local apply, and returns the
    /// reply object of <see cref="IReplicatedStateMachine.Apply"/>. Bounded by <see cref="RaftNodeOptions.ProposalTimeoutMs"/>.
    /// </summary>
    /// <exception cref="NotLeaderException">This node is not the leader; the command was NOT proposed.</exception>
    /// <exception cref="OutcomeUnknownException">Proposed, but leadership was lost, the wait timed out, or the
    /// machine threw; the command may still be (or have been) applied.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was canceled; the outcome is unknown.</exception>
    public async Task<object?> ProposeAsync(ReadOnlyMemory<byte> command, CancellationToken ct)
    {
        var c = RunningCluster;
        var id = new ProposalId(_incarnation, Interlocked.Increment(ref _proposalSequence));
        var payload = EntryEnvelope.Encode(new EnvelopeHeader(id, NextLeaderTimeMs()), command.Span);
        var context = new ProposalContext(id);
        var started = Stopwatch.GetTimestamp();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProposalTimeoutMs);

        // The entry carries the term this node was elected in, never the node's current term: DotNext's own
        // ReplicateAsync(payload) reads the current term, and a leader that had just seen a higher term (a
        // candidate's vote request) but not yet stepped down appended its command under the new leader's term
        // at the index where that leader put its own entry: two entries with one index and term, which broke
        // log matching and let one replica apply a command the others never had (bug B2). Checked right
        // before DotNext takes its leader state, with nothing awaited in between: if the term moved on, this
        // node is no longer (or not yet again) the leader of the term the entry would carry.
        var term = Volatile.Read(ref _leaderTerm);
        if (!IsLeader || term != Term)
        {
            _metrics.Proposal("not_leader");
            throw new NotLeaderException(Leader);
        }

        try
        {
            await c.ReplicateAsync(new BinaryLogEntry { Content = payload, Term = term, Context = context }, timeout.Token).ConfigureAwait(false);
        }
        catch (DotNextNotLeaderException e) when (e.InnerException is null)
        {
            // Thrown before anything was appended: DotNext checks its leader state first.
            _metrics.Proposal("not_leader");
            throw new NotLeaderException(Leader, e);
        }
        catch (DotNextNotLeaderException e)
        {
            throw Unknown(id, "leadership was lost while the entry was replicating", e);
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            _metrics.Proposal("canceled");
            throw new OperationCanceledException("The proposal was canceled; its outcome is unknown.", e, ct);
        }
        catch (OperationCanceledException e)
        {
            throw Unknown(id, $"no commit within {_options.ProposalTimeoutMs} ms", e);
        }
        catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException or IOException)
        {
            throw Unknown(id, "the log failed or was disposed", e);
        }

        if (context.TryGetReply(out var reply, out var fault))
        {
            _metrics.ProposalCommitted(Stopwatch.GetElapsedTime(started));
            return reply;
        }

        throw fault is null
            ? Unknown(id, "another entry was committed at the proposal's index", null)
            : Unknown(id, "the replicated state machine threw while applying it", fault);
    }

    private OutcomeUnknownException Unknown(ProposalId id, string reason, Exception? inner)
    {
        _metrics.Proposal("unknown");
        Log.ProposalOutcomeUnknown(_logger, id.Sequence, reason, inner);
        return new OutcomeUnknownException($"The outcome of the proposal is unknown: {reason}.", inner);
    }

    /// <summary>
    /// Linearizable read barrier on the leader (ReadIndex-style: a round of heartbeats confirms leadership and
    /// the local machine has applied everything committed before the call). Read the machine after it returns.
    /// </summary>
    /// <exception cref="NotLeaderException">This node is not (or stopped being) the leader; Leader is null when no leader is reachable.</exception>
    /// <exception cref="TimeoutException">No barrier within <see cref="RaftNodeOptions.ProposalTimeoutMs"/>.</exception>
    public async Task ReadBarrierAsync(CancellationToken ct)
    {
        var c = RunningCluster;
        if (!IsLeader)
        {
            throw new NotLeaderException(Leader);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.ProposalTimeoutMs);
        try
        {
            await c.ApplyReadBarrierAsync(ReadBarrierType.Strong, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"No read barrier within {_options.ProposalTimeoutMs} ms.", e);
        }
        catch (QuorumUnreachableException e)
        {
            throw new NotLeaderException((RaftMember?)null, e);
        }
        catch (DotNextNotLeaderException e)
        {
            throw new NotLeaderException(Leader, e);
        }

        // If leadership moved during the barrier DotNext falls back to syncing with the new leader; a read
        // served here would then not be the leader's, so refuse it.
        if (!IsLeader)
        {
            throw new NotLeaderException(Leader);
        }
    }

    /// <summary>
    /// Completes when this node is the leader and has applied every entry committed before its term, so the
    /// host can safely propose its first entry of the term. Waits as long as <paramref name="ct"/> allows.
    /// </summary>
    public async Task WaitForLeaderReadyAsync(CancellationToken ct)
    {
        var c = RunningCluster;
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            var leadership = await c.WaitForLeadershipAsync(ct).ConfigureAwait(false);
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct, leadership);
            attempt.CancelAfter(_options.ProposalTimeoutMs);
            try
            {
                // The new leader's no-op is already in its log, so a barrier on the last entry covers
                // every entry of earlier terms.
                await c.ApplyReadBarrierAsync(ReadBarrierType.Strong, attempt.Token).ConfigureAwait(false);
                if (!leadership.IsCancellationRequested && IsLeader)
                {
                    return;
                }
            }
            catch (Exception e) when (!ct.IsCancellationRequested && e is OperationCanceledException or QuorumUnreachableException or DotNextNotLeaderException)
            {
                _logger.LogDebug(e, "Leader readiness attempt failed; retrying");
            }

            await Task.Delay(RetryDelayMs, ct).ConfigureAwait(false);
        }
    }
}
