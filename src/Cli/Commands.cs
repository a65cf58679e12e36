using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using RaftDlm.Client;

namespace RaftDlm.Cli;

internal static class Commands
{
    private const int Failed = 1;
    private const int SessionLost = 75;

    private static readonly Option<string> EndpointsOption = new("--endpoints")
    {
        Description = "Comma-separated node HTTP endpoints (env RAFTDLM_ENDPOINTS)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RAFTDLM_ENDPOINTS") ?? "http://127.0.0.1:7700",
    };

    internal static readonly Option<bool> JsonOption = new("--json") { Description = "Print JSON instead of a table", Recursive = true };

    private static readonly Option<string?> TokenOption = new("--token")
    {
        Description = "Bearer token (env RAFTDLM_TOKEN)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RAFTDLM_TOKEN"),
    };

    private static readonly Option<string?> CaCertOption = new("--cacert")
    {
        Description = "Trust this CA (a PEM file) for https:// endpoints (env RAFTDLM_CACERT)",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("RAFTDLM_CACERT"),
        Validators = { CheckCaCert },
    };

    public static RootCommand Build()
    {
        var root = new RootCommand("dlmctl: operate and use a Raft DLM cluster") { EndpointsOption, JsonOption, TokenOption, CaCertOption };
        root.Add(Status());
        root.Add(Lockspaces());
        root.Add(Resources());
        root.Add(Sessions());
        root.Add(WaitFor());
        root.Add(OperatorCommands.Orphans());
        root.Add(Session());
        root.Add(Lock());
        root.Add(Lvb());
        root.Add(MemberCommands.Member());
        root.Add(SnapshotCommands.Snapshot());
        return root;
    }

    private static Command Status()
    {
        var command = new Command("status", "Each node's view: leader, term, commit and applied index");
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var views = new List<object>();
            var rows = new List<string?[]>();
            foreach (var endpoint in client.Endpoints)
            {
                try
                {
                    var view = await client.GetClusterFromAsync(endpoint, ct);
                    views.Add(new { endpoint, view });
                    rows.Add([endpoint, view.NodeId, view.LeaderId, view.Term.ToString(CultureInfo.InvariantCulture), view.CommitIndex.ToString(CultureInfo.InvariantCulture), view.AppliedIndex.ToString(CultureInfo.InvariantCulture), "up"]);
                }
                catch (Exception error) when (error is HttpRequestException or OperationCanceledException or DlmException)
                {
                    views.Add(new { endpoint, error = error.Message });
                    rows.Add([endpoint, null, null, null, null, null, "unreachable"]);
                }
            }
            output.Table(views, ["ENDPOINT", "NODE", "LEADER", "TERM", "COMMIT", "APPLIED", "STATE"], rows);
            return 0;
        }));
        return command;
    }

    private static Command Lockspaces()
    {
        var command = new Command("lockspaces", "List lockspaces (or create / delete one)");
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var spaces = await client.GetLockspacesAsync(ct);
            output.Table(new { lockspaces = spaces }, ["NAME", "LVB BYTES", "LOCK DELAY MS", "RESOURCES"],
                spaces.Select(space => new[] { space.Name, Number(space.LvbBytes), Number(space.LockDelayMs), Number(space.Resources) }));
            return 0;
        }));

        var name = new Argument<string>("name");
        var lvbBytes = new Option<int>("--lvb-bytes") { DefaultValueFactory = _ => 32, Description = "LVB size: a multiple of 8 from 8 to 256" };
        var lockDelay = new Option<int>("--lock-delay-ms") { DefaultValueFactory = _ => 0 };
        var create = new Command("create", "Create a lockspace") { name, lvbBytes, lockDelay };
        create.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var created = await client.CreateLockspaceAsync(parse.GetRequiredValue(name), parse.GetValue(lvbBytes), parse.GetValue(lockDelay), ct);
            output.Fields(new { name = parse.GetValue(name), created }, [("lockspace", parse.GetValue(name)), ("created", created ? "yes" : "no (it existed)")]);
            return 0;
        }));
        command.Add(create);

        var force = new Option<bool>("--force") { Description = "Delete even while it holds locks" };
        var delete = new Command("delete", "Delete a lockspace") { name, force };
        delete.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            await client.DeleteLockspaceAsync(parse.GetRequiredValue(name), parse.GetValue(force), ct);
            output.Fields(new { name = parse.GetValue(name), deleted = true }, [("deleted", parse.GetValue(name))]);
            return 0;
        }));
        command.Add(delete);
        return command;
    }

    private static Command Resources()
    {
        var lockspace = new Argument<string>("lockspace");
        var resource = new Argument<string>("resource");
        var command = new Command("resources", "Show a resource: its LVB and its granted, converting and waiting locks") { lockspace, resource };
        command.Add(ResourcesList());
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var view = await client.GetResourceAsync(parse.GetRequiredValue(lockspace), parse.GetRequiredValue(resource), ct);
            if (view is null)
            {
                Console.Error.WriteLine("no lock exists on that resource");
                return Failed;
            }
            if (output.IsJson)
            {
                output.Object(view);
                return 0;
            }
            Console.WriteLine($"resource {view.Resource}: lvb {Output.Lvb(view.Lvb)}, lvbSeq {view.LvbSeq}, valid {view.LvbValid}");
            var locks = view.Granted.Concat(view.Converting).Concat(view.Waiting);
            output.Table(view, ["LOCK", "SESSION", "STATE", "MODE", "REQUESTED", "TOKEN"],
                locks.Select(item => new[] { item.LockId, item.SessionId, item.State, item.Mode, item.RequestedMode, item.FencingToken?.ToString(CultureInfo.InvariantCulture) }));
            return 0;
        }));
        return command;
    }

    private static readonly Option<int> LimitOption = new("--limit") { DefaultValueFactory = _ => 1_000, Description = "At most this many rows (pages of up to 1,000 are fetched as needed)" };

    private static Command ResourcesList()
    {
        var lockspace = new Argument<string>("lockspace");
        var prefix = new Option<string?>("--prefix") { Description = "Only resources whose name starts with this" };
        var command = new Command("list", "List a lockspace's resources that hold locks, with their queue lengths") { lockspace, prefix, LimitOption };
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var all = new List<ResourceSummary>();
            string? after = null;
            var limit = parse.GetValue(LimitOption);
            do
            {
                var page = await client.ListResourcesAsync(parse.GetRequiredValue(lockspace), parse.GetValue(prefix), after, Math.Clamp(limit - all.Count, 1, 1_000), ct);
                all.AddRange(page.Resources);
                after = page.Next;
            }
            while (after is not null && all.Count < limit);
            output.Table(new { resources = all }, ["RESOURCE", "GRANTED", "CONVERTING", "WAITING", "LVB SEQ", "LVB VALID"],
                all.Select(item => new[] { item.Resource, Number(item.Granted), Number(item.Converting), Number(item.Waiting), item.LvbSeq.ToString(CultureInfo.InvariantCulture), item.LvbValid ? "yes" : "no" }));
            return 0;
        }));
        return command;
    }

    private static Command Sessions()
    {
        var command = new Command("sessions", "Sessions (see: sessions list)");
        var list = new Command("list", "List sessions: TTL left, state, locks held, lockspaces") { LimitOption };
        list.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var all = new List<SessionSummary>();
            string? after = null;
            var limit = parse.GetValue(LimitOption);
            do
            {
                var page = await client.ListSessionsAsync(after, Math.Clamp(limit - all.Count, 1, 1_000), ct);
                all.AddRange(page.Sessions);
                after = page.Next;
            }
            while (after is not null && all.Count < limit);
            output.Table(new { sessions = all }, ["SESSION", "NAME", "STATE", "TTL MS", "TTL LEFT MS", "LOCKS", "LOCKSPACES"],
                all.Select(item => new[] { item.SessionId, item.Name, item.State, Number(item.TtlMs), item.TtlLeftMs is { } left ? Number(left) : null, Number(item.Locks), string.Join(",", item.Lockspaces) }));
            return 0;
        }));
        command.Add(list);
        return command;
    }

    private static Command WaitFor()
    {
        var lockspace = new Argument<string>("lockspace");
        var command = new Command("waitfor", "A lockspace's wait-for graph: which request waits for which lock") { lockspace };
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var graph = await client.GetWaitForAsync(parse.GetRequiredValue(lockspace), ct);
            output.Table(graph, ["RESOURCE", "WAITER SESSION", "WAITER LOCK", "WANTS", "HOLDER SESSION", "HOLDER LOCK", "HOLDS"],
                graph.Edges.Select(edge => new[] { edge.Resource, edge.WaiterSessionId, edge.WaiterLockId, edge.WaiterMode, edge.HolderSessionId ?? "(orphan)", edge.HolderLockId, edge.HolderMode }));
            if (graph.Truncated && !output.IsJson) Console.WriteLine("(truncated at 10,000 edges)");
            return 0;
        }));
        return command;
    }

    private static Command Session()
    {
        var command = new Command("session", "Open, show or close sessions");
        var id = new Argument<string>("session-id");
        var show = new Command("show", "Show a session and its locks") { id };
        show.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var info = await client.GetSessionAsync(parse.GetRequiredValue(id), ct);
            if (!output.IsJson) Console.WriteLine($"session {info.SessionId} ({info.Name}), ttl {info.TtlMs} ms");
            output.Table(info, ["LOCK", "LOCKSPACE", "RESOURCE", "STATE", "MODE", "TOKEN"],
                (info.Locks ?? []).Select(item => new[] { item.LockId, item.Lockspace, item.Resource, item.State, item.Mode, item.FencingToken?.ToString(CultureInfo.InvariantCulture) }));
            return 0;
        }));
        var close = new Command("close", "Close a session (its non-persistent locks are released)") { id };
        close.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            await client.CloseSessionAsync(parse.GetRequiredValue(id), ct);
            output.Fields(new { sessionId = parse.GetValue(id), closed = true }, [("closed", parse.GetValue(id))]);
            return 0;
        }));
        var name = new Option<string>("--name") { DefaultValueFactory = _ => "dlmctl" };
        var ttl = new Option<int>("--ttl-ms") { DefaultValueFactory = _ => 10_000 };
        var open = new Command("open", "Open a session and keep it alive until Ctrl-C") { name, ttl };
        open.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            await using var session = await client.OpenSessionAsync(parse.GetRequiredValue(name), TimeSpan.FromMilliseconds(parse.GetValue(ttl)), ct);
            output.Fields(new { sessionId = session.SessionId, ttlMs = (int)session.Ttl.TotalMilliseconds }, [("session", session.SessionId), ("ttl ms", Number((int)session.Ttl.TotalMilliseconds))]);
            session.StateChanged += (_, change) => Console.Error.WriteLine($"session {change.Previous} -> {change.Current}");
            await Task.WhenAny(session.Ended, Task.Delay(Timeout.Infinite, ct));
            return session.State is SessionState.Expired or SessionState.Lost ? SessionLost : 0;
        }));
        command.Add(open);
        command.Add(show);
        command.Add(close);
        return command;
    }

    private static Command Lock()
    {
        var lockspace = new Argument<string>("lockspace");
        var resource = new Argument<string>("resource");
        var program = new Argument<string[]>("command") { Arity = ArgumentArity.OneOrMore, Description = "The command to run while the lock is held (after --)" };
        var mode = new Option<string>("--mode") { DefaultValueFactory = _ => "EX", Description = "NL, CR, CW, PR, PW or EX" };
        var ttl = new Option<int>("--ttl-ms") { DefaultValueFactory = _ => 10_000, Description = "The session's TTL" };
        var noWait = new Option<bool>("--no-wait") { Description = "Fail at once if the lock cannot be granted now" };
        var timeout = new Option<int?>("--timeout-ms") { Description = "Give up if the lock is still queued this long (the server cancels the request)" };
        var grace = new Option<int>("--kill-grace-ms")
        {
            DefaultValueFactory = _ => 1_000,
            Description = "When the session is lost: how long after SIGTERM the command gets SIGKILL. The loss is declared this much (plus a clock margin) before the TTL runs out, so the command is gone before the server could grant the lock to another session",
        };
        var command = new Command("lock", "Hold a lock while a command runs; its fencing token is in RAFTDLM_FENCING_TOKEN")
        {
            lockspace, resource, program, mode, ttl, noWait, timeout, grace,
        };
        command.Add(OperatorCommands.LockConvert());
        command.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var ttlMs = parse.GetValue(ttl);
            var graceMs = parse.GetValue(grace);
            if (graceMs < 0 || LockLeaseMargin(ttlMs, graceMs) >= ttlMs / 2.0)
            {
                Console.Error.WriteLine($"dlmctl: --kill-grace-ms must be at least 0 and, with a clock margin of {ClockMargin(ttlMs)} ms, shorter than half of --ttl-ms ({ttlMs})");
                return Failed;
            }
            var lockMode = LockModes.Parse(parse.GetRequiredValue(mode)); // a bad mode fails before anything is opened
            var sessionOptions = new DlmSessionOptions
            {
                Name = "dlmctl-lock",
                Ttl = TimeSpan.FromMilliseconds(ttlMs),
                LeaseMargin = TimeSpan.FromMilliseconds(LockLeaseMargin(ttlMs, graceMs)),
            };
            await using var session = await client.OpenSessionAsync(sessionOptions, ct);
            var options = new LockOptions
            {
                Flags = parse.GetValue(noWait) ? ["noQueue"] : [],
                Timeout = parse.GetValue(timeout) is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
            };
            var handle = session.AllocLock(parse.GetRequiredValue(lockspace), parse.GetRequiredValue(resource), options);
            var grant = await handle.LockAsync(lockMode, ct);
            var argv = parse.GetRequiredValue(program);
            var start = new ProcessStartInfo(argv[0]) { UseShellExecute = false };
            foreach (var argument in argv.Skip(1)) start.ArgumentList.Add(argument);
            start.Environment["RAFTDLM_FENCING_TOKEN"] = grant.FencingToken.ToString(CultureInfo.InvariantCulture);
            start.Environment["RAFTDLM_LOCK_ID"] = grant.LockId;
            start.Environment["RAFTDLM_SESSION_ID"] = session.SessionId;
            start.Environment["RAFTDLM_LVB"] = Convert.ToBase64String(grant.Lvb);
            Console.Error.WriteLine($"dlmctl: holding {grant.Mode} on {handle.Resource} (fencing token {grant.FencingToken})");
            using var child = Process.Start(start) ?? throw new InvalidOperationException("the command did not start");
            Console.Error.WriteLine($"dlmctl: command started as pid {child.Id}");
            var exited = child.WaitForExitAsync(CancellationToken.None);
            await Task.WhenAny(exited, session.Ended, Task.Delay(Timeout.Infinite, ct));
            if (!exited.IsCompleted)
            {
                // The lock is gone (or we were interrupted): the command must not go on unprotected.
                var lost = session.State is SessionState.Expired or SessionState.Lost;
                Console.Error.WriteLine(lost
                    ? $"dlmctl: session {session.State.ToString().ToLowerInvariant()}; stopping the command (SIGTERM, SIGKILL after {graceMs} ms)"
                    : "dlmctl: interrupted; stopping the command");
                if (lost) Console.Error.WriteLine($"dlmctl: the last answered keep-alive was sent at {session.LeaseRenewalSentAt:O}");
                await ChildStop.StopAsync(child, TimeSpan.FromMilliseconds(graceMs));
                Console.Error.WriteLine($"dlmctl: command stopped at {DateTimeOffset.UtcNow:O}");
                return lost ? SessionLost : 130;
            }
            await handle.UnlockAsync(ct: CancellationToken.None);
            return child.ExitCode;
        }));
        return command;
    }

    // The lease margin of `lock`'s session: the kill grace plus room for clock rates (a twentieth of the TTL,
    // at least 100 ms), so that SIGKILL comes before the TTL counted from the last answered keep-alive's send.
    private static int ClockMargin(int ttlMs) => Math.Max(100, ttlMs / 20);

    private static int LockLeaseMargin(int ttlMs, int graceMs) => graceMs + ClockMargin(ttlMs);

    private static Command Lvb()
    {
        var command = new Command("lvb", "Read or write a resource's lock value block");
        var lockspace = new Argument<string>("lockspace");
        var resource = new Argument<string>("resource");
        var get = new Command("get", "Show the LVB (hex and as a little-endian u64)") { lockspace, resource };
        get.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var view = await client.GetResourceAsync(parse.GetRequiredValue(lockspace), parse.GetRequiredValue(resource), ct);
            if (view is null)
            {
                Console.Error.WriteLine("no lock exists on that resource, so it has no LVB");
                return Failed;
            }
            output.Fields(new { view.Resource, view.Lvb, view.LvbSeq, view.LvbValid },
                [("resource", view.Resource), ("lvb", Output.Lvb(view.Lvb)), ("lvbSeq", view.LvbSeq.ToString(CultureInfo.InvariantCulture)), ("valid", view.LvbValid ? "yes" : "no")]);
            return 0;
        }));
        var value = new Argument<string>("value") { Description = "A number (u64), or hex with --hex, or base64 with --base64" };
        var hex = new Option<bool>("--hex");
        var base64 = new Option<bool>("--base64");
        var keep = new Option<int>("--hold-ms") { DefaultValueFactory = _ => 0, Description = "Keep an NL lock this long after writing (an LVB lives only while some lock exists)" };
        var set = new Command("set", "Take EX and write the LVB") { lockspace, resource, value, hex, base64, keep };
        set.SetAction((parse, ct) => Run(parse, async (client, output) =>
        {
            var name = parse.GetRequiredValue(lockspace);
            var size = (await client.GetLockspacesAsync(ct)).FirstOrDefault(space => space.Name == name)?.LvbBytes
                ?? throw new DlmException(DlmErrorCodes.NotFound, 404, $"lockspace '{name}' does not exist");
            var text = parse.GetRequiredValue(value);
            var bytes = parse.GetValue(hex) ? Convert.FromHexString(text)
                : parse.GetValue(base64) ? Convert.FromBase64String(text)
                : BitConverter.GetBytes(ulong.Parse(text, CultureInfo.InvariantCulture));
            if (bytes.Length > size) throw new DlmException(DlmErrorCodes.InvalidRequest, 400, $"the value has {bytes.Length} bytes; the lockspace's LVB has {size}");
            Array.Resize(ref bytes, size);
            await using var session = await client.OpenSessionAsync("dlmctl-lvb", TimeSpan.FromSeconds(10), ct);
            var handle = session.AllocLock(name, parse.GetRequiredValue(resource), new LockOptions { Caching = CacheMode.KeepNL, AutoTune = false });
            var grant = await handle.LockAsync(LockMode.EX, ct);
            await handle.UnlockAsync(bytes, ct);
            output.Fields(new { resource = handle.Resource, lvb = Convert.ToBase64String(bytes), fencingToken = grant.FencingToken },
                [("resource", handle.Resource), ("lvb", Output.Lvb(Convert.ToBase64String(bytes))), ("written under token", grant.FencingToken.ToString(CultureInfo.InvariantCulture))]);
            if (parse.GetValue(keep) > 0) await Task.Delay(parse.GetValue(keep), ct);
            return 0;
        }));
        command.Add(get);
        command.Add(set);
        return command;
    }

    internal static async Task<int> Run(ParseResult parse, Func<DlmClient, Output, Task<int>> action)
    {
        var endpoints = parse.GetValue(EndpointsOption)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        await using var client = new DlmClient(new DlmClientOptions
        {
            Endpoints = endpoints,
            BearerToken = parse.GetValue(TokenOption),
            TrustedCaPath = parse.GetValue(CaCertOption),
            Name = "dlmctl",
            RetryBudget = TimeSpan.FromSeconds(10),
        });
        try
        {
            return await action(client, new Output(parse.GetValue(JsonOption)));
        }
        catch (DlmException error)
        {
            Console.Error.WriteLine($"dlmctl: {error.Code}: {error.Message}");
            return Failed;
        }
        catch (Exception error) when (error is FormatException or InvalidOperationException or ArgumentException or System.ComponentModel.Win32Exception)
        {
            Console.Error.WriteLine($"dlmctl: {error.Message}");
            return Failed;
        }
    }

    /// <summary>Refuses an unreadable --cacert at parse time, with the reason, instead of failing in the client.</summary>
    private static void CheckCaCert(System.CommandLine.Parsing.OptionResult result)
    {
        if (result.GetValueOrDefault<string?>() is not { Length: > 0 } path) return;
        try
        {
            using var authority = System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPem(File.ReadAllText(path));
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            result.AddError($"--cacert {path}: {error.Message}");
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
