namespace RaftDlm.LockStateMachine.Tests.Rules;

/// <summary>The who-holds-what views: pages of sessions and resources, and the wait-for graph.</summary>
public sealed class ViewTests
{
    [Fact]
    public void Sessions_are_listed_by_id_in_pages_with_their_locks_and_lockspaces()
    {
        var h = new Harness();
        h.Ok<LockspaceResult>(new CreateLockspace("other", 8, 0));
        var ids = Enumerable.Range(0, 5).Select(i => h.Session("s" + i)).ToList();
        h.Lock(ids[1], "r", LockMode.PR);
        h.Lock(ids[1], "q", LockMode.PR);
        h.Apply(new RequestLock(ids[1], 0, "other", "x", LockMode.EX, 0, LockFlags.None));

        var (first, next) = h.Machine.ListSessions(0, 2);
        Assert.Equal(ids.Take(2), first.Select(s => s.SessionId));
        Assert.Equal(ids[1], next);
        Assert.Equal(3, first[1].Locks);
        Assert.Equal(["ls", "other"], first[1].Lockspaces);
        Assert.Equal("s1", first[1].Name);

        var (second, next2) = h.Machine.ListSessions(next!.Value, 2);
        Assert.Equal(ids.Skip(2).Take(2), second.Select(s => s.SessionId));
        var (last, end) = h.Machine.ListSessions(next2!.Value, 2);
        Assert.Equal([ids[4]], last.Select(s => s.SessionId));
        Assert.Null(end);

        // A filter (a token's own sessions) applies before the page is cut.
        var (mine, _) = h.Machine.ListSessions(0, 10, s => s.SessionId % 2 == 0);
        Assert.All(mine, s => Assert.Equal(0, s.SessionId % 2));

        // A principal's own sessions, paged among the others.
        var tenantIds = Enumerable.Range(0, 3).Select(i => h.Ok<SessionResult>(new OpenSession("t" + i, 10_000, "tenant")).SessionId).ToList();
        h.Ok<SessionResult>(new OpenSession("other", 10_000, "someone-else"));
        var (own, ownNext) = h.Machine.ListSessions(0, 2, ownedBy: "tenant");
        Assert.Equal(tenantIds.Take(2), own.Select(s => s.SessionId));
        Assert.All(own, s => Assert.Equal("tenant", s.Owner));
        var (ownRest, ownEnd) = h.Machine.ListSessions(ownNext!.Value, 2, ownedBy: "tenant");
        Assert.Equal([tenantIds[2]], ownRest.Select(s => s.SessionId));
        Assert.Null(ownEnd);
    }

    [Fact]
    public void Resources_are_listed_by_name_with_a_prefix_and_pages_of_queue_lengths()
    {
        var h = new Harness();
        var (a, b) = (h.Session(), h.Session());
        foreach (var name in new[] { "vol-3", "vol-1", "db-1", "vol-2" }) h.Lock(a, name, LockMode.EX);
        h.Lock(b, "vol-1", LockMode.EX); // waits
        var holder = h.Lock(a, "gone", LockMode.EX);
        h.Unlock(holder.LockId);        // no lock left: not listed

        var (page, next) = h.Machine.ListResources(Harness.Space, "vol-", null, 2)!.Value;
        Assert.Equal(["vol-1", "vol-2"], page.Select(r => r.Resource));
        Assert.Equal((1, 0, 1), (page[0].Granted, page[0].Converting, page[0].Waiting));
        Assert.Equal("vol-2", next);
        var (rest, end) = h.Machine.ListResources(Harness.Space, "vol-", next, 2)!.Value;
        Assert.Equal(["vol-3"], rest.Select(r => r.Resource));
        Assert.Null(end);
        Assert.Equal(["db-1", "vol-1", "vol-2", "vol-3"], h.Machine.ListResources(Harness.Space, "", null, 100)!.Value.Page.Select(r => r.Resource));
        Assert.Null(h.Machine.ListResources("nope", "", null, 10));
    }

    [Fact]
    public void Wait_for_edges_name_the_waiter_and_what_it_waits_for()
    {
        var h = new Harness();
        var (a, b, c) = (h.Session(), h.Session(), h.Session());
        var held = h.Lock(a, "r", LockMode.PR);
        var converting = h.Lock(b, "r", LockMode.PR);
        var waiter = h.Lock(c, "r", LockMode.EX);                    // waits for both PR holders
        Assert.Equal(LockViewState.Waiting, waiter.State);
        Assert.IsType<LockResult>(h.TryConvert(converting.LockId, LockMode.EX)); // b converts PR->EX behind a's PR

        var (edges, truncated) = h.Machine.GetWaitFor(Harness.Space)!.Value;
        Assert.False(truncated);
        var shown = edges.Select(e => (e.WaiterLockId, e.HolderLockId, e.WaiterMode, e.HolderMode)).ToList();
        Assert.Contains((converting.LockId, held.LockId, LockMode.EX, LockMode.PR), shown);      // conversion behind a holder
        Assert.Contains((waiter.LockId, held.LockId, LockMode.EX, LockMode.PR), shown);          // incompatible holder
        Assert.Contains((waiter.LockId, converting.LockId, LockMode.EX, LockMode.PR), shown);    // a holder that also converts
        Assert.Equal(edges.OrderBy(e => e.WaiterLockId).ThenBy(e => e.HolderLockId), edges);
        Assert.All(edges, e => Assert.NotEqual(e.WaiterSessionId, e.HolderSessionId));
        Assert.Null(h.Machine.GetWaitFor("nope"));
    }

    [Fact]
    public void A_waiter_behind_a_waiter_and_behind_an_orphan_has_its_edges()
    {
        var h = new Harness();
        var (dead, b, c) = (h.Session(), h.Session(), h.Session());
        var kept = h.Lock(dead, "r", LockMode.EX, LockFlags.Persistent);
        h.Ok<DoneResult>(new CloseSession(dead));
        var first = h.Lock(b, "r", LockMode.PR);
        var second = h.Lock(c, "r", LockMode.PR);

        var edges = h.Machine.GetWaitFor(Harness.Space)!.Value.Edges;
        var orphanEdge = Assert.Single(edges, e => e.WaiterLockId == first.LockId);
        Assert.Equal((kept.LockId, 0L, LockMode.EX), (orphanEdge.HolderLockId, orphanEdge.HolderSessionId, orphanEdge.HolderMode));
        // FIFO: the second PR waits for the orphan and for the request ahead of it.
        Assert.Equal([kept.LockId, first.LockId], edges.Where(e => e.WaiterLockId == second.LockId).Select(e => e.HolderLockId));
    }

    [Fact]
    public void The_wait_for_view_is_bounded()
    {
        var h = new Harness(new LockLimits { MaxQueuedPerResource = 20_000, MaxSessions = 20_000 });
        var holder = h.Session();
        h.Lock(holder, "r", LockMode.EX);
        // With noOrder a waiter waits for the holder only: one edge each.
        for (var i = 0; i < 5_001; i++) h.Lock(h.Session(), "r", LockMode.EX, LockFlags.NoOrder);
        var (edges, truncated) = h.Machine.GetWaitFor(Harness.Space)!.Value;
        Assert.Equal(5_001, edges.Count); // noOrder: only the holder
        for (var i = 0; i < 5_000; i++) h.Lock(h.Session(), "r", LockMode.EX, LockFlags.NoOrder);
        (edges, truncated) = h.Machine.GetWaitFor(Harness.Space)!.Value;
        Assert.True(truncated);
        Assert.Equal(LockMachine.MaxWaitForEdges, edges.Count);
    }

    [Fact]
    public void A_dense_wait_for_graph_stops_at_the_bound_keeping_the_first_edges_in_order()
    {
        // 200 PR holders and 60 EX waiters (noOrder: each waits for every holder, 200 edges each): 12,000 edges.
        var h = new Harness();
        var holders = Enumerable.Range(0, 200).Select(_ => h.Lock(h.Session(), "r", LockMode.PR).LockId).ToList();
        var waiters = new List<long>();
        for (var i = 0; i < 50; i++) waiters.Add(h.Lock(h.Session(), "r", LockMode.EX, LockFlags.NoOrder).LockId);

        var (exact, exactTruncated) = h.Machine.GetWaitFor(Harness.Space)!.Value;
        Assert.Equal(LockMachine.MaxWaitForEdges, exact.Count); // exactly the bound: nothing left out
        Assert.False(exactTruncated);

        for (var i = 0; i < 10; i++) waiters.Add(h.Lock(h.Session(), "r", LockMode.EX, LockFlags.NoOrder).LockId);
        var (edges, truncated) = h.Machine.GetWaitFor(Harness.Space)!.Value;
        Assert.True(truncated);
        var expected = waiters.Take(50).SelectMany(w => holders.Select(x => (w, x))).ToList();
        Assert.Equal(expected, edges.Select(e => (e.WaiterLockId, e.HolderLockId)));
        Assert.All(edges, e => Assert.Equal((LockMode.EX, LockMode.PR), (e.WaiterMode, e.HolderMode)));
    }

    [Fact]
    public void A_conversion_queued_ahead_that_also_blocks_gives_one_edge_in_its_granted_mode()
    {
        var h = new Harness();
        var (a, b, c) = (h.Session(), h.Session(), h.Session());
        var readerA = h.Lock(a, "r", LockMode.PR);
        var readerB = h.Lock(b, "r", LockMode.PR);
        h.TryConvert(readerA.LockId, LockMode.EX);  // converting: waits for b's PR
        var waiter = h.Lock(c, "r", LockMode.EX);   // waits for both PRs, and for the conversion (the last one)

        var edges = h.Machine.GetWaitFor(Harness.Space)!.Value.Edges.Where(e => e.WaiterLockId == waiter.LockId).ToList();
        Assert.Equal([(readerA.LockId, LockMode.PR), (readerB.LockId, LockMode.PR)], edges.Select(e => (e.HolderLockId, e.HolderMode)));
    }

    [Fact]
    public void The_resources_view_shows_the_value_block_state_and_only_top_level_resources()
    {
        var h = new Harness();
        var (a, b) = (h.Session(), h.Session());
        var writer = h.Lock(a, "r", LockMode.EX);
        h.Lock(a, "child", LockMode.EX, parent: writer.LockId);
        h.Convert(writer.LockId, LockMode.NL, Harness.Lvb(7)); // writes the LVB: seq 1
        h.Lock(a, "w", LockMode.EX);
        h.Lock(b, "w", LockMode.PR);                             // waits
        var before = h.Machine.ListResources(Harness.Space, "", null, 100)!.Value.Page;
        Assert.Equal(["r", "w"], before.Select(x => x.Resource));  // child is a sublock: not listed
        Assert.Equal((1L, true, 1), (before[0].LvbSeq, before[0].LvbValid, before[0].Granted));
        Assert.Equal((1, 0, 1), (before[1].Granted, before[1].Converting, before[1].Waiting));

        h.Ok<DoneResult>(new ExpireSession(a));                  // EX released by expiry: w's LVB is invalid; b gets it
        var w = Assert.Single(h.Machine.ListResources(Harness.Space, "", null, 100)!.Value.Page); // r lost its locks with a
        Assert.Equal(("w", 1, 0, 0, false), (w.Resource, w.Granted, w.Converting, w.Waiting, w.LvbValid));
    }

    [Fact]
    public void An_ended_session_is_listed_as_ended_with_no_locks()
    {
        var h = new Harness();
        var (gone, live) = (h.Session("gone"), h.Session("live"));
        h.Lock(gone, "r", LockMode.EX, LockFlags.Persistent); // stays as an orphan: no longer the session's
        h.Lock(live, "q", LockMode.EX);
        h.Ok<DoneResult>(new ExpireSession(gone));

        var (page, _) = h.Machine.ListSessions(0, 100);
        var ended = page.SingleOrDefault(s => s.SessionId == gone);
        if (ended is not null)                                 // ended sessions may be kept a while as tombstones
        {
            Assert.True(ended.Ended);
            Assert.Equal(0, ended.Locks);
            Assert.Empty(ended.Lockspaces);
        }
        var shown = page.Single(s => s.SessionId == live);
        Assert.False(shown.Ended);
        Assert.Equal((1, 10_000), (shown.Locks, shown.TtlMs));
    }
}
