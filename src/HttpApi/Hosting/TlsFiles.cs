using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using RaftDlm.Consensus;

namespace RaftDlm.HttpApi.Hosting;

/// <summary>
/// Certificates from PEM files, and the HTTP handler settings with which one node calls another: a node given
/// <see cref="ServerOptions.TlsCaPath"/> accepts a peer's HTTPS certificate only if it chains to a CA of that file (and
/// names the host it was called by); without it, the system's trust store decides.
/// </summary>
internal static class TlsFiles
{
    /// <summary>Every certificate in a PEM file: one CA, or two while a cluster moves to a new CA.</summary>
    public static X509Certificate2Collection LoadCertificates(string path)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (Exception error) when (error is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"'{path}' is not a PEM file of certificates: {error.Message}", error);
        }
        return certificates.Count > 0 ? certificates : throw new InvalidOperationException($"'{path}' holds no PEM certificate.");
    }

    /// <summary>A certificate and its private key from two PEM files, in a form SslStream can use on every platform.</summary>
    public static X509Certificate2 LoadCertificateWithKey(string certificatePath, string keyPath)
    {
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
            // Windows' SslStream cannot use a key that lives only in memory; a PKCS#12 round trip gives it a stored one.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception error) when (error is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new InvalidOperationException($"'{certificatePath}' with key '{keyPath}' is not a usable certificate: {error.Message}", error);
        }
    }

    /// <summary>Makes <paramref name="handler"/> trust only the CA of <see cref="ServerOptions.TlsCaPath"/>, when it is set.</summary>
    public static SocketsHttpHandler TrustPeers(SocketsHttpHandler handler, ServerOptions options)
    {
        if (string.IsNullOrEmpty(options.TlsCaPath)) return handler;
        var authorities = LoadCertificates(options.TlsCaPath);
        handler.SslOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) == SslPolicyErrors.None
            && RaftTransportTls.ChainsTo(certificate, authorities);
        return handler;
    }
}
