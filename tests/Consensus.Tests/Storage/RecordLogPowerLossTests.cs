using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus.Tests.Storage;

/// The log and the term/vote file under power cuts at thousands of points: synced records survive, nothing
/// truncated reappears, torn tails are cut, term and vote never go back (docs/testing.md, "Power loss").
public sealed class RecordLogPowerLossTests
{
    private const int Seeds = 3_000;

    [Fact]
    public void Synced_records_and_saved_votes_survive_a_power_cut_at_any_point()
    {
        // RAFTDLM_POWER_LOSS_SEED=n replays one seed (a failure names its seed and cut point).
        var replay = Environment.GetEnvironmentVariable("RAFTDLM_POWER_LOSS_SEED");
        var (firstSeed, lastSeed) = replay is null ? (1, Seeds) : (int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture), int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture));
        var tornWritesKept = 0;
        for (var seed = firstSeed; seed <= lastSeed; seed++)
        {
            var failure = PowerLossWorkload.Run(seed, ignoredSync: 0, out var torn);
            Assert.True(failure is null, failure);
            tornWritesKept += torn;
        }

        // The cuts must reach the interesting case: a crash that kept a torn write the log then had to cut.
        Assert.True(replay is not null || tornWritesKept > Seeds / 10, $"only {tornWritesKept} crashes kept a torn write");
    }

    /// A truncation cut by a power loss before it returns leaves the old log or the new one, never the old
    /// one cut somewhere in the dropped tail, even when the disk writes the zeroing's sectors out of order.
    /// The random workload rarely meets this case; here every low-level step of one truncation is cut, and
    /// each cut state crashed 300 ways.
    [Fact]
    public void An_interrupted_truncation_leaves_the_old_log_or_the_new_one_in_any_sector_order()
    {
        for (var cutAt = 1; ; cutAt++)
        {
            var files = new PowerLossFiles();
            using (var log = RecordLog.Open(files, "/log", 4096, preallocateInBackground: false))
            {
                for (var index = 1; index <= 30; index++)
                {
                    log.Append(index, 1, 0, new byte[100]);
                }

                log.Sync();
                files.CutAt = files.Operations + cutAt;
                try
                {
                    log.TruncateAfter(5);
                    return; // every step of the truncation has been cut
                }
                catch (PowerCutException)
                {
                }
            }

            for (var crash = 0; crash < 300; crash++)
            {
                using var reopened = RecordLog.Open(files.Crash(new Random(crash)), "/log", 4096, preallocateInBackground: false);
                Assert.True(reopened.LastIndex is 5 or 30,
                    $"cut at step {cutAt} of TruncateAfter(5), crash {crash}: the log ends at {reopened.LastIndex}");
            }
        }
    }

    /// The checker itself: a file layer that forgets one fdatasync must make it report a lost synced record.
    [Fact]
    public void The_checker_reports_a_lost_record_when_one_sync_is_skipped()
    {
        string? caught = null;
        for (var seed = 1; seed <= 500 && caught is null; seed++)
        {
            var failure = PowerLossWorkload.Run(seed, ignoredSync: 3 + (seed % 10));
            if (failure is not null && failure.Contains("a synced record was lost", StringComparison.Ordinal))
            {
                caught = failure;
            }
        }

        Assert.NotNull(caught);
    }
}
