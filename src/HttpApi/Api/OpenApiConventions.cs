using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace RaftDlm.HttpApi.Api;

/// <summary>
/// What makes <c>/openapi/v1.json</c> usable by client generators (Kiota, and <c>redocly lint</c>'s recommended
/// rules): each endpoint names itself (<see cref="Describe"/>: operationId and summary) and its problem answers
/// (<see cref="Problems"/>: <c>application/problem+json</c> with <c>code</c>); the document gets the bearer
/// security scheme on every <c>/v1</c> operation, ids typed as strings, the catch-all <c>{resource}</c> path
/// parameter, and a server URL without a trailing slash.
/// </summary>
internal static class OpenApiConventions
{
    private const string Bearer = "bearer";

    /// <summary>The operationId (what generated clients call the method) and a one-line summary.</summary>
    public static RouteHandlerBuilder Describe(this RouteHandlerBuilder endpoint, string operationId, string summary) =>
        endpoint.WithName(operationId).WithSummary(summary);

    /// <summary>The problem answers an operation can give, besides 401/403/429 (every /v1 operation) and its successes.</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder endpoint, params int[] statuses)
    {
        foreach (var status in statuses.Concat([401, 403, 429]).Distinct()) endpoint.Produces<ProblemJson>(status, Api.Problems.ContentType);
        return endpoint;
    }

    /// <summary>The problems of a call the leader proposes: 503 (not applied) and 504 (outcome unknown), and 400.</summary>
    public static RouteHandlerBuilder WriteProblems(this RouteHandlerBuilder endpoint, params int[] statuses) =>
        endpoint.Problems([400, 503, 504, .. statuses]);

    /// <summary>The problems of a linearizable read: 503 when no leader confirms it.</summary>
    public static RouteHandlerBuilder ReadProblems(this RouteHandlerBuilder endpoint, params int[] statuses) =>
        endpoint.Problems([503, .. statuses]);

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "Raft DLM HTTP API",
                Version = "v1",
                Description = "A distributed lock manager replicated with Raft: sessions, six lock modes, conversions, LVBs, fencing tokens.",
                License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" },
            };
            document.Servers = [new OpenApiServer { Url = "http://127.0.0.1:7700", Description = "a node (any node takes any call)" }];
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
            {
                tag.Description = tag.Name switch
                {
                    "Sessions" => "Sessions with leases, their events, and the sessions view",
                    "Lockspaces" => "Lockspaces: namespaces of resources with their LVB size and lock-delay",
                    "Locks" => "Lock requests, conversions, unlocks, orphans, resources, the wait-for graph and fencing checks",
                    "Cluster" => "This node's view of the Raft cluster",
                    "Operations" => "Health, readiness and metrics (no token needed)",
                    _ => tag.Description,
                };
            }
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[Bearer] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An admin or lockspace token, when the cluster has tokens configured (docs/api.md, Authentication).",
            };
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var path = context.Description.RelativePath ?? "";
            operation.Security = path.StartsWith("v1/", StringComparison.Ordinal)
                ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(Bearer, context.Document)] = [] }]
                : [];
            // The resource of /resources/{**resource} is read from the raw path (it may hold slashes), so no
            // handler parameter declares it.
            if (path.Contains("{**resource}", StringComparison.Ordinal) && !(operation.Parameters ?? []).Any(p => p.Name == "resource"))
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = "resource",
                    In = ParameterLocation.Path,
                    Required = true,
                    Description = "The top-level resource's name, percent-encoded (it may contain '/').",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer((schema, context, _) =>
        {
            // Ids are strings on the wire; the request bodies also accept a number for them (IdConverter).
            if (context.JsonPropertyInfo?.CustomConverter is IdConverter)
            {
                schema.Type = JsonSchemaType.String | JsonSchemaType.Null;
                schema.OneOf = null;
                schema.AnyOf = null;
            }
            return Task.CompletedTask;
        });
    }
}
