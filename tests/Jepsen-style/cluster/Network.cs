using System.Globalization;
using System.Text.RegularExpressions;

namespace RaftDlm.Jepsen.Cluster;

/// <summary>
/// One network namespace per node, joined by veth pairs to a bridge in the root namespace, on a /24
/// of 10.213.k.0 that this run picks and owns. The root namespace (the clients) reaches every node
/// through the bridge. A pairwise cut is a blackhole route in both namespaces. Every name carries the
/// run's pid in hex (<c>rdlm-&lt;pid&gt;-…</c>), so a later run can delete what a dead run left behind
/// without touching a live run's objects.
/// </summary>
public sealed partial class Network : IDisposable
{
    private readonly string _prefix;
    private readonly int _subnet;
    private readonly int _nodes;
    private readonly HashSet<(int, int)> _cuts = [];
    private bool _disposed;
    private readonly HashSet<string> _clients = [];
    private readonly HashSet<string> _clientCuts = [];

    private Network(int nodes, int subnet)
    {
        _nodes = nodes;
        _subnet = subnet;
        _prefix = "rdlm-" + Environment.ProcessId.ToString("x", CultureInfo.InvariantCulture);
    }

    public static bool Available() =>
        Environment.UserName == "root" && Shell.Run("ip", "netns", "list").ExitCode == 0;

    public string Namespace(int node) => $"{_prefix}-n{node + 1}";
    public string Address(int node) => $"10.213.{_subnet}.{node + 11}";
    public string Bridge => _prefix + "-b";
    public IReadOnlyCollection<(int, int)> Cuts => _cuts;

    /// <summary>Deletes stale objects, then builds the bridge and one namespace per node.</summary>
    public static Network Create(int nodes, Action<string> log)
    {
        CleanStale(log);
        var network = new Network(nodes, PickSubnet());
        try
        {
            network.Build();
            return network;
        }
        catch
        {
            network.Dispose();
            throw;
        }
    }

    private void Build()
    {
        Shell.Must("ip", "link", "add", Bridge, "type", "bridge");
        Shell.Must("ip", "addr", "add", $"10.213.{_subnet}.1/24", "dev", Bridge);
        Shell.Must("ip", "link", "set", Bridge, "up");
        for (var node = 0; node < _nodes; node++)
        {
            var ns = Namespace(node);
            var host = $"{_prefix}-h{node + 1}";
            var inside = $"{_prefix}-i{node + 1}";
            Shell.Must("ip", "netns", "add", ns);
            Shell.Must("ip", "link", "add", host, "type", "veth", "peer", "name", inside);
            Shell.Must("ip", "link", "set", host, "master", Bridge);
            Shell.Must("ip", "link", "set", host, "up");
            Shell.Must("ip", "link", "set", inside, "netns", ns);
            Shell.Must("ip", "netns", "exec", ns, "ip", "addr", "add", Address(node) + "/24", "dev", inside);
            Shell.Must("ip", "netns", "exec", ns, "ip", "link", "set", inside, "up");
            Shell.Must("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
        }
    }

    /// <summary>Cuts the link between two nodes in both directions.</summary>
    public void Cut(int a, int b)
    {
        if (a == b || !_cuts.Add((Math.Min(a, b), Math.Max(a, b)))) return;
        Shell.Must("ip", "netns", "exec", Namespace(a), "ip", "route", "add", "blackhole", Address(b) + "/32");
        Shell.Must("ip", "netns", "exec", Namespace(b), "ip", "route", "add", "blackhole", Address(a) + "/32");
    }

    /// <summary>
    /// An address of the root namespace (on the bridge) for one client process to connect from, so that it
    /// can be cut from the nodes on its own: 10.213.k.(200 + process).
    /// </summary>
    public string AddClient(int process)
    {
        if (process is < 0 or > 50) throw new ArgumentOutOfRangeException(nameof(process), "client processes 0..50 have an address of their own");
        var address = $"10.213.{_subnet}.{200 + process}";
        lock (_clientCuts)
        {
            if (_clients.Add(address)) Shell.Must("ip", "addr", "add", address + "/24", "dev", Bridge);
        }
        return address;
    }

    /// <summary>
    /// Cuts a client address from every node: each node drops what it would send there, so that client's
    /// connections and requests hang as over a dead network. The nodes still reach each other and the other
    /// clients.
    /// </summary>
    public void CutClient(string address)
    {
        lock (_clientCuts)
        {
            if (!_clientCuts.Add(address)) return;
            for (var node = 0; node < _nodes; node++)
            {
                Shell.Must("ip", "netns", "exec", Namespace(node), "ip", "route", "add", "blackhole", address + "/32");
            }
        }
    }

    public void HealClient(string address)
    {
        lock (_clientCuts)
        {
            if (!_clientCuts.Remove(address)) return;
            for (var node = 0; node < _nodes; node++)
            {
                Shell.Run("ip", "netns", "exec", Namespace(node), "ip", "route", "del", "blackhole", address + "/32");
            }
        }
    }

    public void HealAll()
    {
        string[] cut;
        lock (_clientCuts) cut = [.. _clientCuts];
        foreach (var address in cut) HealClient(address);
        foreach (var (a, b) in _cuts.ToList())
        {
            Shell.Run("ip", "netns", "exec", Namespace(a), "ip", "route", "del", "blackhole", Address(b) + "/32");
            Shell.Run("ip", "netns", "exec", Namespace(b), "ip", "route", "del", "blackhole", Address(a) + "/32");
            _cuts.Remove((a, b));
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        for (var node = 0; node < _nodes; node++)
        {
            Shell.Run("ip", "netns", "del", Namespace(node));
            Shell.Run("ip", "link", "del", $"{_prefix}-h{node + 1}");
        }
        Shell.Run("ip", "link", "del", Bridge);
    }

    /// <summary>Names left behind by runs whose process is gone.</summary>
    public static void CleanStale(Action<string> log)
    {
        foreach (var line in Shell.Run("ip", "netns", "list").Output.Split('\n'))
        {
            var name = line.Split(' ', 2)[0].Trim();
            if (IsStale(name)) { log("deleting stale namespace " + name); Shell.Run("ip", "netns", "del", name); }
        }
        foreach (Match match in LinkName().Matches(Shell.Run("ip", "-o", "link", "show").Output))
        {
            var name = match.Groups[1].Value;
            if (IsStale(name)) { log("deleting stale link " + name); Shell.Run("ip", "link", "del", name); }
        }
    }

    private static bool IsStale(string name)
    {
        var match = OwnedName().Match(name);
        if (!match.Success) return false;
        var pid = int.Parse(match.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");
    }

    private static int PickSubnet()
    {
        var used = Shell.Run("ip", "-o", "addr", "show").Output;
        for (var attempt = 0; attempt < 250; attempt++)
        {
            var subnet = 1 + ((Environment.ProcessId + attempt) % 250);
            if (!used.Contains($"10.213.{subnet}.", StringComparison.Ordinal)) return subnet;
        }
        throw new InvalidOperationException("no free 10.213.k.0/24 subnet");
    }

    [GeneratedRegex(@"^rdlm-([0-9a-f]{1,6})-")]
    private static partial Regex OwnedName();

    [GeneratedRegex(@"^\d+: (rdlm-[0-9a-f]{1,6}-[a-z0-9]+)[@:]", RegexOptions.Multiline)]
    private static partial Regex LinkName();
}
