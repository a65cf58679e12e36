using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RaftDlm.Consensus.TestNode;

/// <summary>
/// A trivial deterministic machine for process-level tests: it keeps every applied command, a chained hash
/// over (leader time, command), and counts leader-time regressions (which must stay zero). Given a
/// <see cref="RefusedPrefix"/>, it plays a build of an older version: a command starting with it is one it does
/// not know, and it refuses it as the server does (docs/formats.md).
/// </summary>
internal sealed class CountingStateMachine : IReplicatedStateMachine
{
    /// <summary>Commands starting with this are refused with <see cref="UnsupportedFormatException"/>; null refuses none.</summary>
    public string? RefusedPrefix { get; init; }

    private readonly Lock _gate = new();
    private readonly List<string> _commands = [];
    private byte[] _hash = new byte[32];
    private long _lastAppliedIndex;
    private long _lastLeaderTimeMs;
    private long _timeRegressions;

    public long LastAppliedIndex
    {
        get
        {
            lock (_gate)
            {
                return _lastAppliedIndex;
            }
        }
    }

    public object? Apply(long index, int position, long leaderTimeMs, ReadOnlySpan<byte> command)
    {
        if (RefusedPrefix is { } prefix && Encoding.UTF8.GetString(command).StartsWith(prefix, StringComparison.Ordinal))
        {
            throw new UnsupportedFormatException($"The command of entry {index} is of a kind this build does not know.");
        }
        lock (_gate)
        {
            if (leaderTimeMs < _lastLeaderTimeMs)
            {
                _timeRegressions++;
            }
            _lastLeaderTimeMs = leaderTimeMs;
            _lastAppliedIndex = index;
            _commands.Add(Encoding.UTF8.GetString(command));
            Span<byte> block = stackalloc byte[32 + 8];
            _hash.CopyTo(block);
            BinaryPrimitives.WriteInt64LittleEndian(block[32..], leaderTimeMs);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha.AppendData(block);
            sha.AppendData(command);
            _hash = sha.GetHashAndReset();
            return $"applied#{_commands.Count}@{index}";
        }
    }

    public string Status()
    {
        lock (_gate)
        {
            return $"count={_commands.Count} hash={Convert.ToHexString(_hash)[..16]} machineIndex={_lastAppliedIndex} lastTime={_lastLeaderTimeMs} regressions={_timeRegressions}";
        }
    }

    public bool Contains(string command)
    {
        lock (_gate)
        {
            return _commands.Contains(command);
        }
    }

    public void WriteSnapshot(Stream destination)
    {
        lock (_gate)
        {
            using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
            writer.Write(_lastAppliedIndex);
            writer.Write(_lastLeaderTimeMs);
            writer.Write(_timeRegressions);
            writer.Write(_hash);
            writer.Write(_commands.Count);
            foreach (var command in _commands)
            {
                writer.Write(command);
            }
        }
    }

    /// <summary>
    /// Test hook: the next snapshot restore (an install from the leader, once the node runs) first sleeps this
    /// long, to make an install outlast the Raft request timeout.
    /// </summary>
    public int SlowNextRestoreMs { get; set; }

    /// <summary>Test hook: every snapshot restore (every install from the leader, once the node runs) first sleeps this long.</summary>
    public int SlowRestoresMs { get; set; }

    public void RestoreSnapshot(Stream source)
    {
        var delayMs = SlowRestoresMs + SlowNextRestoreMs;
        SlowNextRestoreMs = 0;
        if (delayMs > 0)
        {
            Thread.Sleep(delayMs);
        }

        lock (_gate)
        {
            using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
            _lastAppliedIndex = reader.ReadInt64();
            _lastLeaderTimeMs = reader.ReadInt64();
            _timeRegressions = reader.ReadInt64();
            _hash = reader.ReadBytes(32);
            var count = reader.ReadInt32();
            _commands.Clear();
            for (var i = 0; i < count; i++)
            {
                _commands.Add(reader.ReadString());
            }
        }
    }
}
