using Microsoft.Playwright;

namespace RaftDlm.HttpApi.BrowserTests;

/// <summary>
/// The browser the tests drive: the OS package chromium (<c>/usr/bin/chromium</c>, or <c>RAFTDLM_CHROMIUM</c>),
/// launched by Playwright through <c>ExecutablePath</c>; Playwright's own browser download is never used.
/// </summary>
internal static class Chromium
{
    public static string? Path { get; } = new[] { Environment.GetEnvironmentVariable("RAFTDLM_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser" }
        .FirstOrDefault(path => !string.IsNullOrEmpty(path) && File.Exists(path));

    /// <summary>Headless, with a fresh profile of its own (Playwright makes one per launch).</summary>
    public static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new()
    {
        ExecutablePath = Path,
        Headless = true,
        // As root in a sandbox, and with no network beyond loopback: no sandbox, nothing fetched in the background.
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
}

/// <summary>A test that needs chromium; skipped, saying why, where none is installed.</summary>
public sealed class BrowserFactAttribute : FactAttribute
{
    public BrowserFactAttribute()
    {
        if (Chromium.Path is null) Skip = "no chromium executable (/usr/bin/chromium, or RAFTDLM_CHROMIUM): install the OS package chromium (.ci/run does)";
    }
}
