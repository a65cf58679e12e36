using RaftDlm.Client;

namespace RaftDlm.Samples.ClusterizedExceptionStore;

/// <summary>
/// One node of a clusterized exception store (the device-mapper snapshot use case): each node caches the
/// store's metadata locally. Committing an exception takes EX on the metadata lock, writes the record
/// (prepare), then bumps a 64-bit counter in the LVB on unlock (commit). A lookup that misses locally takes
/// CR and re-reads the metadata only when the counter moved or the LVB is invalid (a writer died holding
/// EX). As in the clustered exception store for device-mapper snapshots, each node keeps its metadata lock
/// for good and converts it in place: NL while idle, NL→EX to commit and EX→NL with the new counter written
/// into the LVB on the way down, NL→CR→NL to look up. The lock (and so the LVB) outlives every operation while
/// any node is up, and each conversion is one round trip.
/// </summary>
public sealed class ExceptionStoreNode : IAsyncDisposable
{
    public const string MetadataResource = "exception-store-metadata";
    private readonly SharedStore _store;
    private readonly DlmLock _metadata;
    private readonly Dictionary<string, string> _exceptions = new(StringComparer.Ordinal);
    private readonly List<ulong> _observed = [];
    private ulong _knownCounter;

    public ExceptionStoreNode(string name, DlmSession session, string lockspace, SharedStore store)
    {
        Name = name;
        Session = session;
        _store = store;
        _metadata = session.AllocLock(lockspace, MetadataResource);
    }

    public string Name { get; }
    public DlmSession Session { get; }

    /// <summary>How many times this node re-read the whole metadata.</summary>
    public int Rescans { get; private set; }

    /// <summary>Every counter value this node read from the LVB, in order: it must never go backwards.</summary>
    public IReadOnlyList<ulong> ObservedCounters
    {
        get
        {
            lock (_observed) return [.. _observed];
        }
    }

    /// <summary>Test hook: runs after the record is written and before the commit (e.g. to kill the node).</summary>
    public Func<Task>? AfterPrepare { get; set; }

    /// <summary>Prepares and commits one exception; returns its sequence number.</summary>
    public async Task<ulong> CommitAsync(string key, string value, CancellationToken ct = default)
    {
        await HoldNlAsync(ct);
        var grant = await _metadata.ConvertAsync(LockMode.EX, ct: ct);
        try
        {
            var counter = CounterOf(grant);
            if (counter is null) counter = Rescan();
            else if (counter != _knownCounter) Rescan();
            var seq = counter.Value + 1;
            _store.Write(seq, key, value);
            if (AfterPrepare is { } hook) await hook();
            await _metadata.ConvertAsync(LockMode.NL, BitConverter.GetBytes(seq), ct);
            _exceptions[key] = value;
            _knownCounter = seq;
            Observe(seq);
            return seq;
        }
        catch
        {
            // Step back to NL without writing: the counter stays, and the record is found by the next rescan.
            if (_metadata.IsHeld && _metadata.ServerMode == LockMode.EX && Session.State is not (SessionState.Expired or SessionState.Lost))
            {
                await _metadata.ConvertAsync(LockMode.NL, ct: CancellationToken.None);
            }
            throw;
        }
    }

    /// <summary>Finds an exception: locally, or after re-reading the metadata if it changed.</summary>
    public async Task<string?> LookupAsync(string key, CancellationToken ct = default)
    {
        if (_exceptions.TryGetValue(key, out var value)) return value;
        await HoldNlAsync(ct);
        var grant = await _metadata.ConvertAsync(LockMode.CR, ct: ct);
        try
        {
            var counter = CounterOf(grant);
            if (counter is null || counter != _knownCounter)
            {
                var scanned = Rescan();
                _knownCounter = counter ?? scanned;
            }
        }
        finally
        {
            await _metadata.ConvertAsync(LockMode.NL, ct: ct);
        }
        return _exceptions.GetValueOrDefault(key);
    }

    public ValueTask DisposeAsync() => _metadata.DisposeAsync();

    // The metadata lock is taken once, in NL, and then only converted.
    private async Task HoldNlAsync(CancellationToken ct)
    {
        if (!_metadata.IsHeld) await _metadata.LockAsync(LockMode.NL, ct);
    }

    /// <summary>The LVB's counter, or null when it cannot be trusted (invalid, or a resource never written).</summary>
    private ulong? CounterOf(LockGrant grant)
    {
        if (!grant.LvbValid || grant.LvbSeq == 0 || grant.Lvb.Length < 8) return null;
        var counter = BitConverter.ToUInt64(grant.Lvb, 0);
        Observe(counter);
        return counter;
    }

    private void Observe(ulong counter)
    {
        lock (_observed) _observed.Add(counter);
    }

    /// <summary>Re-reads every record from the shared store; returns the highest sequence number.</summary>
    private ulong Rescan()
    {
        Rescans++;
        ulong highest = 0;
        foreach (var (seq, key, value) in _store.ReadAll())
        {
            _exceptions[key] = value;
            highest = Math.Max(highest, seq);
        }
        _knownCounter = highest;
        return highest;
    }
}
