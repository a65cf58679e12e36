using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Tests;

public sealed class ModesAndSessionsCheckerTests
{
    [Theory]
    [InlineData("PR", "PR", true)]
    [InlineData("PR", "CW", false)]
    [InlineData("CR", "PW", true)]
    [InlineData("EX", "NL", true)]
    [InlineData("EX", "CR", false)]
    [InlineData("CW", "CW", true)]
    public void Compatibility_matrix(string a, string b, bool compatible)
    {
        Assert.Equal(compatible, Modes.Compatible(a, b));
        Assert.Equal(compatible, Modes.Compatible(b, a));
    }

    [Theory]
    [InlineData("EX", "PR", true)]
    [InlineData("PW", "CR", true)]
    [InlineData("PR", "CW", false)]
    [InlineData("CW", "PR", false)]
    [InlineData("PR", "PR", true)]
    [InlineData("PR", "EX", false)]
    public void Down_conversions(string from, string to, bool down) => Assert.Equal(down, Modes.IsDownConversion(from, to));

    [Fact]
    public void Compatible_overlapping_holders_pass()
    {
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10, token: 5, mode: "PR", resource: "r", lockId: "a")
            .Add(1, "acquire", OpType.Ok, 5, 12, token: 6, mode: "CR", resource: "r", lockId: "b")
            .Add(0, "release", OpType.Ok, 50, 55, resource: "r", lockId: "a")
            .Add(1, "release", OpType.Ok, 60, 65, resource: "r", lockId: "b")
            .Build();
        Assert.All(ModesChecker.Check(history), result => Assert.True(result.Valid, string.Join("; ", result.Problems)));
    }

    [Fact]
    public void Incompatible_overlapping_holders_fail()
    {
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10, token: 5, mode: "PR", resource: "r", lockId: "a")
            .Add(1, "acquire", OpType.Ok, 20, 25, token: 6, mode: "PW", resource: "r", lockId: "b")
            .Add(0, "release", OpType.Ok, 50, 55, resource: "r", lockId: "a")
            .Add(1, "release", OpType.Ok, 60, 65, resource: "r", lockId: "b")
            .Build();
        Assert.False(ModesChecker.Check(history)[0].Valid);
    }

    [Fact]
    public void An_up_conversion_into_conflict_fails_and_a_smaller_later_token_fails()
    {
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10, token: 9, mode: "PR", resource: "r", lockId: "a")
            .Add(1, "acquire", OpType.Ok, 20, 25, token: 7, mode: "PR", resource: "r", lockId: "b")
            .Add(1, "convert", OpType.Ok, 30, 35, token: 11, mode: "EX", resource: "r", lockId: "b")
            .Add(0, "release", OpType.Ok, 50, 55, resource: "r", lockId: "a")
            .Add(1, "release", OpType.Ok, 60, 65, resource: "r", lockId: "b")
            .Build();
        var results = ModesChecker.Check(history);
        Assert.False(results[0].Valid);
        Assert.False(results[1].Valid);
    }

    [Fact]
    public void Expired_holder_is_only_counted_until_it_was_last_known_alive()
    {
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10, token: 5, mode: "EX", resource: "r", lockId: "a")
            .Add(1, "acquire", OpType.Ok, 3000, 3010, token: 9, mode: "EX", resource: "r", lockId: "b")
            .Add(0, "release", OpType.Fail, 6000, 6005, resource: "r", lockId: "a", error: "404 SessionExpired")
            .Add(0, "expire", OpType.Ok, 500, 6006)
            .Build();
        Assert.All(ModesChecker.Check(history), result => Assert.True(result.Valid, string.Join("; ", result.Problems)));
    }

    [Fact]
    public void A_holder_whose_session_was_dropped_after_a_client_pause_is_only_counted_until_it_was_last_known_alive()
    {
        // Seen in a run: p0 paused past its TTL holding CR; p1 then held EX; p0's release failed (NotFound) and its
        // session was dropped, the drop's invocation being the last moment the session was known alive (the
        // acquire's invocation: the conversions after it completed later).
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10, token: 5, mode: "PW", resource: "r", lockId: "a")
            .Add(0, "convert", OpType.Ok, 20, 25, token: 5, mode: "CR", resource: "r", lockId: "a")
            .Add(0, "convert", OpType.Fail, 30, 35, mode: "PW", resource: "r", lockId: "a", error: "409 WouldBlock")
            .Add(1, "acquire", OpType.Ok, 3000, 3010, token: 9, mode: "EX", resource: "r", lockId: "b")
            .Add(1, "release", OpType.Ok, 3100, 3110, resource: "r", lockId: "b")
            .Add(0, "release", OpType.Fail, 6000, 6005, resource: "r", lockId: "a", error: "404 NotFound")
            .Add(0, "drop", OpType.Ok, 0, 6006)
            .Build();
        Assert.All(ModesChecker.Check(history), result => Assert.True(result.Valid, string.Join("; ", result.Problems)));
    }

    [Fact]
    public void Sessions_checker_flags_a_slow_handover_and_a_surviving_session()
    {
        var fast = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10)
            .Add(0, "silent", OpType.Ok, 5, 20)
            .Add(1, "acquire", OpType.Ok, 30, 2500)
            .Add(0, "resume-keepalive", OpType.Fail, 7000, 7005)
            .Add(2, "acquire", OpType.Fail, 9000, 12000)
            .Build();
        Assert.True(SessionsChecker.Check(fast, [], 2000).Valid);

        var slow = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10)
            .Add(0, "silent", OpType.Ok, 5, 20)
            .Add(1, "acquire", OpType.Ok, 30, 6000)
            .Add(0, "resume-keepalive", OpType.Ok, 5500, 5505)
            .Add(2, "acquire", OpType.Fail, 9000, 12000)
            .Build();
        var result = SessionsChecker.Check(slow, [], 2000);
        Assert.False(result.Valid);
        Assert.Equal(2, result.Problems.Count);
    }

    [Fact]
    public void Sessions_checker_does_not_blame_a_silence_nobody_waited_for()
    {
        var history = new HistoryBuilder()
            .Add(0, "acquire", OpType.Ok, 0, 10)
            .Add(0, "silent", OpType.Ok, 5, 20)
            .Add(0, "resume-keepalive", OpType.Fail, 7000, 7005)
            .Add(0, "expire", OpType.Ok, 5, 7006)
            .Build();
        Assert.True(SessionsChecker.Check(history, [], 2000).Valid);
    }
}
