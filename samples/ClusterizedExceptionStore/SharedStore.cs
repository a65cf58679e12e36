namespace RaftDlm.Samples.ClusterizedExceptionStore;

/// <summary>
/// The shared disk every node sees (a directory here): one record file per committed exception, named by
/// its sequence number. Writers hold EX on the metadata lock, so there is one writer at a time.
/// </summary>
public sealed class SharedStore
{
    private readonly string _directory;

    public SharedStore(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    /// <summary>Writes record <paramref name="seq"/> atomically (a temporary file renamed into place).</summary>
    public void Write(ulong seq, string key, string value)
    {
        var temporary = Path.Combine(_directory, $"{seq:D12}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, key + "\t" + value);
        File.Move(temporary, Path.Combine(_directory, $"{seq:D12}.rec"), overwrite: true);
    }

    /// <summary>Every record, in sequence order.</summary>
    public IReadOnlyList<(ulong Seq, string Key, string Value)> ReadAll()
    {
        var records = new List<(ulong, string, string)>();
        foreach (var file in Directory.EnumerateFiles(_directory, "*.rec").Order(StringComparer.Ordinal))
        {
            var seq = ulong.Parse(Path.GetFileNameWithoutExtension(file), System.Globalization.CultureInfo.InvariantCulture);
            var parts = File.ReadAllText(file).Split('\t', 2);
            records.Add((seq, parts[0], parts.Length > 1 ? parts[1] : ""));
        }
        return records;
    }
}
