namespace RaftDlm.TestSupport;

/// <summary>The signals the tests send, with their Linux numbers (the tests run on Linux).</summary>
public enum UnixSignal
{
    /// <summary>kill -9: the process gets no chance to flush or say goodbye.</summary>
    Kill = 9,

    /// <summary>A request to shut down cleanly.</summary>
    Term = 15,

    /// <summary>Resumes a stopped process.</summary>
    Cont = 18,

    /// <summary>Stops the process mid-flight, as in a long GC pause or a VM stall.</summary>
    Stop = 19,
}
