using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus.Tests.Storage;

/// The log and the term/vote file on real files (OsStorageFiles) in a temporary directory.
public sealed class RecordLogFileTests : IDisposable
{
    private const long SegmentBytes = 4096;
    private readonly string _directory = Directory.CreateTempSubdirectory("raftdlm-log-").FullName;

    private string LogDirectory => Path.Combine(_directory, "log");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_new_log_is_empty_and_starts_at_one()
    {
        using var log = Open();

        Assert.Equal(1, log.FirstIndex);
        Assert.Equal(0, log.LastIndex);
        Assert.Throws<ArgumentOutOfRangeException>(() => log.Read(1));
        Assert.Equal(["00000000000000000001.seg"], SegmentNames());
    }

    [Fact]
    public void Appended_and_synced_records_are_read_back_after_reopening()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 10, term: 3);
            log.Sync();
            Assert.Equal(10, log.LastIndex);
            AssertRecord(log.Read(4), 4, term: 3);
        }

        using var reopened = Open();
        Assert.Equal(1, reopened.FirstIndex);
        Assert.Equal(10, reopened.LastIndex);
        for (var index = 1; index <= 10; index++)
        {
            AssertRecord(reopened.Read(index), index, term: 3);
        }
    }

    [Fact]
    public void An_append_out_of_order_is_refused()
    {
        using var log = Open();
        AppendSome(log, 1, 2, term: 1);

        Assert.Throws<ArgumentException>(() => log.Append(4, 1, 0, []));
        Assert.Throws<ArgumentException>(() => log.Append(2, 1, 0, []));
        Assert.Equal(2, log.LastIndex);
    }

    [Fact]
    public void Records_roll_over_into_preallocated_segments_named_by_their_first_index()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 100, term: 1); // about 90 bytes each: several segments
            log.Append(101, 1, 7, new byte[10_000]); // larger than a segment: one of its own size
            AppendSome(log, 102, 110, term: 2);
            log.Sync();
        }

        var names = SegmentNames();
        Assert.True(names.Count > 3, string.Join(", ", names));
        Assert.Contains("00000000000000000101.seg", names);
        Assert.True(new FileInfo(Path.Combine(LogDirectory, "00000000000000000101.seg")).Length >= 10_000);
        Assert.All(names.Where(n => n != "00000000000000000101.seg"),
            name => Assert.Equal(SegmentBytes, new FileInfo(Path.Combine(LogDirectory, name)).Length));

        using var reopened = Open();
        Assert.Equal(110, reopened.LastIndex);
        AssertRecord(reopened.Read(100), 100, term: 1);
        Assert.Equal(10_000, reopened.Read(101).Payload.Length);
        AssertRecord(reopened.Read(110), 110, term: 2);
    }

    [Fact]
    public void A_truncated_tail_stays_truncated_and_new_records_replace_it()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 100, term: 1);
            log.Sync();
            log.TruncateAfter(40);
            Assert.Equal(40, log.LastIndex);
            Assert.Throws<ArgumentOutOfRangeException>(() => log.Read(41));
            AppendSome(log, 41, 45, term: 2);
            log.Sync();
        }

        using var reopened = Open();
        Assert.Equal(45, reopened.LastIndex);
        AssertRecord(reopened.Read(40), 40, term: 1);
        AssertRecord(reopened.Read(41), 41, term: 2);
    }

    [Fact]
    public void Reads_of_the_newest_records_kept_in_memory_give_what_a_reopened_log_reads_from_disk()
    {
        // More records than the log keeps in memory (1,024), then a cut, an index appended again with a payload
        // too large to be kept (its slot must not go on naming the older record), and a reset: every read of the
        // open log must equal the read of the same index from the files.
        var large = Enumerable.Range(0, 20_000).Select(i => (byte)i).ToArray();
        var seen = new Dictionary<long, (long Term, byte Flags, byte[] Payload)>();
        using (var log = RecordLog.Open(OsStorageFiles.Instance, LogDirectory, 1 << 20))
        {
            AppendSome(log, 1, 1500, term: 1);
            log.TruncateAfter(1300);
            log.Append(1301, 2, 1, large);
            AppendSome(log, 1302, 1310, term: 2);
            log.Sync();
            Assert.Throws<ArgumentOutOfRangeException>(() => log.Read(1311));
            Assert.Equal(large, log.Read(1301).Payload.ToArray());
            for (var index = 1; index <= 1310; index++)
            {
                var record = log.Read(index);
                seen[index] = (record.Term, record.Flags, record.Payload.ToArray());
            }
        }

        using (var reopened = RecordLog.Open(OsStorageFiles.Instance, LogDirectory, 1 << 20))
        {
            for (var index = 1; index <= 1310; index++)
            {
                var record = reopened.Read(index);
                Assert.Equal((seen[index].Term, seen[index].Flags), (record.Term, record.Flags));
                Assert.Equal(seen[index].Payload, record.Payload.ToArray());
            }
            reopened.ResetTo(5000);
            Assert.Throws<ArgumentOutOfRangeException>(() => reopened.Read(1310));
            AppendSome(reopened, 5001, 5002, term: 3);
            AssertRecord(reopened.Read(5002), 5002, term: 3);
        }
    }

    [Fact]
    public void After_a_reset_the_empty_log_continues_after_the_snapshot_index_across_a_reopen()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 30, term: 1);
            log.Sync();
            log.ResetTo(500);
            Assert.Equal(501, log.FirstIndex);
            Assert.Equal(500, log.LastIndex);
        }

        using (var reopened = Open())
        {
            Assert.Equal(501, reopened.FirstIndex);
            Assert.Equal(500, reopened.LastIndex);
            Assert.Equal(["00000000000000000501.seg"], SegmentNames());
            AppendSome(reopened, 501, 503, term: 4);
            reopened.Sync();
        }

        using var again = Open();
        Assert.Equal(503, again.LastIndex);
        AssertRecord(again.Read(502), 502, term: 4);
    }

    [Fact]
    public void Compaction_deletes_whole_segments_only_and_never_moves_past_the_index_asked()
    {
        using var log = Open();
        AppendSome(log, 1, 200, term: 1);
        log.Sync();
        var segments = SegmentNames().Count;

        log.DropThrough(120);

        Assert.InRange(log.FirstIndex, 2, 121);
        Assert.True(SegmentNames().Count < segments);
        AssertRecord(log.Read(log.FirstIndex), log.FirstIndex, term: 1);
        AssertRecord(log.Read(200), 200, term: 1);
        log.DropThrough(1_000);
        Assert.Equal(200, log.LastIndex);
        Assert.Single(SegmentNames());
    }

    [Fact]
    public void A_torn_tail_is_cut_at_open_and_the_log_takes_appends_after_it()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 10, term: 1);
            log.Sync();
        }

        // Tear the last record: zero its last bytes as a lost sector would.
        var path = Path.Combine(LogDirectory, "00000000000000000001.seg");
        var bytes = File.ReadAllBytes(path);
        var end = Array.FindLastIndex(bytes, b => b != 0) + 1;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = end - 20;
            stream.Write(new byte[20]);
        }

        using (var reopened = Open())
        {
            Assert.Equal(9, reopened.LastIndex);
            AppendSome(reopened, 10, 12, term: 2);
            reopened.Sync();
        }

        using var again = Open();
        Assert.Equal(12, again.LastIndex);
        AssertRecord(again.Read(9), 9, term: 1);
        AssertRecord(again.Read(10), 10, term: 2);
    }

    [Fact]
    public void A_file_cut_short_mid_record_is_cut_at_the_record_and_zeroed()
    {
        using (var log = Open())
        {
            AppendSome(log, 1, 10, term: 1);
            log.Sync();
        }

        var path = Path.Combine(LogDirectory, "00000000000000000001.seg");
        var bytes = File.ReadAllBytes(path);
        var end = Array.FindLastIndex(bytes, b => b != 0) + 1;
        File.WriteAllBytes(path, bytes.AsSpan(0, end - 5).ToArray());

        using var reopened = Open();
        Assert.Equal(9, reopened.LastIndex);
        var after = File.ReadAllBytes(path);
        Assert.True(Array.FindLastIndex(after, b => b != 0) + 1 < end - 5);
    }

    [Fact]
    public async Task Reads_of_earlier_records_run_while_records_are_appended_and_synced()
    {
        using var log = Open();
        AppendSome(log, 1, 50, term: 1);
        log.Sync();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var reader = Task.Run(() =>
        {
            var reads = 0;
            for (; reads < 20_000 && !stop.IsCancellationRequested; reads++)
            {
                var last = log.LastIndex;
                var index = 1 + (reads % last);
                AssertRecord(log.Read(index), index, term: 1);
            }

            return reads;
        });

        for (var index = 51; index <= 400; index++)
        {
            AppendSome(log, index, index, term: 1);
            if (index % 10 == 0)
            {
                log.Sync();
            }
        }

        Assert.True(await reader > 0);
        Assert.Equal(400, log.LastIndex);
    }

    [Fact]
    public void Term_and_vote_are_read_back_after_reopening()
    {
        var path = Path.Combine(_directory, "term-vote");
        using (var termVote = TermVoteFile.Open(OsStorageFiles.Instance, path))
        {
            Assert.Equal(0, termVote.Term);
            Assert.True(termVote.VotedFor.IsEmpty);
            termVote.Save(5, "node-2"u8);
            termVote.Save(6, []);
            termVote.Save(7, "node-3"u8);
            Assert.Throws<ArgumentException>(() => termVote.Save(8, new byte[65]));
        }

        using var reopened = TermVoteFile.Open(OsStorageFiles.Instance, path);
        Assert.Equal(7, reopened.Term);
        Assert.Equal("node-3"u8.ToArray(), reopened.VotedFor.ToArray());
    }

    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0xE3069283u, Crc32C.ComputeWithTable("123456789"u8));
        var data = new byte[1000];
        new Random(7).NextBytes(data);
        for (var length = 0; length < 40; length++)
        {
            Assert.Equal(Crc32C.ComputeWithTable(data.AsSpan(length, 900 - length)), Crc32C.Compute(data.AsSpan(length, 900 - length)));
        }

        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32])); // RFC 3720 B.4: 32 bytes of zeros
    }

    private RecordLog Open() => RecordLog.Open(OsStorageFiles.Instance, LogDirectory, SegmentBytes);

    private List<string> SegmentNames() =>
        Directory.GetFiles(LogDirectory, "*.seg").Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToList();

    private static void AppendSome(RecordLog log, long from, long to, long term)
    {
        for (var index = from; index <= to; index++)
        {
            log.Append(index, term, (byte)(index % 3), Payload(index));
        }
    }

    private static byte[] Payload(long index) => Enumerable.Range(0, (int)(index % 120)).Select(i => (byte)(i + index)).ToArray();

    private static void AssertRecord(LogRecord record, long index, long term)
    {
        Assert.Equal(index, record.Index);
        Assert.Equal(term, record.Term);
        Assert.Equal((byte)(index % 3), record.Flags);
        Assert.Equal(Payload(index), record.Payload.ToArray());
    }
}
