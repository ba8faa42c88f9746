"""The import-linter contracts name every module, so a new module cannot slip past them."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_every_module_is_under_the_ownership_contracts() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}
    modules = {
        f"gitresearch.{p.stem}"
        for p in (ROOT / "gitresearch").glob("*.py")
        if p.stem not in ("__init__", "__main__")
    }
    owners = {
        "Only the store imports GitPython": "gitresearch.store",
        "Only the runner starts processes": "gitresearch.runner",
        "Only the sweep imports Optuna": "gitresearch.sweep",
        "Only the llm module imports the OpenAI client": "gitresearch.llm",
        "Only the review imports Textual": "gitresearch.review",
    }
    for name, owner in owners.items():
        assert set(contracts[name]["source_modules"]) == modules - {owner}, name
    # The shell around the core: the command line, and the agent stack built on the OpenAI client.
    shell = {
        "gitresearch.cli",
        "gitresearch.cli_runs",
        "gitresearch.llm",
        "gitresearch.agent",
        "gitresearch.hybrid",
        "gitresearch.proposers",
        "gitresearch.review",
    }
    core = contracts["The core never imports Textual or the OpenAI client"]
    assert set(core["source_modules"]) == modules - shell
    assert not core.get("allow_indirect_imports", False)
