"""The `gitresearch` command line: thin click commands over the headless core.

Results go to stdout (`--json` for machines), progress and diagnostics to stderr. Exit
codes: 0 success, 1 a negative verdict (a rejected patch), 2 a usage or configuration
error, 3 a runtime failure. A `GitResearchError` never reaches the user as a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from gitresearch import __version__
from gitresearch.errors import GitResearchError

# Each command, the module that defines it, and its one-line help: the group imports a
# command's module only when that command runs, so `--help` starts in a fraction of a
# second (the OpenAI client, Optuna and libcst cost about a second together).
# tests/test_cli.py checks these lines against the commands' own docstrings.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": (
        "gitresearch.cli.inspect",
        "init",
        "Write a first, commented boundaries.toml at the repository root.",
    ),
    "check": ("gitresearch.cli.inspect", "check", "Validate boundaries.toml, or judge a patch against it."),
    "start": (
        "gitresearch.cli.runs",
        "start",
        "Search for improvements until a budget ends, then finalize and print the report.",
    ),
    "status": (
        "gitresearch.cli.runs",
        "status",
        "Where a run stands (live while `gitresearch start` is running).",
    ),
    "report": (
        "gitresearch.cli.runs",
        "report",
        "The ranked candidates (with the cherry-pick command), then every experiment.",
    ),
    "review": (
        "gitresearch.cli.runs",
        "review",
        "Browse a run in the terminal and cherry-pick its winners (the latest run by default).",
    ),
    "pick": (
        "gitresearch.cli.runs",
        "pick",
        "Cherry-pick winners onto your current branch (`git cherry-pick`).",
    ),
    "finalize": (
        "gitresearch.cli.runs",
        "finalize_cmd",
        "Measure each accepted change by leave-one-out ablation and rebuild the candidates branch.",
    ),
    "runs": ("gitresearch.cli.runs", "runs", "Every run in this repository, newest last."),
    "prune": (
        "gitresearch.cli.runs",
        "prune",
        "Delete a run's branches and notes (or only its losers' branches).",
    ),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they run, not when the program starts."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitresearch")
def cli() -> None:
    """gitresearch: an overnight experimentation engine for any git repository.

    \b
    Say what one number to improve and which code may change (boundaries.toml);
    gitresearch proposes patches, checks each against the boundaries, commits every
    experiment on its own branch and keeps only what truly beats the incumbent.

    \b
    Start here:
      gitresearch init      write a first boundaries.toml from your code
      gitresearch check     show what may change and the search space found there
      gitresearch start     search overnight; ends with the ranked report
      gitresearch report    the ranked candidates and every experiment
      gitresearch pick      cherry-pick winners onto your branch
    """


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="gitresearch", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if exc.exit_code == 2 else exc.exit_code)
    except GitResearchError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        sys.exit(0)
