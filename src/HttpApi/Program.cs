using System.Threading.RateLimiting;
using RaftDlm.HttpApi;
using RaftDlm.HttpApi.Api;
using RaftDlm.HttpApi.Hosting;

// One Raft DLM node: the lock table replicated by Raft, served over the HTTP API v1.
// The content root is the program's folder, so its appsettings.json (log levels, defaults) applies from
// whatever directory the server is started; relative data paths still resolve against the current directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddEnvironmentVariables("RAFTDLM_").AddCommandLine(args, ServerOptions.SwitchMappings);
var options = builder.Configuration.Get<ServerOptions>() ?? new ServerOptions();
builder.WebHost.UseUrls(options.HttpUrl);
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodyBytes);
builder.Logging.AddSimpleConsole(console =>
{
    console.SingleLine = true;
    console.TimestampFormat = "HH:mm:ss.fff ";
});

var services = builder.Services;
services.AddSingleton(options);
services.AddSingleton<ServerMetrics>();
services.AddSingleton<LockService>();
services.AddSingleton<LeaderWatch>();
services.AddSingleton<Requests>();
services.AddSingleton<Forwarding>();
services.AddHostedService<RaftHost>();
services.AddSingleton<SessionLeases>();
services.AddHostedService(provider => provider.GetRequiredService<SessionLeases>());
services.AddOpenApi();
services.AddRateLimiter(limiter =>
{
    limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context => RateLimitPartition.GetTokenBucketLimiter(
        context.Connection.RemoteIpAddress?.ToString() ?? "unknown",
        _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.RequestsPerSecondPerClient,
            TokensPerPeriod = options.RequestsPerSecondPerClient,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
        }));
    limiter.OnRejected = (rejected, _) =>
        new ValueTask(Problems.Of(429, "TooManyRequests", "the request rate bound was exceeded").ExecuteAsync(rejected.HttpContext));
});

var app = builder.Build();
app.UseRateLimiter();
app.Use(Auth.Middleware(options));
var forwarding = app.Services.GetRequiredService<Forwarding>();
app.Use((context, next) => forwarding.InvokeAsync(context, next));
app.MapOpenApi();
SessionEndpoints.Map(app);
LockspaceEndpoints.Map(app);
LockEndpoints.Map(app);
ClusterEndpoints.Map(app);
app.Run();
