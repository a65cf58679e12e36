using System.Text;

namespace RaftDlm.LockStateMachine;

/// <summary>
/// Name rules, used by <see cref="CommandShape"/> for commands and by the server for reads. A name that
/// breaks them is refused with a reason, never truncated.
/// </summary>
public static class Names
{
    public const int MaxBytes = 64;

    /// <summary>Lockspace names: 1–64 bytes of <c>[A-Za-z0-9._-]</c>.</summary>
    public static string? ValidateLockspace(string? name)
    {
        if (string.IsNullOrEmpty(name)) return "lockspace name is empty";
        if (name.Length > MaxBytes) return $"lockspace name is {name.Length} bytes, more than {MaxBytes}";
        foreach (var c in name)
        {
            var ok = c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';
            if (!ok) return "lockspace name may hold only A-Z a-z 0-9 . _ -";
        }
        return null;
    }

    /// <summary>Resource and session names: 1–64 bytes of well-formed UTF-8.</summary>
    public static string? ValidateName(string? name, string what)
    {
        if (string.IsNullOrEmpty(name)) return $"{what} name is empty";
        if (name.Length > MaxBytes) return $"{what} name is longer than {MaxBytes} bytes";
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsHighSurrogate(name[i]) && i + 1 < name.Length && char.IsLowSurrogate(name[i + 1]))
            {
                i++;
                continue;
            }
            if (char.IsSurrogate(name[i])) return $"{what} name is not well-formed Unicode";
        }
        var bytes = Encoding.UTF8.GetByteCount(name);
        return bytes <= MaxBytes ? null : $"{what} name is {bytes} bytes in UTF-8, more than {MaxBytes}";
    }
}
