using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Checkers;

/// <summary>A sequential model: applies an operation to a state, or refuses it.</summary>
public interface IModel<TState> where TState : notnull
{
    TState Initial { get; }
    bool TryStep(TState state, Op op, out TState next);
}

/// <summary>
/// A Wing–Gong linearizability search in Lowe's just-in-time form with memoization (as in
/// Horn &amp; Kroening / porcupine): walk the invocations and returns in time order; at an invocation,
/// try to linearize that operation now (if the model accepts it and the pair (linearized set, state)
/// is new); at a return of an operation not yet linearized, backtrack. Operations with an unknown
/// outcome (info) have no return: they may be linearized anywhere after their invocation, or never.
/// The search is bounded by <see cref="StepsMax"/>; past it the answer is unknown.
/// </summary>
public static class Linearizability
{
    public const long StepsMax = 20_000_000;

    public sealed record Result(bool Linearizable, bool Unknown, long Steps, Op? StuckAt, IReadOnlyList<Op> StuckConcurrent);

    private sealed class Entry
    {
        public required int OpIndex;
        public required bool IsCall;
        public required double Time;
        public Entry? Match;
        public Entry? Previous;
        public Entry? Next;
    }

    public static Result Check<TState>(IReadOnlyList<Op> ops, IModel<TState> model) where TState : notnull
    {
        var head = Build(ops);
        var linearized = new Bits(ops.Count);
        var cache = new HashSet<(Bits, TState)>();
        var stack = new Stack<(Entry Call, TState State)>();
        var state = model.Initial;
        var entry = head.Next;
        long steps = 0;
        var (bestDepth, stuck) = (-1, (Entry?)null);
        while (entry is not null)
        {
            if (++steps > StepsMax) return new Result(false, true, steps, null, []);
            if (entry.IsCall)
            {
                if (model.TryStep(state, ops[entry.OpIndex], out var next))
                {
                    var candidate = linearized.With(entry.OpIndex);
                    if (cache.Add((candidate, next)))
                    {
                        stack.Push((entry, state));
                        (state, linearized) = (next, candidate);
                        Lift(entry);
                        entry = head.Next;
                        continue;
                    }
                }
                entry = entry.Next;
                continue;
            }
            // A return whose operation is not linearized yet: this ordering fails.
            if (stack.Count > bestDepth) (bestDepth, stuck) = (stack.Count, entry);
            if (stack.Count == 0) break;
            var (call, previous) = stack.Pop();
            state = previous;
            linearized = linearized.Without(call.OpIndex);
            Unlift(call);
            entry = call.Next;
        }
        if (entry is null) return new Result(true, false, steps, null, []);
        var stuckOp = stuck is null ? null : ops[stuck.OpIndex];
        var concurrent = stuckOp is null ? [] : ops.Where(op => op.InvokeMs <= stuckOp.CompleteMs && (op.Type == OpType.Info || op.CompleteMs >= stuckOp.InvokeMs) && op != stuckOp).Take(12).ToList();
        return new Result(false, false, steps, stuckOp, concurrent);
    }

    private static Entry Build(IReadOnlyList<Op> ops)
    {
        var entries = new List<Entry>();
        for (var i = 0; i < ops.Count; i++)
        {
            var call = new Entry { OpIndex = i, IsCall = true, Time = ops[i].InvokeMs };
            entries.Add(call);
            if (ops[i].Type != OpType.Ok) continue;
            var done = new Entry { OpIndex = i, IsCall = false, Time = Math.Max(ops[i].CompleteMs, ops[i].InvokeMs), Match = call };
            call.Match = done;
            entries.Add(done);
        }
        // Calls sort before returns at the same instant: touching operations count as concurrent.
        entries.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : b.IsCall.CompareTo(a.IsCall));
        var head = new Entry { OpIndex = -1, IsCall = false, Time = double.MinValue };
        var last = head;
        foreach (var entry in entries)
        {
            last.Next = entry;
            entry.Previous = last;
            last = entry;
        }
        return head;
    }

    /// <summary>Removes a call (and its return, if any) from the list.</summary>
    private static void Lift(Entry call)
    {
        Unlink(call);
        if (call.Match is { } done) Unlink(done);
    }

    private static void Unlift(Entry call)
    {
        if (call.Match is { } done) Relink(done);
        Relink(call);
    }

    private static void Unlink(Entry entry)
    {
        entry.Previous!.Next = entry.Next;
        if (entry.Next is not null) entry.Next.Previous = entry.Previous;
    }

    private static void Relink(Entry entry)
    {
        entry.Previous!.Next = entry;
        if (entry.Next is not null) entry.Next.Previous = entry;
    }

    /// <summary>An immutable bit set with value equality, for the memo.</summary>
    private readonly struct Bits : IEquatable<Bits>
    {
        private readonly ulong[] _words;
        private readonly int _hash;

        public Bits(int size) : this(new ulong[(size + 63) / 64]) { }

        private Bits(ulong[] words)
        {
            _words = words;
            var hash = new HashCode();
            foreach (var word in words) hash.Add(word);
            _hash = hash.ToHashCode();
        }

        public Bits With(int bit)
        {
            var words = (ulong[])_words.Clone();
            words[bit / 64] |= 1UL << (bit % 64);
            return new Bits(words);
        }

        public Bits Without(int bit)
        {
            var words = (ulong[])_words.Clone();
            words[bit / 64] &= ~(1UL << (bit % 64));
            return new Bits(words);
        }

        public bool Equals(Bits other) => _words.AsSpan().SequenceEqual(other._words);
        public override bool Equals(object? obj) => obj is Bits other && Equals(other);
        public override int GetHashCode() => _hash;
    }
}
