namespace RaftDlm.LockStateMachine.Tests.Rules;

public sealed class CompatibilityTests
{
    // Rows and columns NL CR CW PR PW EX, copied from the semantics table.
    private static readonly string[] Table =
    [
        "yyyyyy",
        "yyyyyn",
        "yyynnn",
        "yynynn",
        "yynnnn",
        "ynnnnn",
    ];

    [Fact]
    public void Compatibility_matrix_matches_the_spec_table()
    {
        for (var a = 0; a < 6; a++)
        {
            for (var b = 0; b < 6; b++)
            {
                Assert.Equal(Table[a][b] == 'y', Modes.Compatible((LockMode)a, (LockMode)b));
            }
        }
    }

    [Fact]
    public void Every_pair_of_modes_is_granted_together_exactly_when_compatible()
    {
        for (var a = 0; a < 6; a++)
        {
            for (var b = 0; b < 6; b++)
            {
                var harness = new Harness();
                var first = harness.Session("a");
                var second = harness.Session("b");
                harness.Lock(first, "r", (LockMode)a);
                var result = harness.TryLock(second, "r", (LockMode)b, LockFlags.NoQueue);
                if (Table[a][b] == 'y') Assert.Equal(LockViewState.Granted, Assert.IsType<LockResult>(result).Lock.State);
                else Assert.Equal(ErrorCode.WouldBlock, Assert.IsType<ErrorResult>(result).Code);
            }
        }
    }

    [Theory]
    [InlineData(LockMode.EX, LockMode.PW, true)]
    [InlineData(LockMode.PW, LockMode.PR, true)]
    [InlineData(LockMode.PR, LockMode.CW, false)]
    [InlineData(LockMode.CW, LockMode.PR, false)]
    [InlineData(LockMode.CR, LockMode.NL, true)]
    [InlineData(LockMode.NL, LockMode.CR, false)]
    public void Covers_orders_modes_by_what_they_exclude(LockMode held, LockMode wanted, bool covers) =>
        Assert.Equal(covers, Modes.Covers(held, wanted));
}
