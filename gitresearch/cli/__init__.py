"""The command line, the only owner of click: thin commands over the core.

`main` is the group, which imports a command's module only when that command runs;
`inspect` holds `init` and `check`; `runs` the run commands (start, finalize, status,
report, review, runs, pick, prune); `workspace` assembles what a command needs (config,
store, ledger, executor) from its options; `progress` draws the live lines on stderr.
"""
