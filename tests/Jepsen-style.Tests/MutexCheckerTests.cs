using RaftDlm.Jepsen.Checkers;

namespace RaftDlm.Jepsen.Tests;

public sealed class MutexCheckerTests
{
    [Fact]
    public void Sequential_acquire_release_by_two_processes_is_linearizable()
    {
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10).Ok(0, "release", 20, 30)
            .Ok(1, "acquire", 40, 50).Ok(1, "release", 60, 70)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void Two_holders_at_once_are_not_linearizable()
    {
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Ok(1, "acquire", 20, 30)
            .Ok(0, "release", 40, 50)
            .Ok(1, "release", 60, 70)
            .Build();
        var result = MutexChecker.Check(history);
        Assert.False(result.Valid);
        Assert.False(result.Unknown);
    }

    [Fact]
    public void Overlapping_acquires_can_be_ordered_by_the_release_between_them()
    {
        // p1's acquire overlaps p0's release: p0 release, then p1 acquire is a valid order.
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Ok(0, "release", 20, 40)
            .Ok(1, "acquire", 30, 50)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void Release_by_a_process_that_never_held_is_not_linearizable()
    {
        var history = new HistoryBuilder().Ok(0, "acquire", 0, 10).Ok(1, "release", 20, 30).Build();
        Assert.False(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void A_failed_acquire_did_not_happen()
    {
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Fail(1, "acquire", 20, 30)
            .Ok(0, "release", 40, 50)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void An_unknown_acquire_may_never_have_happened()
    {
        var history = new HistoryBuilder()
            .Info(0, "acquire", 0)
            .Ok(1, "acquire", 20, 30)
            .Ok(1, "release", 40, 50)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void An_unknown_release_may_take_effect_late_letting_the_next_acquire_in()
    {
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Info(0, "release", 20)
            .Ok(1, "acquire", 100, 110)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void An_unknown_release_cannot_take_effect_before_it_was_invoked()
    {
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Ok(1, "acquire", 20, 30)
            .Info(0, "release", 40)
            .Build();
        Assert.False(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void Session_expiry_releases_the_lock_within_its_window()
    {
        // p0 held, went silent at 15 (last keep-alive), found its session expired at 200; p1 got it at 100.
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Ok(1, "acquire", 100, 110)
            .Fail(0, "release", 190, 195)
            .Ok(0, "expire", 15, 200)
            .Build();
        Assert.True(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void Expiry_known_only_after_the_second_grant_is_a_violation()
    {
        // p0's session was last known alive at 150, after p1's grant completed at 110.
        var history = new HistoryBuilder()
            .Ok(0, "acquire", 0, 10)
            .Ok(1, "acquire", 100, 110)
            .Ok(0, "expire", 150, 200)
            .Build();
        Assert.False(MutexChecker.Check(history).Valid);
    }

    [Fact]
    public void A_long_valid_history_with_many_unknowns_finishes_quickly()
    {
        var builder = new HistoryBuilder();
        double t = 0;
        for (var round = 0; round < 300; round++)
        {
            var p = round % 5;
            builder.Ok(p, "acquire", t, t + 5);
            if (round % 7 == 0) builder.Info((p + 1) % 5, "acquire", t + 1);
            if (round % 7 == 0) builder.Ok((p + 1) % 5, "drop", t + 2, t + 3);
            builder.Ok(p, "release", t + 6, t + 9);
            t += 10;
        }
        var result = MutexChecker.Check(builder.Build());
        Assert.True(result.Valid, result.Summary);
    }
}
