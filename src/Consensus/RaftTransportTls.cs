using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using DotNext.Net.Security;

namespace RaftDlm.Consensus;

/// <summary>
/// Mutual TLS on the Raft transport: every connection, in either direction, presents <see cref="Certificate"/>
/// and accepts the other end only if its certificate chains to one of <see cref="ClusterCas"/> — the system's trust
/// store plays no part. The server asks for the client's certificate and DotNext completes the handshake before
/// it reads the first Raft message, so a peer without a cluster certificate is disconnected having said nothing.
/// </summary>
/// <remarks>
/// Host names are not checked: every holder of a certificate from the cluster's CA is a member (membership is
/// static), so the CA is the boundary; Raft endpoints are IP addresses that a certificate need not name.
/// </remarks>
public sealed class RaftTransportTls
{
    /// <summary>This node's certificate, with its private key, issued by one of <see cref="ClusterCas"/>.</summary>
    public required X509Certificate2 Certificate { get; init; }

    /// <summary>
    /// The cluster's certificate authority: the only roots a peer's certificate may chain to. Usually one; two
    /// while the cluster moves from an old CA to a new one.
    /// </summary>
    public required X509Certificate2Collection ClusterCas { get; init; }

    internal SslOptions ToSslOptions() => new()
    {
        ServerOptions = new SslServerAuthenticationOptions
        {
            ServerCertificate = Certificate,
            ClientCertificateRequired = true,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => IssuedByClusterCa(certificate),
        },
        ClientOptions = new SslClientAuthenticationOptions
        {
            // Any non-empty name: the callback below checks the chain only (see the remarks).
            TargetHost = "raft-dlm-peer",
            ClientCertificates = [Certificate],
            LocalCertificateSelectionCallback = (_, _, _, _, _) => Certificate,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, _, _) => IssuedByClusterCa(certificate),
        },
    };

    /// <summary>True when <paramref name="certificate"/> chains to one of <see cref="ClusterCas"/> and to nothing else.</summary>
    public bool IssuedByClusterCa(X509Certificate? certificate) => ChainsTo(certificate, ClusterCas);

    /// <summary>
    /// Builds <paramref name="certificate"/>'s chain with <paramref name="authorities"/> as the only trusted roots
    /// (no system store, no revocation lookups) and checks that the chain ends at one of those very certificates.
    /// </summary>
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2Collection authorities)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        if (certificate is null || authorities.Count == 0) return false;
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
