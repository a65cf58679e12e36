using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace RaftDlm.Consensus.Storage;

/// CRC-32C (Castagnoli), as iSCSI, ext4 and etcd's WAL use it. System.IO.Hashing 10 has only CRC-32 and
/// CRC-64, so this is a small one: the CPU's instruction where there is one, a table otherwise.
internal static class Crc32C
{
    private const uint Polynomial = 0x82F63B78; // reversed 0x1EDC6F41

    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data) => ~Append(0xFFFFFFFF, data);

    private static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        if (Sse42.X64.IsSupported)
        {
            ulong wide = crc;
            while (data.Length >= 8)
            {
                wide = Sse42.X64.Crc32(wide, BitConverter.ToUInt64(data));
                data = data[8..];
            }

            crc = (uint)wide;
        }
        else if (Crc32.Arm64.IsSupported)
        {
            while (data.Length >= 8)
            {
                crc = Crc32.Arm64.ComputeCrc32C(crc, BitConverter.ToUInt64(data));
                data = data[8..];
            }
        }

        if (Sse42.IsSupported)
        {
            foreach (var b in data)
            {
                crc = Sse42.Crc32(crc, b);
            }

            return crc;
        }

        if (Crc32.IsSupported)
        {
            foreach (var b in data)
            {
                crc = Crc32.ComputeCrc32C(crc, b);
            }

            return crc;
        }

        return AppendWithTable(crc, data);
    }

    internal static uint ComputeWithTable(ReadOnlySpan<byte> data) => ~AppendWithTable(0xFFFFFFFF, data);

    private static uint AppendWithTable(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            var value = i;
            for (var bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? (value >> 1) ^ Polynomial : value >> 1;
            }

            table[i] = value;
        }

        return table;
    }
}
