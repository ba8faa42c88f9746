"""gitresearch: a git-native patch-search agent for research code.

A flat core with one folder per family of interchangeable parts:
- the core (flat): `loop` runs a search, `decide` is its rule, `record` writes every event
  to the ledger (`ledger`) and to git notes (`notes`, the format) through `store` (the
  only owner of git); `finalize` ranks the winners; `runview` is the one read model that
  `report`, `pick` and the review use; `rebuild` brings the ledger back from git.
- `boundaries/`: what may change and the validator (pure); `propose/`: the proposers;
  `execute/`: the executors; `tui/`: the review (Textual); `cli/`: the command line
  (click); `testing/`: fakes of our own protocols for tests and benches.
"""

__version__ = "0.1.0"
