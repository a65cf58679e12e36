namespace RaftDlm.Jepsen.Checkers;

/// <summary>The standard DLM compatibility matrix and the down-conversion rule.</summary>
public static class Modes
{
    public static readonly string[] All = ["NL", "CR", "CW", "PR", "PW", "EX"];

    private static readonly bool[,] Matrix =
    {
        //        NL     CR     CW     PR     PW     EX
        /* NL */ { true,  true,  true,  true,  true,  true  },
        /* CR */ { true,  true,  true,  true,  true,  false },
        /* CW */ { true,  true,  true,  false, false, false },
        /* PR */ { true,  true,  false, true,  false, false },
        /* PW */ { true,  true,  false, false, false, false },
        /* EX */ { true,  false, false, false, false, false },
    };

    public static bool Compatible(string a, string b) => Matrix[Array.IndexOf(All, a), Array.IndexOf(All, b)];

    /// <summary>A conversion whose new mode is compatible with everything the old one was (it keeps its token).</summary>
    public static bool IsDownConversion(string from, string to) => All.All(other => !Compatible(from, other) || Compatible(to, other));
}
