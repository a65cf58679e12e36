namespace RaftDlm.LockStateMachine;

/// <summary>The six VMS lock modes, weakest first.</summary>
public enum LockMode : byte
{
    NL = 0,
    CR = 1,
    CW = 2,
    PR = 3,
    PW = 4,
    EX = 5,
}

/// <summary>Request flags. Which flags a command accepts is checked by <see cref="CommandShape"/>.</summary>
[Flags]
public enum LockFlags : ushort
{
    None = 0,
    NoQueue = 1 << 0,
    NoQueueBast = 1 << 1,
    QueCvt = 1 << 2,
    Expedite = 1 << 3,
    HeadQue = 1 << 4,
    NoOrder = 1 << 5,
    AltPr = 1 << 6,
    AltCw = 1 << 7,
    ConvDeadlk = 1 << 8,
    IvValBlk = 1 << 9,
    Persistent = 1 << 10,

    /// <summary>The request is left out of deadlock detection (DLM_LKF_NODLCKWT).</summary>
    NoDlckWt = 1 << 11,

    /// <summary>DLM_LKF_NODLCKBLK: named so it can be refused; not implemented, as in the Linux DLM.</summary>
    NoDlckBlk = 1 << 12,
}

/// <summary>The compatibility matrix and the orderings derived from it.</summary>
public static class Modes
{
    public const int Count = 6;

    /// <summary>Bit i of entry m is set when mode i can be granted beside mode m.</summary>
    private static readonly byte[] CompatibleSet =
    [
        0b111111, // NL: all
        0b011111, // CR: all but EX
        0b000111, // CW: NL CR CW
        0b001011, // PR: NL CR PR
        0b000011, // PW: NL CR
        0b000001, // EX: NL
    ];

    public const LockFlags NewRequestFlags = LockFlags.NoQueue | LockFlags.NoQueueBast | LockFlags.Expedite
        | LockFlags.HeadQue | LockFlags.NoOrder | LockFlags.AltPr | LockFlags.AltCw | LockFlags.Persistent | LockFlags.NoDlckWt;

    public const LockFlags ConvertFlags = LockFlags.NoQueue | LockFlags.NoQueueBast | LockFlags.QueCvt
        | LockFlags.HeadQue | LockFlags.NoOrder | LockFlags.AltPr | LockFlags.AltCw | LockFlags.ConvDeadlk
        | LockFlags.IvValBlk | LockFlags.NoDlckWt;

    public const LockFlags UnlockFlags = LockFlags.IvValBlk;

    public static bool IsValid(LockMode mode) => (byte)mode < Count;

    public static bool Compatible(LockMode a, LockMode b) => (CompatibleSet[(int)a] & (1 << (int)b)) != 0;

    /// <summary>
    /// True when holding <paramref name="held"/> excludes at least everything <paramref name="wanted"/> excludes,
    /// so a holder of <paramref name="held"/> may act as a holder of <paramref name="wanted"/>.
    /// EX covers everything; CW and PR do not cover each other.
    /// </summary>
    public static bool Covers(LockMode held, LockMode wanted)
    {
        var heldSet = CompatibleSet[(int)held];
        var wantedSet = CompatibleSet[(int)wanted];
        return (heldSet & wantedSet) == heldSet;
    }

    /// <summary>A conversion that only widens what others may hold: always grantable in place.</summary>
    public static bool IsDownConversion(LockMode from, LockMode to) => Covers(from, to);

    /// <summary>PW and EX are the modes that may write the LVB.</summary>
    public static bool CanWriteLvb(LockMode mode) => mode >= LockMode.PW;

    public static bool TryParse(string? text, out LockMode mode)
    {
        switch (text)
        {
            case "NL": mode = LockMode.NL; return true;
            case "CR": mode = LockMode.CR; return true;
            case "CW": mode = LockMode.CW; return true;
            case "PR": mode = LockMode.PR; return true;
            case "PW": mode = LockMode.PW; return true;
            case "EX": mode = LockMode.EX; return true;
            default: mode = LockMode.NL; return false;
        }
    }
}
