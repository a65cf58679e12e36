using System.Buffers.Binary;

namespace RaftDlm.Consensus.Storage;

/// The node's term and vote, durable before Save returns; never goes back after a crash.
///
/// Two slots, in separate 512-byte sectors of a preallocated 1024-byte file, written alternately and each
/// synced: a torn write can only damage the slot being written, and the other one still holds the previous
/// Save. At Open the valid slot with the higher sequence number wins. A slot: magic "RDTV" (u32), version
/// (u8), sequence (u64), term (i64), vote length (u8), vote (64 bytes), CRC-32C of the bytes before it (u32).
internal sealed class TermVoteFile : IDisposable
{
    internal const int VoteBytesMax = 64;
    private const int SlotBytes = 512;
    private const int SlotDataBytes = 4 + 1 + 8 + 8 + 1 + VoteBytesMax;
    private const uint Magic = 0x56544452; // "RDTV" read as a little-endian u32
    private const byte FormatVersion = 1;

    private readonly IStorageFile _file;
    private long _sequence;
    private long _term;
    private byte[] _votedFor = [];

    private TermVoteFile(IStorageFile file) => _file = file;

    public static TermVoteFile Open(IStorageFiles files, string path)
    {
        ArgumentNullException.ThrowIfNull(files);
        var existed = files.Exists(path);
        var file = files.OpenOrCreate(path);
        try
        {
            if (!existed || file.Length < 2 * SlotBytes)
            {
                // Preallocated by writing, so that a Save's fdatasync writes no metadata; the directory sync
                // makes the file's name durable before any Save relies on it.
                file.Write(0, new byte[2 * SlotBytes]);
                file.Sync();
                files.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            }

            var termVote = new TermVoteFile(file);
            termVote.Load();
            return termVote;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public long Term => _term;

    public ReadOnlyMemory<byte> VotedFor => _votedFor;   // empty = no vote in this term

    public void Save(long term, ReadOnlySpan<byte> votedFor)  // votedFor at most 64 bytes
    {
        if (votedFor.Length > VoteBytesMax)
        {
            throw new ArgumentException($"A vote is at most {VoteBytesMax} bytes, not {votedFor.Length}.", nameof(votedFor));
        }

        var sequence = _sequence + 1;
        var slot = new byte[SlotDataBytes + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(slot, Magic);
        slot[4] = FormatVersion;
        BinaryPrimitives.WriteInt64LittleEndian(slot.AsSpan(5), sequence);
        BinaryPrimitives.WriteInt64LittleEndian(slot.AsSpan(13), term);
        slot[21] = (byte)votedFor.Length;
        votedFor.CopyTo(slot.AsSpan(22));
        BinaryPrimitives.WriteUInt32LittleEndian(slot.AsSpan(SlotDataBytes), Crc32C.Compute(slot.AsSpan(0, SlotDataBytes)));

        // The slot of this sequence number is never the one holding the latest valid Save.
        _file.Write(sequence % 2 * SlotBytes, slot);
        _file.Sync();
        _sequence = sequence;
        _term = term;
        _votedFor = votedFor.ToArray();
    }

    public void Dispose() => _file.Dispose();

    private void Load()
    {
        var slot = new byte[SlotDataBytes + 4];
        for (var i = 0; i < 2; i++)
        {
            slot.AsSpan().Clear();
            if (_file.Read(i * SlotBytes, slot) != slot.Length
                || BinaryPrimitives.ReadUInt32LittleEndian(slot) != Magic
                || BinaryPrimitives.ReadUInt32LittleEndian(slot.AsSpan(SlotDataBytes)) != Crc32C.Compute(slot.AsSpan(0, SlotDataBytes)))
            {
                continue;
            }

            if (slot[4] != FormatVersion)
            {
                throw new InvalidDataException($"The term and vote file has format version {slot[4]}; this build reads version {FormatVersion}.");
            }

            var sequence = BinaryPrimitives.ReadInt64LittleEndian(slot.AsSpan(5));
            if (sequence > _sequence && slot[21] <= VoteBytesMax)
            {
                _sequence = sequence;
                _term = BinaryPrimitives.ReadInt64LittleEndian(slot.AsSpan(13));
                _votedFor = slot.AsSpan(22, slot[21]).ToArray();
            }
        }
    }
}
