"""What may change, and whether a patch stays inside: the judge (pure: no git, no click).

`config` parses boundaries.toml once into frozen objects (errors name the file, key and
line, via `tomlpos`); `resolve` turns its allow/protect rules into `Boundaries` against
the files of a commit (`sources`); `regions` finds named regions with libcst;
`diffparse` reads unified diffs; `policy` is the static deny-list; `validator` judges a
patch and returns `Accepted` or `Rejected` with located violations, never raising;
`initgen` guesses a first boundaries.toml for `gitresearch init`.
"""
