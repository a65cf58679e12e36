using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace RaftDlm.Client;

/// <summary>HTTPS that trusts one CA (<see cref="DlmClientOptions.TrustedCa"/> or <see cref="DlmClientOptions.TrustedCaPath"/>) instead of the system's store.</summary>
internal static class TrustedCa
{
    public static SocketsHttpHandler Apply(SocketsHttpHandler handler, DlmClientOptions options)
    {
        var authority = options.TrustedCa
            ?? (string.IsNullOrEmpty(options.TrustedCaPath) ? null : X509Certificate2.CreateFromPem(File.ReadAllText(options.TrustedCaPath)));
        if (authority is null) return handler;
        handler.SslOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        // The host name is still checked; only the chain is judged against the one CA.
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && ChainsTo(certificate, authority);
        return handler;
    }

    private static bool ChainsTo(X509Certificate? certificate, X509Certificate2 authority)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf) && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span);
    }
}
