using System.Net;
using System.Net.Sockets;

namespace RaftDlm.TestSupport;

/// <summary>Free TCP ports on 127.0.0.1, for processes the tests start.</summary>
public static class LocalPorts
{
    /// <summary>
    /// <paramref name="count"/> distinct free ports: each is held open until all are picked, so one call
    /// never hands out the same port twice.
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listeners.Add(listener);
                listener.Start();
            }
            return [.. listeners.Select(listener => ((IPEndPoint)listener.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Dispose();
            }
        }
    }
}
