// Each test class starts real server processes; on two cores they run one class at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
