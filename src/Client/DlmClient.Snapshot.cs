using System.Net;

namespace RaftDlm.Client;

public sealed partial class DlmClient
{
    /// <summary>
    /// Streams a backup of the whole lock table (<c>GET /v1/snapshot</c>, admin) into <paramref name="destination"/>.
    /// The nodes are tried in turn while they answer 503/502/504 or cannot be reached, each once, twice over;
    /// the body is not retried once it has started (the destination holds part of it then). Check the result
    /// with <see cref="SnapshotBackup.ReadInfoAsync"/>.
    /// </summary>
    /// <returns>The number of bytes written.</returns>
    public async Task<long> SaveSnapshotAsync(Stream destination, bool stale = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var failures = new List<string>();
        for (var attempt = 0; attempt < 2 * _endpoints.Length; attempt++)
        {
            var endpoint = _endpoints[attempt % _endpoints.Length];
            Metrics.Request("snapshot");
            HttpResponseMessage response;
            try
            {
                using var headers = CancellationTokenSource.CreateLinkedTokenSource(ct);
                headers.CancelAfter(Options.RequestTimeout);
                response = await _http.GetAsync(endpoint + "/v1/snapshot" + (stale ? "?stale=true" : ""), HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
            }
            catch (Exception error) when (error is HttpRequestException || error is OperationCanceledException && !ct.IsCancellationRequested)
            {
                failures.Add($"{endpoint}: {error.Message}");
                continue;
            }
            using (response)
            {
                var status = (int)response.StatusCode;
                if (response.StatusCode is HttpStatusCode.ServiceUnavailable or HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout)
                {
                    failures.Add($"{endpoint} answered {status}: {Problem(await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false))}");
                    await Task.Delay(TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
                    continue;
                }
                if (status >= 300)
                {
                    throw new Reply(status, await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)).Error();
                }
                await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                var before = destination.CanSeek ? destination.Position : 0;
                await body.CopyToAsync(destination, 1 << 16, ct).ConfigureAwait(false);
                return destination.CanSeek ? destination.Position - before : -1;
            }
        }
        throw new DlmException(DlmErrorCodes.Unavailable, 503, "snapshot: no node gave one; " + string.Join("; ", failures));
    }
}
