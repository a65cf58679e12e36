using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RaftDlm.Consensus.TestNode;

/// <summary>
/// A trivial deterministic machine for process-level tests: it keeps every applied command, a chained hash
/// over (leader time, command), and counts leader-time regressions (which must stay zero).
/// </summary>
internal sealed class CountingStateMachine : IReplicatedStateMachine
{
    private readonly Lock gate = new();
    private readonly List<string> commands = [];
    private byte[] hash = new byte[32];
    private long lastAppliedIndex;
    private long lastLeaderTimeMs;
    private long timeRegressions;

    public long LastAppliedIndex
    {
        get
        {
            lock (gate)
                return lastAppliedIndex;
        }
    }

    public object? Apply(long index, long leaderTimeMs, ReadOnlySpan<byte> command)
    {
        lock (gate)
        {
            if (leaderTimeMs < lastLeaderTimeMs)
                timeRegressions++;
            lastLeaderTimeMs = leaderTimeMs;
            lastAppliedIndex = index;
            commands.Add(Encoding.UTF8.GetString(command));
            Span<byte> block = stackalloc byte[32 + 8];
            hash.CopyTo(block);
            BinaryPrimitives.WriteInt64LittleEndian(block[32..], leaderTimeMs);
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            sha.AppendData(block);
            sha.AppendData(command);
            hash = sha.GetHashAndReset();
            return $"applied#{commands.Count}@{index}";
        }
    }

    public string Status()
    {
        lock (gate)
            return $"count={commands.Count} hash={Convert.ToHexString(hash)[..16]} machineIndex={lastAppliedIndex} lastTime={lastLeaderTimeMs} regressions={timeRegressions}";
    }

    public bool Contains(string command)
    {
        lock (gate)
            return commands.Contains(command);
    }

    public void WriteSnapshot(Stream destination)
    {
        lock (gate)
        {
            using var writer = new BinaryWriter(destination, Encoding.UTF8, leaveOpen: true);
            writer.Write(lastAppliedIndex);
            writer.Write(lastLeaderTimeMs);
            writer.Write(timeRegressions);
            writer.Write(hash);
            writer.Write(commands.Count);
            foreach (var command in commands)
                writer.Write(command);
        }
    }

    public void RestoreSnapshot(Stream source)
    {
        lock (gate)
        {
            using var reader = new BinaryReader(source, Encoding.UTF8, leaveOpen: true);
            lastAppliedIndex = reader.ReadInt64();
            lastLeaderTimeMs = reader.ReadInt64();
            timeRegressions = reader.ReadInt64();
            hash = reader.ReadBytes(32);
            var count = reader.ReadInt32();
            commands.Clear();
            for (var i = 0; i < count; i++)
                commands.Add(reader.ReadString());
        }
    }
}
