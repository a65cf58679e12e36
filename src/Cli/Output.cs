using System.Text.Json;
using System.Text.Json.Serialization;

namespace RaftDlm.Cli;

/// <summary>Prints results as an aligned table (the default) or as JSON (<c>--json</c>).</summary>
internal sealed class Output(bool json)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public bool IsJson => json;

    public void Object(object value) => Console.WriteLine(JsonSerializer.Serialize(value, value.GetType(), Json));

    /// <summary>A table, or the JSON of <paramref name="value"/> with <c>--json</c>.</summary>
    public void Table(object value, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string?>> rows)
    {
        if (json)
        {
            Object(value);
            return;
        }
        var all = rows.Select(row => row.Select(cell => cell ?? "-").ToList()).ToList();
        var widths = headers.Select((header, i) => Math.Max(header.Length, all.Count == 0 ? 0 : all.Max(row => row[i].Length))).ToList();
        Console.WriteLine(string.Join("  ", headers.Select((header, i) => header.PadRight(widths[i]))).TrimEnd());
        foreach (var row in all) Console.WriteLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
    }

    /// <summary>Key/value lines, or the JSON of <paramref name="value"/>.</summary>
    public void Fields(object value, IEnumerable<(string Key, string? Value)> fields)
    {
        if (json)
        {
            Object(value);
            return;
        }
        var list = fields.ToList();
        var width = list.Max(field => field.Key.Length);
        foreach (var (key, text) in list) Console.WriteLine($"{key.PadRight(width)}  {text ?? "-"}");
    }

    public static string Lvb(string? base64)
    {
        if (base64 is null) return "-";
        var bytes = Convert.FromBase64String(base64);
        var u64 = bytes.Length >= 8 ? BitConverter.ToUInt64(bytes, 0).ToString(System.Globalization.CultureInfo.InvariantCulture) : "-";
        return $"{Convert.ToHexString(bytes).ToLowerInvariant()} (u64 {u64})";
    }
}
