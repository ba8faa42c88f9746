"""The executors: where benchmarks run. One protocol, interchangeable implementations.

`base` holds the `Job` a loop hands out, the `Succeeded | Failed` it gets back and the
`Executor` protocol; a new executor (a cluster, a sandbox) is a new module here that
implements it. Today: `local` (a pool of worktrees, one per slot), built on `runner` (the
only owner of subprocesses) and `gpus` (slot planning). The scripted executor of the
tests is `gitresearch.testing.fakeexec`.
"""
