using RaftDlm.Jepsen.Runner;

// Exit codes: 0 the checkers passed (or the expected-to-fail workload showed its violation),
// 1 a violation (or the expected violation was not found), 2 a usage or setup error.
RunOptions options;
try
{
    options = RunOptions.Parse(args);
}
catch (Exception error) when (error is ArgumentException or FormatException)
{
    Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine(RunOptions.Usage);
    return 2;
}
return await new JepsenRun(options).RunAsync();
