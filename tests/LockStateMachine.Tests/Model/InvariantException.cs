namespace RaftDlm.LockStateMachine.Tests.Model;

/// <summary>An invariant that <see cref="InvariantChecker"/> found broken; the run that called it adds the context.</summary>
internal sealed class InvariantException(string message) : Exception(message);
