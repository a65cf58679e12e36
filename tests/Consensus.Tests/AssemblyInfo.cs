// The process-level tests start several real processes each; on a 2-core machine running two such tests at
// once makes elections flap, so tests run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
