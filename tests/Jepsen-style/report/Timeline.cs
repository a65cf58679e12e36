using System.Globalization;
using System.Text;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Report;

/// <summary>
/// A hand-written SVG: operation latency (one dot per operation at its invocation, coloured by
/// outcome) above throughput (completed ok operations per second), with fault windows shaded.
/// </summary>
public static class Timeline
{
    private const int Width = 1000;
    private const int Left = 60;
    private const int PlotWidth = Width - Left - 20;
    private const int LatencyTop = 30;
    private const int LatencyHeight = 220;
    private const int ThroughputTop = 290;
    private const int ThroughputHeight = 120;
    private const int Height = 450;
    private const int DotsMax = 20_000;

    public static string Render(IReadOnlyList<Op> ops, IReadOnlyList<FaultWindow> faults, int timeLimitSeconds)
    {
        var clientOps = ops.Where(op => op.Process >= 0).ToList();
        var endMs = Math.Max(timeLimitSeconds * 1000.0, clientOps.Count == 0 ? 1 : clientOps.Max(op => op.CompleteMs));
        var latencies = clientOps.Select(op => op.CompleteMs - op.InvokeMs).ToList();
        var latencyMaxMs = Math.Max(100, latencies.Count == 0 ? 100 : latencies.Max());
        double X(double ms) => Left + ms / endMs * PlotWidth;
        string F(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" font-family=\"sans-serif\" font-size=\"11\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        foreach (var fault in faults)
        {
            var x0 = X(fault.StartMs);
            var x1 = X(fault.EndMs ?? endMs);
            var colour = fault.Kind switch { "kill" => "#f4a3a3", "pause" => "#f7d08a", "client-pause" => "#b9d7f0", "partition" => "#c7b3e6", "wipe" => "#a8dfc0", "membership" => "#e8c6a0", _ => "#dddddd" };
            svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x0)}\" y=\"{LatencyTop}\" width=\"{F(Math.Max(1, x1 - x0))}\" height=\"{ThroughputTop + ThroughputHeight - LatencyTop}\" fill=\"{colour}\" opacity=\"0.45\"><title>{Escape(fault.Kind + ": " + fault.Detail)}</title></rect>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x0 + 2)}\" y=\"{LatencyTop - 4}\" fill=\"#555\">{Escape(fault.Kind)}</text>\n");
        }
        Axes(svg, LatencyTop, LatencyHeight, $"latency (ms, max {latencyMaxMs:F0})");
        Axes(svg, ThroughputTop, ThroughputHeight, "ok ops/s");
        var step = Math.Max(1, clientOps.Count / DotsMax);
        for (var i = 0; i < clientOps.Count; i += step)
        {
            var op = clientOps[i];
            var y = LatencyTop + LatencyHeight - (op.CompleteMs - op.InvokeMs) / latencyMaxMs * LatencyHeight;
            var colour = op.Type switch { OpType.Ok => "#2a8a2a", OpType.Fail => "#c03030", _ => "#e08a00" };
            svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(X(op.InvokeMs))}\" cy=\"{F(y)}\" r=\"1.6\" fill=\"{colour}\"/>\n");
        }
        var seconds = (int)Math.Ceiling(endMs / 1000);
        var perSecond = new int[seconds + 1];
        foreach (var op in clientOps.Where(op => op.Type == OpType.Ok)) perSecond[Math.Min(seconds, (int)(op.CompleteMs / 1000))]++;
        var peak = Math.Max(1, perSecond.Max());
        var points = string.Join(' ', perSecond.Select((count, s) => $"{F(X(s * 1000 + 500))},{F(ThroughputTop + ThroughputHeight - (double)count / peak * ThroughputHeight)}"));
        svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{points}\" fill=\"none\" stroke=\"#2060b0\" stroke-width=\"1.5\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 4}\" y=\"{ThroughputTop + 10}\" text-anchor=\"end\">{peak}</text>\n");
        for (var s = 0; s <= seconds; s += Math.Max(1, seconds / 10))
        {
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(s * 1000))}\" y=\"{ThroughputTop + ThroughputHeight + 14}\" text-anchor=\"middle\">{s}s</text>\n");
        }
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"{Height - 8}\">dots: green ok, red fail, orange info; shading: red kill, orange server pause, blue client pause, purple partition, green wipe, grey restart-all</text>\n");
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Axes(StringBuilder svg, int top, int height, string label)
    {
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{top}\" x2=\"{Left}\" y2=\"{top + height}\" stroke=\"black\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{top + height}\" x2=\"{Left + PlotWidth}\" y2=\"{top + height}\" stroke=\"black\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + 4}\" y=\"{top + 12}\">{Escape(label)}</text>\n");
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
