using RaftDlm.Testing;

namespace RaftDlm.Client.Tests;

/// <summary>The client trusts the CA it is given for https:// endpoints, and nothing else it is not told to.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task A_client_given_the_ca_speaks_https_and_one_without_it_is_refused()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var cluster = await ServerCluster.StartAsync(1, tls: true);
        var endpoint = cluster.HttpUrl("node1");

        await using (var byPath = new DlmClient(new DlmClientOptions { Endpoints = [endpoint], TrustedCaPath = cluster.Certificates!.CaPath }))
        {
            Assert.True(await byPath.CreateLockspaceAsync("tls-client", 8, ct: timeout.Token));
        }
        await using (var byCertificate = new DlmClient(new DlmClientOptions { Endpoints = [endpoint], TrustedCa = cluster.Certificates.Ca }))
        {
            Assert.Contains(await byCertificate.GetLockspacesAsync(timeout.Token), space => space.Name == "tls-client");
        }

        using var otherDirectory = new TempFolder();
        using var otherCa = TestCertificates.Create(otherDirectory.Path, "another CA");
        await using var untrusting = new DlmClient(new DlmClientOptions
        {
            Endpoints = [endpoint],
            TrustedCa = otherCa.Ca,
            MaxAttempts = 2,
            RetryBudget = TimeSpan.FromSeconds(2),
        });
        var refused = await Assert.ThrowsAsync<DlmException>(() => untrusting.GetLockspacesAsync(timeout.Token));
        Assert.Contains("SSL", refused.Message, StringComparison.Ordinal);
    }

    private sealed class TempFolder : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "raftdlm-tests", "ca-" + Guid.NewGuid().ToString("N"));

        public void Dispose()
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }
}
