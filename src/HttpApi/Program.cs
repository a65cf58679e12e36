using System.Net;
using System.Threading.RateLimiting;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using RaftDlm.Consensus;
using RaftDlm.HttpApi;
using RaftDlm.HttpApi.Api;
using RaftDlm.HttpApi.Hosting;

// One Raft DLM node: the lock table replicated by Raft, served over the HTTP API v1.
// The content root is the program's folder, so its appsettings.json (log levels, defaults) applies from
// whatever directory the server is started; relative data paths still resolve against the current directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables("RAFTDLM_").AddCommandLine(args, ServerOptions.SwitchMappings);
// Certificate and key files named relative to the current directory, like the data directory (Kestrel alone
// would look for its certificate under the content root); a file that is not there stops the start with a
// plain message instead of a stack trace.
foreach (var setting in (string[])["Kestrel:Certificates:Default:Path", "Kestrel:Certificates:Default:KeyPath",
             "RaftTls:CertificatePath", "RaftTls:KeyPath", "RaftTls:CaPath", "TlsCaPath"])
{
    if (builder.Configuration[setting] is not { Length: > 0 } file) continue;
    var full = Path.GetFullPath(file);
    if (!File.Exists(full))
    {
        Console.Error.WriteLine($"raft-dlm: {setting} names '{file}' ({full}), which does not exist");
        return 2;
    }
    builder.Configuration[setting] = full;
}
var options = builder.Configuration.Get<ServerOptions>() ?? new ServerOptions();
// A restore runs before anything else: a file that is refused leaves nothing started and the data directory as it was.
if (await SnapshotRestore.RunAsync(options, Console.Out, Console.Error, CancellationToken.None) is var restored and not 0) return restored;
builder.WebHost.UseUrls(options.HttpUrl);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
});

var services = builder.Services;
services.AddSingleton(options);
services.AddSingleton<LockApplier>();
services.AddSingleton(provider => new RaftNode(options.ToRaftOptions(), provider.GetRequiredService<LockApplier>(),
    provider.GetRequiredService<ILoggerFactory>()));
services.AddSingleton<LockProposer>();
services.AddSingleton<SnapshotSeeder>();
services.AddSingleton<ClusterJoin>();
services.AddSingleton<ServerMetrics>();
services.AddSingleton<LeaderWatch>();
services.AddSingleton<Requests>();
services.AddSingleton<Forwarding>();
services.AddHostedService<RaftHost>();
services.AddSingleton<SessionLeases>();
services.AddHostedService(provider => provider.GetRequiredService<SessionLeases>());
services.AddOpenApi(OpenApiConventions.Configure);
services.AddOpenTelemetry()
    .ConfigureResource(resource => resource.AddService("raft-dlm", serviceInstanceId: options.NodeId))
    .WithMetrics(metrics => metrics
    // DotNext's own meters too: its Raft server and client, and its write-ahead log; and the runtime's (garbage
    // collector, thread pool, locks), observed only when scraped.
    .AddMeter(RaftNode.MeterName, ServerMetrics.MeterName, "DotNext.*", "System.Runtime")
    .AddView("raftdlm.consensus.commit_latency", new ExplicitBucketHistogramConfiguration
    {
        Boundaries = LatencyBuckets(),
    })
    .AddView("raftdlm.log.sync_duration", new ExplicitBucketHistogramConfiguration { Boundaries = LatencyBuckets() })
    .AddPrometheusExporter());
services.AddRateLimiter(limiter =>
{
    // Two bounds: a flood guard per address, then each lockspace token's request quota.
    limiter.GlobalLimiter = PartitionedRateLimiter.CreateChained(
        PartitionedRateLimiter.Create<HttpContext, IPAddress>(context => RateLimitPartition.GetTokenBucketLimiter(
            context.Connection.RemoteIpAddress ?? IPAddress.None, _ => PerSecond(options.RequestsPerSecondPerClient))),
        PartitionedRateLimiter.Create<HttpContext, string>(context =>
            Auth.QuotaPartition(context, options) is { } token && options.TokenRequestsPerSecond > 0
                ? RateLimitPartition.GetTokenBucketLimiter(token, _ => PerSecond(options.TokenRequestsPerSecond))
                : RateLimitPartition.GetNoLimiter("")));
    limiter.OnRejected = (rejected, _) => new ValueTask((Auth.QuotaPartition(rejected.HttpContext, options) is not null && options.TokenRequestsPerSecond > 0
        ? Problems.TooManyRequests($"the request rate bound was exceeded (a token may send {options.TokenRequestsPerSecond} requests per second to a node, an address {options.RequestsPerSecondPerClient})")
        : Problems.TooManyRequests("the request rate bound was exceeded")).ExecuteAsync(rejected.HttpContext));
});

var app = builder.Build();
app.UseRateLimiter();
// The status page of any node shows every node's own view: those two reads may be fetched across origins.
app.Use(StatusPage.CrossOrigin);
app.Use(Auth.Middleware(options));
StatusPage.Map(app);
// Created before the first request: the metrics' gauges and the leader watch exist from the start.
app.Services.GetRequiredService<ServerMetrics>();
app.Services.GetRequiredService<LeaderWatch>();
var forwarding = app.Services.GetRequiredService<Forwarding>();
app.Use(forwarding.InvokeAsync);
app.MapOpenApi();
// The exporter answers /metrics as middleware; the route below only describes it in the OpenAPI document
// (the exporter's own endpoint is not a route handler, so the document would leave it out).
app.UseOpenTelemetryPrometheusScrapingEndpoint("/metrics");
app.MapGet("/metrics", () => Results.StatusCode(StatusCodes.Status404NotFound))
    .WithTags("Operations").Produces<string>(200, "text/plain").Produces<ProblemJson>(429, Problems.ContentType).Describe("GetMetrics", "Prometheus metrics of this node");
SessionEndpoints.Map(app);
ViewEndpoints.Map(app);
LockspaceEndpoints.Map(app);
LockEndpoints.Map(app);
ClusterEndpoints.Map(app);
MembershipEndpoints.Map(app);
BackupEndpoints.Map(app);
app.Run();
// Non-zero when the node stopped itself: a join that was refused or timed out (ClusterJoin).
return Environment.ExitCode;

// Seconds, from half a millisecond (a sync or a commit on a quiet machine) to the five seconds a stall may last.
static double[] LatencyBuckets() => [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

static TokenBucketRateLimiterOptions PerSecond(int requests) => new()
{
    TokenLimit = requests,
    TokensPerPeriod = requests,
    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
    QueueLimit = 0,
};
