using BenchmarkDotNet.Running;
using RaftDlm.LockStateMachine.Bench;

// `memory` measures retained bytes per granted lock and snapshot/restore time at 1,000,000 locks;
// anything else is handed to BenchmarkDotNet (e.g. `--filter '*'`).
if (args.Length > 0 && args[0] == "memory")
{
    LargeTable.Run(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(ApplyBenchmarks).Assembly).Run(args);
