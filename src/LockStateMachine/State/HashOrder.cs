namespace RaftDlm.LockStateMachine.State;

/// <summary>
/// The one way the machine reads all the values of a hash table (BannedSymbols.txt bans Dictionary's Keys,
/// Values and GetEnumerator everywhere else): sorted by a total order, or, where order cannot reach a
/// result, in hash order with the reason said at the call.
/// </summary>
internal static class HashOrder
{
    /// <summary>The values sorted by <paramref name="order"/>, which must tell every two values apart (an id, a name).</summary>
    public static List<TValue> Sorted<TKey, TValue>(Dictionary<TKey, TValue> table, Comparison<TValue> order)
        where TKey : notnull
    {
        var values = new List<TValue>(Unordered(table));
        values.Sort(order);
        return values;
    }

    /// <summary>
    /// The values in hash order, allocating nothing: only for a count, a sum, a change made to each value on
    /// its own, or a walk documented as unordered.
    /// </summary>
    public static Dictionary<TKey, TValue>.ValueCollection Unordered<TKey, TValue>(Dictionary<TKey, TValue> table)
        where TKey : notnull
    {
#pragma warning disable RS0030 // The sanctioned read; see the callers.
        return table.Values;
#pragma warning restore RS0030
    }
}
