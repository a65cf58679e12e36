using Microsoft.Extensions.DependencyInjection;

namespace RaftDlm.Client.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public void AddRaftDlmClient_registers_one_configured_client()
    {
        var services = new ServiceCollection();
        services.AddRaftDlmClient(options => options.Endpoints = ["http://127.0.0.1:7710", "http://127.0.0.1:7720"]);
        using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<DlmClient>();
        Assert.Same(client, provider.GetRequiredService<DlmClient>());
        Assert.Equal(["http://127.0.0.1:7710", "http://127.0.0.1:7720"], client.Endpoints);
    }

    [Fact]
    public void Mode_coverage_follows_the_matrix()
    {
        Assert.True(LockModes.Covers(LockMode.EX, LockMode.PR));
        Assert.True(LockModes.Covers(LockMode.PW, LockMode.PR));
        Assert.False(LockModes.Covers(LockMode.PR, LockMode.CW));
        Assert.False(LockModes.Covers(LockMode.CW, LockMode.PR));
        Assert.True(LockModes.Covers(LockMode.CR, LockMode.NL));
        Assert.False(LockModes.AreCompatible(LockMode.EX, LockMode.CR));
    }
}
