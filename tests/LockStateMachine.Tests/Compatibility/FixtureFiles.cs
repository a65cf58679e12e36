namespace RaftDlm.LockStateMachine.Tests.Compatibility;

/// <summary>The fixture files of the compatibility tests: where they are read from, and how they are written once.</summary>
internal static class FixtureFiles
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "Compatibility", "Fixtures");

    public static byte[] Read(string name) => File.ReadAllBytes(Path.Combine(Directory, name));

    /// <summary>Writes the files into the folder <paramref name="variable"/> names; nothing when it is unset.</summary>
    public static void WriteWhenAsked(string variable, Func<IEnumerable<(string Name, byte[] Bytes)>> files)
    {
        var directory = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(directory)) return;
        foreach (var (name, bytes) in files()) File.WriteAllBytes(Path.Combine(directory, name), bytes);
    }
}
