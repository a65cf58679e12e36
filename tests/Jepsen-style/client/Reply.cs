using System.Text.Json;
using RaftDlm.Jepsen.History;

namespace RaftDlm.Jepsen.Client;

/// <summary>
/// One HTTP answer, already classified: 2xx ok; 4xx and 503 fail (definitely not applied); 504, other
/// 5xx, timeouts and broken connections info. A refused connection never sent the request: fail.
/// </summary>
public sealed record Reply(OpType Type, int Status, string? Code, JsonElement Body, string? Error)
{
    public bool Is(string code) => string.Equals(Code, code, StringComparison.Ordinal);
    public string? Text(string name) => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
    public long? Number(string name) => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : null;
    public bool? Flag(string name) => Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty(name, out var value) && value.ValueKind is JsonValueKind.True or JsonValueKind.False ? value.GetBoolean() : null;
    public string Describe() => Error ?? (Code is null ? Status.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Status} {Code}");
}
