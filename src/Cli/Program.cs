using System.CommandLine;
using RaftDlm.Cli;

// dlmctl: the Raft DLM from the command line. The program is the command tree; the work is in Commands.
var root = Commands.Build();
return await root.Parse(args).InvokeAsync();
