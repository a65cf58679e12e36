namespace RaftDlm.LockStateMachine.Tests.Compatibility;

/// <summary>
/// The fixture files of the compatibility tests: where they are read from, how they are written once, and the
/// replay of a fixture log.
/// </summary>
internal static class FixtureFiles
{
    /// <summary>
    /// Replays a fixture log on a new machine, checking that every command decodes and is answered with the
    /// bytes the fixture's code answered with; returns the machine.
    /// </summary>
    public static LockMachine Replay(IEnumerable<(long Index, int Position, long LeaderTimeMs, byte[] Command, byte[] Result)> log)
    {
        var machine = new LockMachine();
        foreach (var (index, position, leaderTimeMs, command, oldResult) in log)
        {
            var decoded = CommandCodec.TryDecode(command, out var error);
            Assert.True(decoded is not null, error);
            var result = machine.Apply(new LogEntry(index, leaderTimeMs, decoded, position));
            Assert.Equal(oldResult, CommandCodec.EncodeResult(result));
        }
        return machine;
    }

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
