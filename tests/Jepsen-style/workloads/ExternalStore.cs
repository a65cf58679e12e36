namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// The outside resource a lock guards: an in-process register holding a list of write ids. With
/// fencing on, the store remembers the highest fencing token it has accepted, on reads as well as
/// writes, and refuses anything carrying a lower token. Fencing the read matters: a new holder that
/// has read the value must be able to stop an old holder's late write, even before its own write.
/// </summary>
public sealed class ExternalStore(bool fenced)
{
    private readonly object _gate = new();
    private long[] _value = [];
    private long _highestToken;

    public bool Fenced => fenced;

    public bool TryRead(long token, out long[] value)
    {
        lock (_gate)
        {
            value = _value;
            if (!fenced) return true;
            if (token < _highestToken) return false;
            _highestToken = token;
            return true;
        }
    }

    public bool TryWrite(long token, long[] value)
    {
        lock (_gate)
        {
            if (fenced && token < _highestToken) return false;
            if (fenced) _highestToken = token;
            _value = value;
            return true;
        }
    }

    public long[] Value
    {
        get { lock (_gate) return _value; }
    }
}
