using RaftDlm.Consensus.Storage;

namespace RaftDlm.Consensus.Tests.Storage;

/// A seeded random workload of appends, syncs, truncations, resets, compactions and term/vote saves on a
/// RecordLog and a TermVoteFile over PowerLossFiles, cut at a random low-level operation, reopened and
/// checked, several times per seed. Run returns null when every check held, else what failed (with the seed
/// and the cut point, to replay it).
internal sealed class PowerLossWorkload
{
    private const string LogDirectory = "/data/log";
    private const string TermVotePath = "/data/term-vote";
    private const long SegmentBytes = 700;
    private const int CrashesPerSeed = 3;
    private const int OperationsPerRoundMax = 2_000;

    private readonly Random _random;
    private readonly int _seed;
    private readonly long _ignoredSync;

    // The model. Current: every record appended, by index from CurrentFirst. SyncedLast: the last index a
    // completed Sync (or truncation or reset) made durable. DropFloor: the highest index a DropThrough was
    // asked for, completed or not.
    private List<Record> _current = [];
    private long _currentFirst = 1;
    private long _syncedLast;
    private long _dropFloor;
    private (long Term, byte[] Vote) _savedTermVote = (0, []);
    private (long Term, byte[] Vote)? _savingTermVote;
    private (string Kind, long Index)? _inFlight;
    private long _term = 1;

    private PowerLossWorkload(int seed, long ignoredSync)
    {
        _seed = seed;
        _random = new Random(seed);
        _ignoredSync = ignoredSync;
    }

    public int TornWritesKept { get; private set; }

    private long CurrentLast => _currentFirst + _current.Count - 1;

    public static string? Run(int seed, long ignoredSync = 0) => Run(seed, ignoredSync, out _);

    public static string? Run(int seed, long ignoredSync, out int tornWritesKept)
    {
        var workload = new PowerLossWorkload(seed, ignoredSync);
        var failure = workload.Run();
        tornWritesKept = workload.TornWritesKept;
        return failure;
    }

    private string? Run()
    {
        var files = new PowerLossFiles { IgnoredSync = _ignoredSync };
        var previousCut = "none";
        for (var round = 0; round <= CrashesPerSeed; round++)
        {
            var last = round == CrashesPerSeed;
            files.CutAt = last ? 0 : files.Operations + 1 + _random.Next(300);
            var cutAt = files.CutAt;
            try
            {
                var failure = RunRound(files, check: round > 0, work: !last);
                if (failure is not null)
                {
                    return $"seed {_seed}, after power cut {round} ({previousCut}): {failure}";
                }

                previousCut = $"power cut after the round's last operation, {files.Operations}";
            }
            catch (PowerCutException)
            {
                previousCut = $"cut at low-level operation {cutAt}";
            }
            catch (Exception exception) when (exception is InvalidDataException or ArgumentException or InvalidOperationException or IOException)
            {
                return $"seed {_seed}, round {round} (after {previousCut}, next cut at operation {cutAt}): {exception.GetType().Name}: {exception.Message}";
            }

            if (!last)
            {
                files = files.Crash(_random);
                files.IgnoredSync = 0;
            }
        }

        TornWritesKept = files.TornWritesKept;
        return null;
    }

    private string? RunRound(PowerLossFiles files, bool check, bool work)
    {
        using var log = RecordLog.Open(files, LogDirectory, SegmentBytes, preallocateInBackground: false);
        using var termVote = TermVoteFile.Open(files, TermVotePath);
        if (check)
        {
            var failure = CheckLog(log) ?? CheckTermVote(termVote);
            if (failure is not null)
            {
                return failure;
            }
        }

        ResetModel(log, termVote);
        for (var i = 0; work && i < OperationsPerRoundMax; i++)
        {
            var failure = Step(log, termVote);
            if (failure is not null)
            {
                return failure;
            }
        }

        return null;
    }

    private string? Step(RecordLog log, TermVoteFile termVote)
    {
        var choice = _random.Next(100);
        if (choice < 50)
        {
            // One record, or a few in one AppendRange (a follower's batch): written together where they share a segment.
            var count = _random.Next(3) == 0 ? _random.Next(2, 7) : 1;
            var range = new List<LogRecord>(count);
            for (var k = 0; k < count; k++)
            {
                var size = _random.Next(10) == 0 ? _random.Next((int)SegmentBytes, 2 * (int)SegmentBytes) : _random.Next(0, 250);
                var record = new Record(_term, (byte)_random.Next(256), RandomBytes(size));
                _current.Add(record);
                range.Add(new LogRecord(CurrentLast, record.Term, record.Flags, record.Payload));
            }
            if (count == 1)
            {
                log.Append(range[0].Index, range[0].Term, range[0].Flags, range[0].Payload.Span);
            }
            else
            {
                log.AppendRange(range);
            }
        }
        else if (choice < 70)
        {
            log.Sync();
            _syncedLast = CurrentLast;
        }
        else if (choice < 76 && _current.Count > 0)
        {
            // As Raft does when a new leader overwrites a follower's tail: later records get a higher term.
            var index = _random.NextInt64(Math.Max(_currentFirst, log.FirstIndex) - 1, CurrentLast + 1);
            _inFlight = ("TruncateAfter", index);
            log.TruncateAfter(index);
            _inFlight = null;
            _current.RemoveRange((int)(index + 1 - _currentFirst), (int)(CurrentLast - index));
            _syncedLast = Math.Min(_syncedLast, index);
            _term++;
        }
        else if (choice < 78)
        {
            var index = Math.Max(0, CurrentLast + _random.Next(-5, 20));
            _inFlight = ("ResetTo", index);
            log.ResetTo(index);
            _inFlight = null;
            _current = [];
            _currentFirst = index + 1;
            _syncedLast = index;
            _dropFloor = index;
        }
        else if (choice < 84)
        {
            var index = _random.NextInt64(_currentFirst - 1, CurrentLast + 1);
            _dropFloor = Math.Max(_dropFloor, index);
            log.DropThrough(index);
            if (log.FirstIndex > _dropFloor + 1)
            {
                return $"DropThrough({index}) moved FirstIndex to {log.FirstIndex}";
            }
        }
        else if (choice < 94)
        {
            var term = _savedTermVote.Term + _random.Next(3);
            var vote = RandomBytes(_random.Next(TermVoteFile.VoteBytesMax + 1));
            _savingTermVote = (term, vote);
            termVote.Save(term, vote);
            _savedTermVote = (term, vote);
            _savingTermVote = null;
        }
        else if (CurrentLast >= log.FirstIndex)
        {
            var index = _random.NextInt64(log.FirstIndex, CurrentLast + 1);
            return Compare(index, log.Read(index));
        }

        return null;
    }

    /// The properties after a power cut and Open (the in-flight operation may have happened or not).
    private string? CheckLog(RecordLog log)
    {
        long first = log.FirstIndex, last = log.LastIndex;
        if (_inFlight is ("ResetTo", var reset) && first == reset + 1 && last == reset)
        {
            return null;
        }

        var truncatedDurably = _inFlight is ("TruncateAfter", var truncate) && last <= truncate && last >= Math.Min(_syncedLast, truncate);
        if (last < _syncedLast && !truncatedDurably)
        {
            return $"a synced record was lost: the log ends at {last}, but records up to {_syncedLast} were synced";
        }

        if (last > CurrentLast)
        {
            return $"the log ends at {last}, past the last record written ({CurrentLast})";
        }

        if (first < _currentFirst || first > Math.Max(_currentFirst, _dropFloor + 1))
        {
            return $"the log starts at {first}; expected from {_currentFirst} to {Math.Max(_currentFirst, _dropFloor + 1)} (a synced record was lost at the front)";
        }

        for (var index = first; index <= last; index++)
        {
            var failure = Compare(index, log.Read(index));
            if (failure is not null)
            {
                return failure;
            }
        }

        return null;
    }

    private string? CheckTermVote(TermVoteFile termVote)
    {
        var found = (termVote.Term, termVote.VotedFor.ToArray());
        if (Same(found, _savedTermVote) || (_savingTermVote is { } saving && Same(found, saving)))
        {
            return null;
        }

        return $"term and vote are {found.Term}/{Convert.ToHexString(found.Item2)}; the last completed Save was " +
            $"{_savedTermVote.Term}/{Convert.ToHexString(_savedTermVote.Vote)}";

        static bool Same((long Term, byte[] Vote) a, (long Term, byte[] Vote) b) => a.Term == b.Term && a.Vote.AsSpan().SequenceEqual(b.Vote);
    }

    private string? Compare(long index, LogRecord found)
    {
        var expected = _current[(int)(index - _currentFirst)];
        if (found.Index != index || found.Term != expected.Term || found.Flags != expected.Flags
            || !found.Payload.Span.SequenceEqual(expected.Payload))
        {
            return $"record {index} is term {found.Term}, flags {found.Flags}, {found.Payload.Length} bytes; " +
                $"written as term {expected.Term}, flags {expected.Flags}, {expected.Payload.Length} bytes";
        }

        return null;
    }

    /// After a check, the reopened log is the model: what it holds is now durable.
    private void ResetModel(RecordLog log, TermVoteFile termVote)
    {
        var records = new List<Record>();
        for (var index = log.FirstIndex; index <= log.LastIndex; index++)
        {
            var record = log.Read(index);
            records.Add(new Record(record.Term, record.Flags, record.Payload.ToArray()));
        }

        _current = records;
        _currentFirst = log.FirstIndex;
        _syncedLast = log.LastIndex;
        _dropFloor = log.FirstIndex - 1;
        _inFlight = null;
        _term = Math.Max(_term, records.Count == 0 ? 0 : records[^1].Term) + 1;
        _savedTermVote = (termVote.Term, termVote.VotedFor.ToArray());
        _savingTermVote = null;
    }

    private byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        _random.NextBytes(bytes);
        return bytes;
    }

    private sealed record Record(long Term, byte Flags, byte[] Payload);
}
