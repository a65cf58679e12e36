using System.Diagnostics;

namespace RaftDlm.Client;

// Decides whether caching pays for a handle: wins (a lock served from the cache) and losses (a cached lock
// given up on a blocking event) are counted with exponential decay over time. Caching stops when recent
// losses clearly exceed wins and resumes once they have decayed (the other party went idle).
internal sealed class CacheTuner(TimeSpan halfLife)
{
    private const double SuspendMargin = 2.0;
    private const double ResumeMargin = 0.5;
    private readonly Lock _sync = new();
    private double _wins;
    private double _losses;
    private long _lastTicks = Stopwatch.GetTimestamp();
    private bool _suspended;

    public void Win()
    {
        lock (_sync)
        {
            Decay();
            _wins += 1;
        }
    }

    public void Loss()
    {
        lock (_sync)
        {
            Decay();
            _losses += 1;
        }
    }

    public bool ShouldCache
    {
        get
        {
            lock (_sync)
            {
                Decay();
                if (_suspended && _losses - _wins < ResumeMargin) _suspended = false;
                else if (!_suspended && _losses - _wins >= SuspendMargin) _suspended = true;
                return !_suspended;
            }
        }
    }

    public (double Wins, double Losses) Scores
    {
        get
        {
            lock (_sync)
            {
                Decay();
                return (_wins, _losses);
            }
        }
    }

    private void Decay()
    {
        var now = Stopwatch.GetTimestamp();
        var elapsed = Stopwatch.GetElapsedTime(_lastTicks, now);
        _lastTicks = now;
        var factor = Math.Pow(0.5, elapsed / halfLife);
        _wins *= factor;
        _losses *= factor;
    }
}
