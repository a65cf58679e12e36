using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace RaftDlm.Client;

/// <summary>Registers a shared <see cref="DlmClient"/> in a service collection.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Adds a singleton <see cref="DlmClient"/> configured by <paramref name="configure"/>
    /// (e.g. <c>services.AddRaftDlmClient(o => o.Endpoints = ["http://127.0.0.1:7710"])</c>).
    /// </summary>
    public static IServiceCollection AddRaftDlmClient(this IServiceCollection services, Action<DlmClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        if (configure is not null) services.Configure(configure);
        services.TryAddSingleton(provider => new DlmClient(
            provider.GetRequiredService<IOptions<DlmClientOptions>>().Value,
            provider.GetService<ILogger<DlmClient>>()));
        return services;
    }
}
