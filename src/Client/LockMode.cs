namespace RaftDlm.Client;

/// <summary>The six lock modes of the VMS / Linux DLM model, weakest first.</summary>
public enum LockMode
{
    /// <summary>Null: no access; keeps the resource (and its LVB) alive.</summary>
    NL,
    /// <summary>Concurrent read.</summary>
    CR,
    /// <summary>Concurrent write.</summary>
    CW,
    /// <summary>Protected read.</summary>
    PR,
    /// <summary>Protected write.</summary>
    PW,
    /// <summary>Exclusive.</summary>
    EX,
}

/// <summary>Compatibility and coverage between modes, as the server computes them.</summary>
public static class LockModes
{
    // Compatible[a, b]: a holder in mode a and a holder in mode b may coexist.
    private static readonly bool[,] Compatible =
    {
        //        NL    CR     CW     PR     PW     EX
        /* NL */ { true, true,  true,  true,  true,  true },
        /* CR */ { true, true,  true,  true,  true,  false },
        /* CW */ { true, true,  true,  false, false, false },
        /* PR */ { true, true,  false, true,  false, false },
        /* PW */ { true, true,  false, false, false, false },
        /* EX */ { true, false, false, false, false, false },
    };

    /// <summary>True when a holder in <paramref name="a"/> and one in <paramref name="b"/> may coexist.</summary>
    public static bool AreCompatible(LockMode a, LockMode b) => Compatible[(int)a, (int)b];

    /// <summary>True when <paramref name="held"/> excludes at least what <paramref name="wanted"/> excludes.</summary>
    public static bool Covers(LockMode held, LockMode wanted)
    {
        for (var other = LockMode.NL; other <= LockMode.EX; other++)
        {
            if (!AreCompatible(wanted, other) && AreCompatible(held, other)) return false;
        }
        return true;
    }

    /// <summary>True for the modes that may write the LVB (PW and EX).</summary>
    public static bool MayWriteLvb(LockMode mode) => mode is LockMode.PW or LockMode.EX;

    /// <summary>Parses a wire name (NL, CR, CW, PR, PW, EX), case-insensitively.</summary>
    public static LockMode Parse(string text) => Enum.TryParse<LockMode>(text, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
        ? mode
        : throw new FormatException($"unknown lock mode '{text}': use NL, CR, CW, PR, PW or EX");
}
