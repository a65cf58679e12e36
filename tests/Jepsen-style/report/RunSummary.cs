using System.Globalization;
using System.Text;
using System.Text.Json;
using RaftDlm.Jepsen.Checkers;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Report;

/// <summary>The run's summary, written as summary.json and summary.md.</summary>
public sealed class RunSummary
{
    public required string Command { get; init; }
    public required string Workload { get; init; }
    public required int Seed { get; init; }
    public required int Nodes { get; init; }
    public required IReadOnlyList<string> Nemeses { get; init; }
    public required int TimeLimitSeconds { get; init; }
    public required string Verdict { get; init; }
    public required bool ExpectedToFail { get; init; }
    public required string Network { get; init; }
    public required IReadOnlyList<CheckResult> Checkers { get; init; }
    public required Dictionary<string, Dictionary<string, int>> Counts { get; init; }
    public required IReadOnlyList<FaultWindow> Faults { get; init; }
    public required IReadOnlyList<string> SkippedFaults { get; init; }
    public required IReadOnlyList<string> Plan { get; init; }
    public required bool HistoryTruncated { get; init; }

    public void Write(string directory)
    {
        File.WriteAllText(Path.Combine(directory, "summary.json"), JsonSerializer.Serialize(this, new JsonSerializerOptions(HistoryLog.Json) { WriteIndented = true }));
        File.WriteAllText(Path.Combine(directory, "summary.md"), Markdown());
    }

    private string Markdown()
    {
        var text = new StringBuilder();
        var invariant = CultureInfo.InvariantCulture;
        text.AppendLine(invariant, $"# {Workload} — seed {Seed}: {Verdict}");
        text.AppendLine();
        text.AppendLine(invariant, $"`{Command}`");
        text.AppendLine();
        text.AppendLine(invariant, $"{Nodes} nodes, {Network}; nemeses: {(Nemeses.Count == 0 ? "none" : string.Join(", ", Nemeses))}; {TimeLimitSeconds} s.{(ExpectedToFail ? " This workload is expected to fail." : "")}");
        text.AppendLine();
        text.AppendLine("## Checkers");
        text.AppendLine();
        text.AppendLine("| checker | result | summary |");
        text.AppendLine("|---|---|---|");
        foreach (var check in Checkers)
        {
            text.AppendLine(invariant, $"| {check.Checker} | {(check.Unknown ? "unknown" : check.Valid ? "valid" : "**INVALID**")} | {check.Summary.Replace("|", "\\|", StringComparison.Ordinal)} |");
        }
        foreach (var check in Checkers.Where(c => c.Problems.Count > 0))
        {
            text.AppendLine();
            text.AppendLine(invariant, $"Problems found by {check.Checker}:");
            text.AppendLine();
            foreach (var problem in check.Problems) text.AppendLine(invariant, $"- {problem}");
        }
        text.AppendLine();
        text.AppendLine("## Operations");
        text.AppendLine();
        text.AppendLine("| op | ok | fail | info |");
        text.AppendLine("|---|---|---|---|");
        foreach (var (f, counts) in Counts) text.AppendLine(invariant, $"| {f} | {counts["ok"]} | {counts["fail"]} | {counts["info"]} |");
        text.AppendLine();
        text.AppendLine("## Fault windows");
        text.AppendLine();
        if (Faults.Count == 0) text.AppendLine("none");
        foreach (var fault in Faults)
        {
            text.AppendLine(invariant, $"- {fault.StartMs / 1000:F1}–{(fault.EndMs ?? fault.StartMs) / 1000:F1} s {fault.Kind}: {fault.Detail}");
        }
        foreach (var skipped in SkippedFaults) text.AppendLine(invariant, $"- skipped: {skipped}");
        if (HistoryTruncated) text.AppendLine().AppendLine("The history hit its size bound and was truncated.");
        text.AppendLine();
        text.AppendLine("Files: `history.jsonl` (one operation per line), `summary.json`, `timeline.svg`, `logs/` (server output), `run.log`.");
        return text.ToString();
    }
}
