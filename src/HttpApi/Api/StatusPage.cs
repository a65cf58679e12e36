using Microsoft.Extensions.FileProviders;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// The status page at <c>/ui/</c>: plain files from the program's <c>ui</c> folder. The page asks every member
/// for its own <c>/v1/cluster</c> and <c>/readyz</c>, which live on other origins (other ports or hosts), so those
/// two read-only paths answer cross-origin GETs (and their preflight, which carries no token).
/// </summary>
internal static class StatusPage
{
    public static void Map(WebApplication app)
    {
        var files = new PhysicalFileProvider(Path.Combine(AppContext.BaseDirectory, "ui"));
        // No endpoint may match /ui: the file middlewares serve only requests no endpoint claimed. /ui is
        // redirected to /ui/ by the default-files middleware itself.
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = "/ui", RedirectToAppendTrailingSlash = true });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files, RequestPath = "/ui" });
    }

    public static Task CrossOrigin(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path;
        if (!path.Equals("/v1/cluster", StringComparison.Ordinal) && !path.Equals("/readyz", StringComparison.Ordinal))
        {
            return next(context);
        }
        var headers = context.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        if (HttpMethods.IsOptions(context.Request.Method))
        {
            headers.AccessControlAllowMethods = "GET";
            headers.AccessControlAllowHeaders = "Authorization";
            headers.AccessControlMaxAge = "600";
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }
        return next(context);
    }
}
