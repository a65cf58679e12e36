using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RaftDlm.Consensus.Tests;

/// <summary>The Raft transport's peer check: a certificate is a member's only if it chains to a configured cluster CA.</summary>
public sealed class RaftTransportTlsTests
{
    [Fact]
    public void A_certificate_is_accepted_only_when_it_chains_to_one_of_the_cluster_cas()
    {
        var (oldCa, oldKey) = Authority("old CA");
        var (newCa, newKey) = Authority("new CA");
        var (otherCa, otherKey) = Authority("other CA");
        using var fromOld = Issue(oldCa, oldKey, "node1");
        using var fromNew = Issue(newCa, newKey, "node2");
        using var fromOther = Issue(otherCa, otherKey, "rogue");
        using var selfSigned = SelfSigned("node3");

        var onlyOld = new X509Certificate2Collection(oldCa);
        var both = new X509Certificate2Collection { oldCa, newCa };
        Assert.True(RaftTransportTls.ChainsTo(fromOld, onlyOld));
        Assert.False(RaftTransportTls.ChainsTo(fromNew, onlyOld));
        Assert.True(RaftTransportTls.ChainsTo(fromNew, both));
        Assert.True(RaftTransportTls.ChainsTo(fromOld, both));
        Assert.False(RaftTransportTls.ChainsTo(fromOther, both));
        Assert.False(RaftTransportTls.ChainsTo(selfSigned, both));
        Assert.False(RaftTransportTls.ChainsTo(null, both));
        // A CA is not a member's certificate by being trusted elsewhere: an empty trust list accepts nothing.
        Assert.False(RaftTransportTls.ChainsTo(fromOld, []));
    }

    private static (X509Certificate2 Certificate, ECDsa Key) Authority(string name)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return (request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)), key);
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, ECDsa authorityKey, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        return request.Create(authority.SubjectName, X509SignatureGenerator.CreateForECDsa(authorityKey),
            DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1), [1, 2, 3, 4]);
    }

    private static X509Certificate2 SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddHours(1));
    }
}
