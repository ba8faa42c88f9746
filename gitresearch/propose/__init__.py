"""The proposers: where the ideas come from. One protocol, several implementations.

`base` holds what a proposer hands the loop and gets back (`Proposal`, `Context`,
`Outcome`, `NOT_READY`) and the `Proposer` protocol; a new proposer is a new module here
that implements it, and a line in `choose.make_proposer`. Today: `sweep` (Optuna over the
literals `searchspace` finds), `agent` (an LLM through `llm`, the only owner of the
openai client, with its texts in `prompts/`), `hybrid` (both, one history).
"""
