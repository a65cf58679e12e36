using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;
using RaftDlm.Jepsen.Workloads;

namespace RaftDlm.Jepsen.Tests;

public sealed class StoreAndLvbCheckerTests
{
    [Fact]
    public void Store_passes_when_every_acknowledged_write_is_in_the_final_value()
    {
        var history = new HistoryBuilder()
            .Add(0, "write", OpType.Ok, 0, 1, value: 1)
            .Add(1, "write", OpType.Ok, 2, 3, value: 2)
            .Add(2, "write", OpType.Fail, 4, 5, value: 3, error: "fenced")
            .Add(-1, "final-read", OpType.Ok, 10, 10, values: [1, 2])
            .Build();
        Assert.True(StoreChecker.Check(history).Valid);
    }

    [Fact]
    public void Store_fails_when_an_acknowledged_write_was_overwritten()
    {
        var history = new HistoryBuilder()
            .Add(0, "write", OpType.Ok, 0, 1, value: 1)
            .Add(1, "write", OpType.Ok, 2, 3, value: 2)
            .Add(-1, "final-read", OpType.Ok, 10, 10, values: [2])
            .Build();
        var result = StoreChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Contains(result.Problems, p => p.Contains("write 1 lost", StringComparison.Ordinal));
    }

    [Fact]
    public void Single_holder_passes_when_every_store_access_was_by_the_current_holder()
    {
        var history = new HistoryBuilder()
            .Add(0, "read", OpType.Ok, 0, 1, token: 5, values: [])
            .Add(0, "write", OpType.Ok, 1, 2, token: 5, value: 1)
            .Add(1, "stand-down", OpType.Ok, 3, 3)
            .Add(2, "read", OpType.Ok, 4, 5, token: 9, values: [1])
            .Build();
        Assert.True(SingleHolderChecker.Check(history).Valid);
    }

    [Fact]
    public void Single_holder_fails_when_a_former_holder_acted_after_a_newer_one()
    {
        var history = new HistoryBuilder()
            .Add(0, "read", OpType.Ok, 0, 1, token: 5, values: [])
            .Add(1, "read", OpType.Ok, 2, 3, token: 9, values: [])
            .Add(0, "write", OpType.Fail, 4, 5, token: 5, value: 1, error: "fenced")
            .Build();
        var result = SingleHolderChecker.Check(history);
        Assert.False(result.Valid);
        Assert.Contains(result.Problems, p => p.Contains("p0 write with token 5", StringComparison.Ordinal));
    }

    [Fact]
    public void Fenced_store_refuses_a_stale_holder_after_a_newer_read()
    {
        var store = new ExternalStore(fenced: true);
        Assert.True(store.TryRead(10, out var stale));
        Assert.True(store.TryRead(20, out _));
        Assert.False(store.TryWrite(10, [.. stale, 1]));
        Assert.True(store.TryWrite(20, [2]));
        var unfenced = new ExternalStore(fenced: false);
        Assert.True(unfenced.TryRead(20, out _));
        Assert.True(unfenced.TryWrite(10, [1]));
    }

    private static HistoryBuilder Grant(HistoryBuilder builder, int process, double at, long token, long value, long seq, bool valid) =>
        builder.Add(process, "acquire", OpType.Ok, at, at + 1, token: token, value: value, lvbSeq: seq, lvbValid: valid, lockId: "L" + token);

    [Fact]
    public void Lvb_passes_on_a_clean_chain_with_an_invalidation()
    {
        var b = new HistoryBuilder();
        Grant(b, 0, 0, 10, 0, 0, true).Add(0, "release", OpType.Ok, 2, 3, value: 1, lockId: "L10");
        Grant(b, 1, 4, 20, 1, 1, true).Add(1, "drop", OpType.Ok, 6, 7);
        Grant(b, 2, 8, 30, 1, 2, false).Add(2, "release", OpType.Ok, 9, 10, value: 2, lockId: "L30");
        b.Add(-1, "final-read", OpType.Ok, 20, 20, value: 2, lvbSeq: 3, lvbValid: true);
        Assert.True(LvbChecker.Check(b.Build()).Valid);
    }

    [Fact]
    public void Lvb_fails_when_a_dead_holder_leaves_the_lvb_valid()
    {
        var b = new HistoryBuilder();
        Grant(b, 0, 0, 10, 5, 3, true).Add(0, "expire", OpType.Ok, 1, 7);
        Grant(b, 1, 8, 20, 5, 4, true);
        b.Add(-1, "final-read", OpType.Ok, 20, 20, value: 5, lvbSeq: 4, lvbValid: true);
        Assert.False(LvbChecker.Check(b.Build()).Valid);
    }

    [Fact]
    public void Lvb_fails_when_an_acknowledged_increment_is_lost_or_goes_backwards()
    {
        var b = new HistoryBuilder();
        Grant(b, 0, 0, 10, 5, 3, true).Add(0, "release", OpType.Ok, 2, 3, value: 6, lockId: "L10");
        Grant(b, 1, 4, 20, 5, 4, true).Add(1, "release", OpType.Ok, 5, 6, value: 6, lockId: "L20");
        b.Add(-1, "final-read", OpType.Ok, 20, 20, value: 6, lvbSeq: 5, lvbValid: true);
        var result = LvbChecker.Check(b.Build());
        Assert.False(result.Valid);
        Assert.Contains(result.Problems, p => p.Contains("increments lost", StringComparison.Ordinal));
    }

    [Fact]
    public void Lvb_orders_a_worker_by_recording_order_not_by_back_dated_session_ends()
    {
        // The closing drop is back-dated to when the session was last known alive (before the release).
        var b = new HistoryBuilder();
        Grant(b, 0, 0, 10, 0, 0, true).Add(0, "release", OpType.Ok, 5, 6, value: 1, lockId: "L10").Add(0, "drop", OpType.Ok, 1, 8);
        Grant(b, 1, 9, 20, 1, 1, true).Add(1, "release", OpType.Ok, 11, 12, value: 2, lockId: "L20");
        b.Add(-1, "final-read", OpType.Ok, 20, 20, value: 2, lvbSeq: 2, lvbValid: true);
        var result = LvbChecker.Check(b.Build());
        Assert.True(result.Valid, string.Join("; ", result.Problems));
    }
}
