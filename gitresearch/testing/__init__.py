"""Fakes that implement gitresearch's own protocols, shipped for tests and benches.

`fakeexec.ScriptedExecutor` is an `Executor` whose metric is a function of the job (the
commit's code and the seed), `fakellm.FakeLLM` a Chat Completions server with scripted
replies, `fakerun.write_fake_run` a whole run written as git objects. Nothing in the
product imports this package.
"""
