namespace RaftDlm.Jepsen.Checkers;

/// <summary>
/// One checker's verdict. <see cref="Unknown"/> means the checker gave up (a search bound was hit): the
/// run reports it and does not count it as a pass.
/// </summary>
public sealed record CheckResult(string Checker, bool Valid, string Summary, IReadOnlyList<string> Problems, bool Unknown = false)
{
    public const int ProblemsShownMax = 20;

    public static CheckResult From(string checker, string summary, List<string> problems) =>
        new(checker, problems.Count == 0, summary, problems.Take(ProblemsShownMax).Append(problems.Count > ProblemsShownMax ? $"... and {problems.Count - ProblemsShownMax} more" : null).OfType<string>().ToList());
}
