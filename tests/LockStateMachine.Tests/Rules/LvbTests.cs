namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class LvbTests
{
    [Fact]
    public void Grant_above_NL_reads_the_value_block_and_NL_does_not()
    {
        var harness = new Harness();
        var a = harness.Session();
        var reader = harness.Lock(a, "r", LockMode.CR);
        Assert.Equal(new byte[8], reader.Lvb);
        Assert.Equal(0, reader.LvbSeq);
        Assert.True(reader.LvbValid);
        Assert.Null(harness.Lock(a, "r", LockMode.NL).Lvb);
    }

    [Theory]
    [InlineData(LockMode.EX, LockMode.NL)]
    [InlineData(LockMode.EX, LockMode.PR)]
    [InlineData(LockMode.PW, LockMode.CR)]
    [InlineData(LockMode.PW, LockMode.PW)]
    public void Down_conversion_from_PW_or_EX_writes_the_value_block(LockMode from, LockMode to)
    {
        var harness = new Harness();
        var a = harness.Session();
        var writer = harness.Lock(a, "r", from);
        harness.Convert(writer.LockId, to, Harness.Lvb(7));
        var view = harness.Resource("r")!;
        Assert.Equal(7UL, Harness.Counter(view.Lvb));
        Assert.Equal(1, view.LvbSeq);
        Assert.True(view.LvbValid);
    }

    [Theory]
    [InlineData(LockMode.PW)]
    [InlineData(LockMode.EX)]
    public void Unlock_from_PW_or_EX_writes_the_value_block(LockMode mode)
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(b, "r", LockMode.NL);
        var writer = harness.Lock(a, "r", mode);
        harness.Unlock(writer.LockId, Harness.Lvb(99));
        var reader = harness.Lock(a, "r", LockMode.PR);
        Assert.Equal(99UL, Harness.Counter(reader.Lvb));
    }

    [Theory]
    [InlineData(LockMode.NL)]
    [InlineData(LockMode.CR)]
    [InlineData(LockMode.CW)]
    [InlineData(LockMode.PR)]
    public void Write_from_a_mode_below_PW_is_refused_as_conflict(LockMode mode)
    {
        var harness = new Harness();
        var a = harness.Session();
        var holder = harness.Lock(a, "r", mode);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryUnlock(holder.LockId, Harness.Lvb(1))).Code);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryConvert(holder.LockId, LockMode.NL, Harness.Lvb(1))).Code);
        Assert.True(harness.Exists(holder.LockId));
        Assert.Equal(0, harness.Resource("r")!.LvbSeq);
    }

    [Fact]
    public void Upward_conversion_with_a_value_block_is_refused()
    {
        var harness = new Harness();
        var a = harness.Session();
        var holder = harness.Lock(a, "r", LockMode.PW);
        Assert.Equal(ErrorCode.Conflict, Assert.IsType<ErrorResult>(harness.TryConvert(holder.LockId, LockMode.EX, Harness.Lvb(1))).Code);
        Assert.Equal(LockMode.PW, harness.Get(holder.LockId).Mode);
    }

    [Fact]
    public void IvValBlk_marks_the_value_block_invalid_and_the_next_writer_makes_it_valid()
    {
        var harness = new Harness();
        var a = harness.Session();
        harness.Lock(a, "keep", LockMode.NL);
        var writer = harness.Lock(a, "r", LockMode.EX);
        harness.Lock(a, "r", LockMode.NL);
        harness.Unlock(writer.LockId, flags: LockFlags.IvValBlk);
        Assert.False(harness.Resource("r")!.LvbValid);
        var next = harness.Lock(a, "r", LockMode.EX);
        Assert.False(next.LvbValid);
        harness.Convert(next.LockId, LockMode.NL, Harness.Lvb(5));
        Assert.True(harness.Resource("r")!.LvbValid);
    }

    [Fact]
    public void Value_block_of_an_expired_PW_or_EX_holder_is_invalid_and_other_holders_are_told()
    {
        var harness = new Harness();
        var (dead, reader) = (harness.Session(), harness.Session());
        var keeper = harness.Lock(reader, "r", LockMode.NL);
        var writer = harness.Lock(dead, "r", LockMode.EX);
        harness.Convert(writer.LockId, LockMode.EX, Harness.Lvb(12));
        harness.Ok<DoneResult>(new ExpireSession(dead));
        var view = harness.Resource("r")!;
        Assert.False(view.LvbValid);
        Assert.Equal(12UL, Harness.Counter(view.Lvb));
        var invalid = Assert.Single(harness.Events(reader, EventType.LvbInvalid));
        Assert.Equal(keeper.LockId, invalid.LockId);
        Assert.False(invalid.LvbValid);
    }

    [Fact]
    public void Value_block_survives_an_expired_reader()
    {
        var harness = new Harness();
        var (dead, keeper) = (harness.Session(), harness.Session());
        harness.Lock(keeper, "r", LockMode.NL);
        harness.Lock(dead, "r", LockMode.PR);
        harness.Ok<DoneResult>(new ExpireSession(dead));
        Assert.True(harness.Resource("r")!.LvbValid);
    }

    [Fact]
    public void Clean_release_without_a_value_block_keeps_it_valid_and_unchanged()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(b, "r", LockMode.NL);
        var writer = harness.Lock(a, "r", LockMode.EX);
        harness.Convert(writer.LockId, LockMode.EX, Harness.Lvb(3));
        harness.Unlock(writer.LockId);
        var view = harness.Resource("r")!;
        Assert.True(view.LvbValid);
        Assert.Equal(3UL, Harness.Counter(view.Lvb));
        Assert.Equal(1, view.LvbSeq);
    }

    [Fact]
    public void Value_block_is_discarded_with_the_last_lock_unless_an_NL_lock_keeps_it()
    {
        var harness = new Harness();
        var a = harness.Session();
        var writer = harness.Lock(a, "gone", LockMode.EX);
        harness.Unlock(writer.LockId, Harness.Lvb(8));
        Assert.Equal(0UL, Harness.Counter(harness.Lock(a, "gone", LockMode.PR).Lvb));

        var keeper = harness.Lock(a, "kept", LockMode.NL);
        writer = harness.Lock(a, "kept", LockMode.EX);
        harness.Unlock(writer.LockId, Harness.Lvb(8));
        Assert.Equal(8UL, Harness.Counter(harness.Lock(a, "kept", LockMode.PR).Lvb));
        _ = keeper;
    }

    [Fact]
    public void Value_block_of_the_wrong_size_is_invalid_request()
    {
        var harness = new Harness();
        var a = harness.Session();
        var writer = harness.Lock(a, "r", LockMode.EX);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryUnlock(writer.LockId, new byte[7])).Code);
        Assert.Equal(ErrorCode.InvalidRequest, Assert.IsType<ErrorResult>(harness.TryConvert(writer.LockId, LockMode.NL, new byte[16])).Code);
        Assert.True(harness.Exists(writer.LockId));
        Assert.Equal(LockMode.EX, harness.Get(writer.LockId).Mode);
    }

    [Fact]
    public void Value_block_sequence_tells_whether_it_changed_since_last_held()
    {
        var harness = new Harness();
        var (a, b) = (harness.Session(), harness.Session());
        harness.Lock(a, "r", LockMode.NL);
        var first = harness.Lock(b, "r", LockMode.PR);
        harness.Unlock(first.LockId);
        var again = harness.Lock(b, "r", LockMode.PR);
        Assert.Equal(first.LvbSeq, again.LvbSeq);
        harness.Unlock(again.LockId);

        var writer = harness.Lock(a, "r", LockMode.EX);
        harness.Unlock(writer.LockId, Harness.Lvb(1));
        var later = harness.Lock(b, "r", LockMode.PR);
        Assert.True(later.LvbSeq > again.LvbSeq);
    }

    [Fact]
    public void Counter_in_the_value_block_counts_every_writer()
    {
        var harness = new Harness();
        var keeper = harness.Session();
        harness.Lock(keeper, "counter", LockMode.NL);
        var sessions = Enumerable.Range(0, 10).Select(_ => harness.Session()).ToList();
        foreach (var session in sessions)
        {
            var held = harness.Lock(session, "counter", LockMode.EX);
            harness.Unlock(held.LockId, Harness.Lvb(Harness.Counter(held.Lvb) + 1));
        }
        Assert.Equal(10UL, Harness.Counter(harness.Resource("counter")!.Lvb));
    }
}
