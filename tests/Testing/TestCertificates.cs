using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftDlm.Testing;

/// <summary>
/// A throw-away CA and one certificate per node (127.0.0.1 and localhost, server and client use), made with
/// <see cref="CertificateRequest"/> and written as PEM files into a folder, for servers started with TLS.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private readonly string _directory;
    private readonly ECDsa _caKey;

    private TestCertificates(string directory, string caName)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
        _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={caName}", _caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        Ca = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(10));
        CaPath = Path.Combine(directory, "ca.pem");
        File.WriteAllText(CaPath, Ca.ExportCertificatePem());
    }

    /// <summary>A new CA named <paramref name="caName"/> with its files in <paramref name="directory"/>.</summary>
    public static TestCertificates Create(string directory, string caName = "raft-dlm test CA") => new(directory, caName);

    /// <summary>The CA certificate (public part).</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The CA as a PEM file.</summary>
    public string CaPath { get; }

    /// <summary>Issues (once) the certificate of <paramref name="id"/> and returns its PEM certificate and key files.</summary>
    public (string CertificatePath, string KeyPath) Node(string id)
    {
        var certificatePath = Path.Combine(_directory, id + ".pem");
        var keyPath = Path.Combine(_directory, id + ".key");
        if (File.Exists(certificatePath)) return (certificatePath, keyPath);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={id}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        using var certificate = request.Create(Ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey),
            DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(5), serial);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
        File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
        return (certificatePath, keyPath);
    }

    /// <summary>The server settings for HTTPS with <paramref name="id"/>'s certificate and trust in this CA for peer calls.</summary>
    public Dictionary<string, string> HttpSettings(string id)
    {
        var (certificate, key) = Node(id);
        return new Dictionary<string, string>
        {
            ["Kestrel:Certificates:Default:Path"] = certificate,
            ["Kestrel:Certificates:Default:KeyPath"] = key,
            ["TlsCaPath"] = CaPath,
        };
    }

    /// <summary>The server settings for mutual TLS on Raft with <paramref name="id"/>'s certificate and this CA.</summary>
    public Dictionary<string, string> RaftSettings(string id)
    {
        var (certificate, key) = Node(id);
        return new Dictionary<string, string>
        {
            ["RaftTls:CertificatePath"] = certificate,
            ["RaftTls:KeyPath"] = key,
            ["RaftTls:CaPath"] = CaPath,
        };
    }

    /// <summary>Makes <paramref name="handler"/> trust this CA alone (the host name is still checked).</summary>
    public SocketsHttpHandler Trusting(SocketsHttpHandler handler)
    {
        handler.SslOptions.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is null) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
            return chain.Build(leaf);
        };
        return handler;
    }

    public void Dispose()
    {
        Ca.Dispose();
        _caKey.Dispose();
    }
}
