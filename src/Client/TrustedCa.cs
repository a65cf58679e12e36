using System.Net.Http;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace RaftDlm.Client;

/// <summary>HTTPS that trusts the given CAs (<see cref="DlmClientOptions.TrustedCa"/>, every certificate of <see cref="DlmClientOptions.TrustedCaPath"/>) instead of the system's store.</summary>
internal static class TrustedCa
{
    public static SocketsHttpHandler Apply(SocketsHttpHandler handler, DlmClientOptions options)
    {
        var authorities = new X509Certificate2Collection();
        if (options.TrustedCa is { } certificate) authorities.Add(certificate);
        if (!string.IsNullOrEmpty(options.TrustedCaPath)) authorities.ImportFromPemFile(options.TrustedCaPath);
        if (authorities.Count == 0) return handler;
        handler.SslOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        // The host name is still checked; only the chain is judged against the one CA.
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None && ChainsTo(certificate, authorities);
        return handler;
    }

    private static bool ChainsTo(X509Certificate? certificate, X509Certificate2Collection authorities)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        if (!chain.Build(leaf)) return false;
        var root = chain.ChainElements[^1].Certificate;
        return authorities.Any(authority => root.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span));
    }
}
