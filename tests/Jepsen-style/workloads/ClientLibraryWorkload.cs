using System.Net;
using System.Net.Sockets;
using RaftDlm.Client;
using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Workloads;

/// <summary>
/// The fenced store driven through the product's .NET client library (<c>src/Client</c>) with lock caching on:
/// each worker is a <see cref="DlmClient"/> with one session; it takes EX on the store's lock, reads the store
/// with the grant's fencing token, may be paused there, and writes unless its session says it lost the lock.
/// The nemeses that matter cut the holding client from every node (<c>client-partition</c>: it connects from
/// an address of its own, which every node's namespace then blackholes; it keeps working with the lock past
/// its TTL) or pause it (<c>pause</c>, client variant: its HTTP calls stall and it goes silent past its TTL).
/// <para>
/// The checker: no client ever acts on the store after another holder did (the store refuses a token below
/// the highest it has seen, so every refusal is a moment two clients believed they held the lock), and no
/// acknowledged write is lost. With the local lease deadline on, a client cut off or paused past its TTL has
/// taken its session as lost before the cluster can grant the lock to another: zero refusals. The twin
/// (<c>client-store-no-deadline</c>) turns the deadline off and is expected to fail: the paused client
/// resumes believing it still holds the lock and is refused by the fence.
/// </para>
/// </summary>
public sealed class ClientLibraryWorkload(bool localDeadline) : IWorkload
{
    public const string Lockspace = "jepsen-client";
    public const string Resource = "s";
    private readonly ExternalStore _store = new(fenced: true);

    public string Name => localDeadline ? "client-store" : "client-store-no-deadline";
    public bool ExpectedToFail => !localDeadline;
    public int WorkerCount => 4;

    public Task SetupAsync(RunContext context, CancellationToken cancel) => Setup.CreateLockspaceAsync(context, Lockspace, 8, cancel);

    public Worker CreateWorker(RunContext context, int process) => new LibraryWorker(context, process, _store, localDeadline);

    public Task FinalAsync(RunContext context, CancellationToken cancel)
    {
        var now = context.History.NowMs;
        context.History.Add(new Op { Process = -1, F = "final-read", Type = OpType.Ok, InvokeMs = now, CompleteMs = now, Values = _store.Value });
        return Task.CompletedTask;
    }

    public IReadOnlyList<CheckResult> Check(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, RunContext context) =>
        [SingleHolderChecker.Check(ops), StoreChecker.Check(ops)];

    private sealed class LibraryWorker(RunContext context, int process, ExternalStore store, bool localDeadline) : Worker(context, process)
    {
        private static readonly TimeSpan AcquireBound = TimeSpan.FromSeconds(4);
        private ClientGate _gate = null!;
        private string? _address;
        private long _writes;

        protected override Task StepAsync(CancellationToken stop) => Task.CompletedTask;

        protected override void ForgetLocks() { }

        public override async Task RunAsync(CancellationToken stop, CancellationToken hardStop)
        {
            // Each worker starts on another node; the client moves on by itself when a node fails.
            var urls = Client.Urls.Skip(Process % Client.NodeCount).Concat(Client.Urls.Take(Process % Client.NodeCount)).ToList();
            _address = Context.Network?.AddClient(Process);
            _gate = new ClientGate(_address);
            await using var client = new DlmClient(
                new DlmClientOptions
                {
                    Endpoints = urls,
                    Name = $"p{Process}",
                    RequestTimeout = TimeSpan.FromSeconds(3),
                    RetryBudget = TimeSpan.FromSeconds(4),
                    LockWait = TimeSpan.FromSeconds(2),
                    EventPollWait = TimeSpan.FromSeconds(2),
                },
                handler: _gate);
            DlmSession? session = null;
            try
            {
                for (var step = 0; step < 1_000_000 && !stop.IsCancellationRequested; step++)
                {
                    if (session is { Ended.IsCompleted: true })
                    {
                        History.Add(NewOp("session-end", OpType.Ok, Now) with { Error = session.State.ToString() });
                        await CloseAsync(session);
                        session = null;
                    }
                    session ??= await OpenAsync(client, hardStop);
                    if (session is null)
                    {
                        await DelayAsync(200, stop);
                        continue;
                    }
                    await ThinkAsync(0, 100, stop);
                    await HoldOnceAsync(session, hardStop);
                }
            }
            finally
            {
                _gate.Open();
                if (session is not null) await CloseAsync(session);
            }
        }

        private async Task<DlmSession?> OpenAsync(DlmClient client, CancellationToken stop)
        {
            var invoke = Now;
            try
            {
                var session = await client.OpenSessionAsync(new DlmSessionOptions
                {
                    Name = $"p{Process}",
                    Ttl = TimeSpan.FromMilliseconds(Context.TtlMs),
                    LocalLeaseDeadline = localDeadline,
                    DefaultLockOptions = new LockOptions { Caching = CacheMode.KeepMode, AutoTune = false },
                }, stop);
                History.Add(NewOp("open", OpType.Ok, invoke));
                return session;
            }
            catch (Exception error) when (error is DlmException or OperationCanceledException)
            {
                History.Add(NewOp("open", OpType.Fail, invoke) with { Error = error.Message });
                return null;
            }
        }

        private async Task HoldOnceAsync(DlmSession session, CancellationToken stop)
        {
            var invoke = Now;
            HeldLock held;
            try
            {
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stop, session.LostToken);
                bounded.CancelAfter(AcquireBound);
                held = await session.LockAsync(Lockspace, Resource, LockMode.EX, bounded.Token);
            }
            catch (Exception error) when (error is DlmException or OperationCanceledException)
            {
                History.Add(NewOp("acquire", OpType.Fail, invoke) with { Resource = Resource, Error = error.Message });
                return;
            }
            var token = held.FencingToken;
            History.Add(NewOp("acquire", OpType.Ok, invoke) with { Resource = Resource, Token = token });
            try
            {
                if (!StillHolds(session)) return;
                invoke = Now;
                var read = store.TryRead(token, out var value);
                History.Add(NewOp("read", read ? OpType.Ok : OpType.Fail, invoke) with { Token = token, Values = read ? value : null, Error = read ? null : "fenced" });
                if (!read) return;
                await PauseAsync(stop);
                await CutAsync(stop);
                if (!StillHolds(session)) return;
                var id = (Process + 1) * 1_000_000L + ++_writes;
                invoke = Now;
                var written = store.TryWrite(token, [.. value, id]);
                History.Add(NewOp("write", written ? OpType.Ok : OpType.Fail, invoke) with { Token = token, Value = id, Error = written ? null : "fenced" });
            }
            finally
            {
                invoke = Now;
                try
                {
                    await held.DisposeAsync();
                    History.Add(NewOp("release", OpType.Ok, invoke) with { Resource = Resource, Token = token });
                }
                catch (DlmException error)
                {
                    History.Add(NewOp("release", OpType.Info, invoke) with { Resource = Resource, Token = token, Error = error.Message });
                }
            }
        }

        // What a careful holder checks right before it touches what the lock guards: its session still holds
        // the lock, and (with the local deadline) the lease is still certain on the local monotonic clock.
        private bool StillHolds(DlmSession session)
        {
            var holds = session.State is SessionState.Healthy or SessionState.Jeopardy && (!localDeadline || session.LeaseRemaining > TimeSpan.Zero);
            if (!holds) History.Add(NewOp("stand-down", OpType.Ok, Now) with { Error = $"session {session.State}, lease {session.LeaseRemaining.TotalMilliseconds:F0} ms" });
            return holds;
        }

        // A client pause: the process stops (no keep-alive or any other call gets out) for well past its TTL,
        // then carries on with what it believes it holds.
        private async Task PauseAsync(CancellationToken stop)
        {
            var ms = Context.Pauses.TryTake();
            if (ms == 0) return;
            var window = History.BeginFault("client-pause", $"p{Process} {ms}ms");
            Context.Log($"client p{Process} pauses for {ms} ms while holding the lock");
            _gate.Close();
            await DelayAsync(ms, stop);
            _gate.Open();
            History.EndFault(window);
        }

        // A client partition: this client, holding the lock, is cut from every node while it goes on working
        // with the lock for well past its TTL; then it carries on with what it believes it holds.
        private async Task CutAsync(CancellationToken stop)
        {
            if (Context.Network is not { } network || _address is null) return;
            var ms = Context.Pauses.TryTakeCut();
            if (ms == 0) return;
            var window = History.BeginFault("client-partition", $"p{Process} ({_address}) cut from every node {ms}ms");
            Context.Log($"client p{Process} is cut from every node for {ms} ms while holding the lock");
            network.CutClient(_address);
            await DelayAsync(ms, stop);
            network.HealClient(_address);
            History.EndFault(window);
        }

        private static async Task CloseAsync(DlmSession session)
        {
            try
            {
                await session.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception error) when (error is DlmException or TimeoutException)
            {
                // Best effort: an unclosed session expires by itself.
            }
        }
    }

    /// <summary>While closed, the client's HTTP calls stall (then fail), as the calls of a stopped process would.</summary>
    private sealed class ClientGate(string? localAddress) : DelegatingHandler(Connecting(localAddress))
    {
        private volatile TaskCompletionSource _open = Opened();

        public void Close()
        {
            if (_open.Task.IsCompleted) _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public void Open() => _open.TrySetResult();

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (!_open.Task.IsCompleted)
            {
                await _open.Task.WaitAsync(cancellationToken);
                throw new HttpRequestException("the client was paused while this call waited");
            }
            return await base.SendAsync(request, cancellationToken);
        }

        // Connections leave from the client's own address when it has one, so that it can be cut alone.
        private static SocketsHttpHandler Connecting(string? localAddress)
        {
            var handler = new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(2) };
            if (localAddress is null) return handler;
            var local = new IPEndPoint(IPAddress.Parse(localAddress), 0);
            handler.ConnectCallback = async (context, cancel) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(local);
                    await socket.ConnectAsync(context.DnsEndPoint, cancel);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            return handler;
        }

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }
}
