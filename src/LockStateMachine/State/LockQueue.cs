namespace RaftDlm.LockStateMachine.State;

/// <summary>An intrusive FIFO of locks: O(1) append, prepend and removal, iteration in order.</summary>
internal struct LockQueue
{
    public Lock? Head;
    public Lock? Tail;
    public int Count;

    public readonly bool IsEmpty => Count == 0;

    public void AddLast(Lock item)
    {
        item.QueuePrevious = Tail;
        item.QueueNext = null;
        if (Tail is null) Head = item; else Tail.QueueNext = item;
        Tail = item;
        Count++;
    }

    public void AddFirst(Lock item)
    {
        item.QueueNext = Head;
        item.QueuePrevious = null;
        if (Head is null) Tail = item; else Head.QueuePrevious = item;
        Head = item;
        Count++;
    }

    public void Remove(Lock item)
    {
        if (item.QueuePrevious is null) Head = item.QueueNext; else item.QueuePrevious.QueueNext = item.QueueNext;
        if (item.QueueNext is null) Tail = item.QueuePrevious; else item.QueueNext.QueuePrevious = item.QueuePrevious;
        item.QueuePrevious = null;
        item.QueueNext = null;
        Count--;
    }

    /// <summary>A copy of the members in order, for loops that change the queue while they walk it.</summary>
    public readonly List<Lock> ToList()
    {
        var list = new List<Lock>(Count);
        for (var item = Head; item is not null; item = item.QueueNext) list.Add(item);
        return list;
    }
}
