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
    /// Proposals that arrive while <see cref="RaftNodeOptions.MaxEntriesInFlight"/> entries of this node are being
    /// replicated wait and go together in the next entry (<see cref="RaftNodeOptions.ProposalBatching"/>); a proposal
    /// that finds fewer in flight is appended at once, alone or with whatever waits.
    /// </summary>
    /// <exception cref="NotLeaderException">This node is not the leader; the command was NOT proposed.</exception>
    /// <exception cref="OutcomeUnknownException">Proposed, but leadership was lost, the wait timed out, or the
    /// machine threw; the command may still be (or have been) applied.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was canceled; the outcome is unknown.</exception>
    public async Task<object?> ProposeAsync(ReadOnlyMemory<byte> command, CancellationToken ct)
    {
        var c = RunningCluster;
        if (!IsLeader)
        {
            _metrics.Proposal("not_leader");
            throw new NotLeaderException(Leader);
        }

        var proposal = new Proposal(new ProposalId(_incarnation, Interlocked.Increment(ref _proposalSequence)), command);
        if (!_options.ProposalBatching)
        {
            await ReplicateAsync(c, [proposal]).ConfigureAwait(false);
        }
        else if (Enqueue(proposal))
        {
            // Runs here until its first wait, so a lone proposer appends without a thread hop.
            _ = PumpAsync(c);
        }

        try
        {
            return await proposal.Done.Task.WaitAsync(TimeSpan.FromMilliseconds(_options.ProposalTimeoutMs), ct).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            _metrics.Proposal("canceled");
            throw new OperationCanceledException("The proposal was canceled; its outcome is unknown.", e, ct);
        }
        catch (TimeoutException e)
        {
            throw Unknown(proposal.Id, $"no commit within {_options.ProposalTimeoutMs} ms", e);
        }
    }

    /// <summary>Queues a proposal; true when the caller must start a pump (fewer than the bound of entries are in flight).</summary>
    private bool Enqueue(Proposal proposal)
    {
        lock (_queueGate)
        {
            if (_queued.Count >= MaxQueuedProposals)
            {
                _metrics.Proposal("not_leader");
                throw new NotLeaderException($"This node already holds {MaxQueuedProposals} proposals waiting for the log; the command was not proposed. Try again.");
            }
            _queued.Enqueue(proposal);
            if (_entriesInFlight >= _options.MaxEntriesInFlight)
            {
                return false;
            }
            _entriesInFlight++;
            return true;
        }
    }

    /// <summary>
    /// One of at most <see cref="RaftNodeOptions.MaxEntriesInFlight"/> loops: takes what waits (bounded by
    /// <see cref="RaftNodeOptions.MaxBatchCommands"/> and <see cref="RaftNodeOptions.MaxBatchBytes"/>), replicates it as
    /// one entry, and goes on until nothing waits.
    /// </summary>
    private async Task PumpAsync(RaftCluster c)
    {
        var batch = new List<Proposal>();
        while (true)
        {
            batch.Clear();
            lock (_queueGate)
            {
                var bytes = 0;
                while (_queued.TryPeek(out var next) && batch.Count < _options.MaxBatchCommands
                    && (batch.Count == 0 || bytes + next.Command.Length + EntryEnvelope.BatchOverheadPerCommand <= _options.MaxBatchBytes))
                {
                    batch.Add(_queued.Dequeue());
                    bytes += next.Command.Length + EntryEnvelope.BatchOverheadPerCommand;
                }
                if (batch.Count == 0)
                {
                    _entriesInFlight--;
                    return;
                }
            }
            await ReplicateAsync(c, batch).ConfigureAwait(false);
        }
    }

    /// <summary>Replicates the proposals as one entry and completes each of them; never throws.</summary>
    private async Task ReplicateAsync(RaftCluster c, IReadOnlyList<Proposal> batch)
    {
        var leaderTimeMs = NextLeaderTimeMs();
        var (payload, context) = batch.Count == 1
            ? (EntryEnvelope.Encode(new EnvelopeHeader(batch[0].Id, leaderTimeMs), batch[0].Command.Span), (object)batch[0].Context)
            : (EntryEnvelope.EncodeBatch(leaderTimeMs, [.. batch.Select(p => new BatchedCommand(p.Id, p.Command))]), batch.Select(p => p.Context).ToArray());
        using var timeout = new CancellationTokenSource(_options.ProposalTimeoutMs);
        _metrics.EntryProposed(batch.Count);

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
            Fail(batch, _ => new NotLeaderException(Leader), "not_leader");
            return;
        }

        try
        {
            await c.ReplicateAsync(new BinaryLogEntry { Content = payload, Term = term, Context = context }, timeout.Token).ConfigureAwait(false);
        }
        catch (DotNextNotLeaderException e) when (e.InnerException is null)
        {
            // Thrown before anything was appended: DotNext checks its leader state first.
            Fail(batch, _ => new NotLeaderException(Leader, e), "not_leader");
            return;
        }
        catch (DotNextNotLeaderException e)
        {
            Fail(batch, p => Unknown(p.Id, "leadership was lost while the entry was replicating", e), null);
            return;
        }
        catch (OperationCanceledException e)
        {
            Fail(batch, p => Unknown(p.Id, $"no commit within {_options.ProposalTimeoutMs} ms", e), null);
            return;
        }
        catch (Exception e)
        {
            // ObjectDisposed, InvalidOperation or IO from a log that failed or was disposed; anything else is
            // caught too, so that no pump ever dies with proposals waiting on it.
            Fail(batch, p => Unknown(p.Id, "the log failed or was disposed", e), null);
            return;
        }

        foreach (var proposal in batch)
        {
            if (proposal.Context.TryGetReply(out var reply, out var fault))
            {
                _metrics.ProposalCommitted(Stopwatch.GetElapsedTime(proposal.Started));
                proposal.Done.TrySetResult(reply);
            }
            else
            {
                proposal.Done.TrySetException(fault is null
                    ? Unknown(proposal.Id, "another entry was committed at the proposal's index", null)
                    : Unknown(proposal.Id, "the replicated state machine threw while applying it", fault));
            }
        }
    }

    private void Fail(IReadOnlyList<Proposal> batch, Func<Proposal, Exception> error, string? outcome)
    {
        foreach (var proposal in batch)
        {
            if (outcome is not null) _metrics.Proposal(outcome);
            proposal.Done.TrySetException(error(proposal));
        }
    }

    /// <summary>A command waiting for the log, and the wait of its proposer.</summary>
    private sealed class Proposal(ProposalId id, ReadOnlyMemory<byte> command)
    {
        public ProposalId Id { get; } = id;
        public ReadOnlyMemory<byte> Command { get; } = command;
        public ProposalContext Context { get; } = new(id);
        public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long Started { get; } = Stopwatch.GetTimestamp();
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
