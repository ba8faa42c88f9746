"""The git side of gitresearch, and the only module that imports GitPython.

Git holds the truth of a run (DESIGN.md, Git layout):

- `refs/heads/gitresearch/<run>/base`      the commit the run started from
- `refs/heads/gitresearch/<run>/<NNNN>`    one branch per committed experiment
- `refs/heads/gitresearch/<run>/best`      the incumbent
- `refs/notes/gitresearch`                 a JSON note on every experiment commit, on every
                                           candidate commit and on the base commit (their
                                           format belongs to `notes.py`)

Experiment commits are built with plumbing: blobs and trees written straight into the
object database, the parent's tree rewritten only along the changed paths, the branch ref
written atomically. Nothing is ever checked out in the user's working tree, and the
user's index and HEAD are never read for writing. Worktrees for the local executor are
created and reset here too, since that is git work; `execute.local` only asks for them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import git
from git.objects.fun import tree_entries_from_data, tree_to_stream
from gitdb import IStream
from gitdb.exc import BadName, BadObject

from gitresearch.errors import GitResearchError, UsageError
from gitresearch.reapply import apply_change

NOTES_REF = "refs/notes/gitresearch"
BRANCH_PREFIX = "gitresearch"
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_EXPERIMENT = re.compile(r"^\d{4,}$")
TRAILER_RUN, TRAILER_EXPERIMENT, TRAILER_PROPOSER = (
    "Gitresearch-Run",
    "Gitresearch-Experiment",
    "Gitresearch-Proposer",
)


class StoreError(GitResearchError):
    """A git operation failed in a way the user's repository must be looked at for."""


@dataclass(frozen=True)
class ExperimentCommit:
    run: str
    number: int
    sha: str
    parent: str
    hypothesis: str
    rationale: str
    proposer: str

    @property
    def branch(self) -> str:
        return experiment_branch(self.run, self.number)


@dataclass(frozen=True)
class RunRefs:
    name: str
    base: str
    best: str | None
    candidates: str | None
    experiments: Mapping[int, str]  # number -> commit sha


def run_branch(run: str, leaf: str) -> str:
    return f"{BRANCH_PREFIX}/{run}/{leaf}"


def experiment_branch(run: str, number: int) -> str:
    return run_branch(run, f"{number:04d}")


def check_run_name(name: str) -> str:
    if not RUN_NAME.match(name) or name.endswith(".lock") or ".." in name:
        raise UsageError(
            f'run name "{name}" is not usable as a branch name; use letters, digits, '
            "'.', '_' and '-' (at most 64 characters)"
        )
    return name


class CommitSource:
    """The files of one commit, read from the object database (nothing is checked out)."""

    def __init__(self, repo: git.Repo, rev: str) -> None:
        try:
            self.commit = repo.commit(rev)
            self._tree = self.commit.tree
        except (BadName, BadObject, ValueError) as exc:
            raise UsageError(f'no commit named "{rev}" in {repo.working_dir}: {exc}') from None

    @property
    def hexsha(self) -> str:
        return str(self.commit.hexsha)

    def files(self) -> Iterator[str]:
        for item in self._tree.traverse():
            if isinstance(item, git.Blob):
                yield str(item.path)

    def read_bytes(self, path: str) -> bytes | None:
        try:
            blob = self._tree / path
        except KeyError:
            return None
        if not isinstance(blob, git.Blob):
            return None
        data: bytes = blob.data_stream.read()
        return data

    def blob_sha(self, path: str) -> str | None:
        try:
            blob = self._tree / path
        except KeyError:
            return None
        return str(blob.hexsha) if isinstance(blob, git.Blob) else None


def open_repo(root: Path) -> git.Repo:
    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(f"{root} is not a git repository") from None


def head_source(root: Path, rev: str = "HEAD") -> CommitSource | None:
    """The commit `rev` as a file source, or None in a repository without commits yet."""
    repo = open_repo(root)
    if rev == "HEAD" and not repo.head.is_valid():
        return None
    return CommitSource(repo, rev)


def blob_hash(data: bytes) -> str:
    """Git's blob id of `data`, to compare a file on disk with a tree entry without git."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


SAFE_GIT = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


class Store:
    """Runs, experiments and notes in one repository."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = open_repo(root)
        # The harness's own git never runs a hook or an fsmonitor: a job that managed to write
        # one could otherwise run code with the harness's rights and environment.
        self.repo.git.set_persistent_git_options(c=[SAFE_GIT[1], SAFE_GIT[3]])
        self.git_dir = Path(self.repo.git_dir)
        self.state_dir = Path(self.repo.common_dir) / "gitresearch"
        self.ledger_path = self.state_dir / "ledger.sqlite"  # the ledger's one home

    # -- reading ------------------------------------------------------------------------

    def head(self) -> str:
        if not self.repo.head.is_valid():
            raise UsageError(f"{self.root} has no commit yet; commit your code before starting a run")
        return str(self.repo.head.commit.hexsha)

    def dirty_paths(self) -> list[str]:
        """Tracked files with uncommitted changes (they are not part of a run)."""
        return sorted(
            {d.a_path or d.b_path or "" for d in self.repo.index.diff(None)}
            | {d.a_path or d.b_path or "" for d in self.repo.index.diff("HEAD")}
        )

    def source(self, rev: str) -> CommitSource:
        return CommitSource(self.repo, rev)

    def resolve(self, rev: str) -> str:
        try:
            return str(self.repo.commit(rev).hexsha)
        except (BadName, BadObject, ValueError):
            raise UsageError(f'no commit named "{rev}"') from None

    def resolve_ref(self, ref: str) -> str | None:
        """The object a full ref name points at, or None when there is no such ref."""
        try:
            out: str = self.repo.git.rev_parse("--verify", "--quiet", ref)
        except git.GitCommandError:
            return None
        return out.strip() or None

    def ref_sha(self, branch: str) -> str | None:
        path = f"refs/heads/{branch}"
        try:
            return str(git.Reference(self.repo, path).commit.hexsha)
        except (ValueError, BadName, BadObject):
            return None

    def runs(self, only: str | None = None) -> list[RunRefs]:
        """Every run's branches, read in one `git for-each-ref` (a run may have 10,000)."""
        prefix = f"refs/heads/{BRANCH_PREFIX}/"
        pattern = prefix + (f"{only}/" if only is not None else "")
        listing: str = self.repo.git.for_each_ref("--format=%(objectname) %(objecttype) %(refname)", pattern)
        by_run: dict[str, dict[str, str]] = {}
        for line in listing.splitlines():
            sha, kind, path = line.split(" ", 2)
            if kind != "commit" or not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            run, _, leaf = rest.rpartition("/")
            if not run or "/" in run:
                continue
            by_run.setdefault(run, {})[leaf] = sha
        out = []
        for run, leaves in sorted(by_run.items()):
            if "base" not in leaves:
                continue
            experiments = {int(k): v for k, v in leaves.items() if _EXPERIMENT.match(k)}
            out.append(
                RunRefs(
                    run,
                    leaves["base"],
                    leaves.get("best"),
                    leaves.get("candidates"),
                    dict(sorted(experiments.items())),
                )
            )
        return out

    def run(self, name: str) -> RunRefs | None:
        return next((r for r in self.runs(only=name) if r.name == name), None)

    def experiment(self, run: str, number: int, sha: str | None = None) -> ExperimentCommit:
        commit = self.repo.commit(sha or experiment_branch(run, number))
        message = str(commit.message)
        subject, _, rest = message.partition("\n")
        body_lines = []
        trailers: dict[str, str] = {}
        for line in rest.strip("\n").splitlines():
            key, sep, value = line.partition(": ")
            if sep and key.startswith("Gitresearch-"):
                trailers[key] = value.strip()
            else:
                body_lines.append(line)
        parent = str(commit.parents[0].hexsha) if commit.parents else ""
        return ExperimentCommit(
            run,
            number,
            str(commit.hexsha),
            parent,
            subject.strip(),
            "\n".join(body_lines).strip(),
            trailers.get(TRAILER_PROPOSER, "unknown"),
        )

    # -- writing ------------------------------------------------------------------------

    def create_run(self, name: str, base: str) -> None:
        check_run_name(name)
        if self.ref_sha(run_branch(name, "base")) is not None:
            raise UsageError(
                f'a run named "{name}" already exists; pick another --name, or '
                f"continue it with --resume {name}"
            )
        self.set_branch(run_branch(name, "base"), base)
        self.set_branch(run_branch(name, "best"), base)

    def set_branch(self, branch: str, sha: str) -> None:
        """Point `branch` at `sha` (created or moved; written atomically by GitPython)."""
        # No reflog: its separate lock file is one more thing a kill could leave behind.
        git.Reference.create(self.repo, f"refs/heads/{branch}", sha, force=True)

    def clear_stale_locks(self, settle: float = 3.0) -> list[str]:
        """Remove `.lock` files a killed gitresearch left on its own refs; returns what went.

        Only call this while holding the repository lock: then no gitresearch process can
        start writing these refs. A git child of a killed gitresearch may still be finishing
        its write, though, so a lock younger than `settle` seconds is given that long to go.
        """
        common = Path(self.repo.common_dir)
        places = [
            common / "refs" / "heads" / BRANCH_PREFIX,
            common / "logs" / "refs" / "heads" / BRANCH_PREFIX,
        ]
        found = [p for place in places if place.is_dir() for p in place.rglob("*.lock")]
        notes_lock = common / (NOTES_REF + ".lock")
        if notes_lock.exists():
            found.append(notes_lock)
        removed = []
        for path in found:
            deadline = time.monotonic() + settle
            while path.exists() and time.monotonic() < deadline and _age(path) < settle:
                time.sleep(0.02)
            if path.exists():
                path.unlink(missing_ok=True)
                removed.append(str(path.relative_to(common)))
        return removed

    def prune_notes(self) -> None:
        """Drop notes whose commits are gone (after their branches were deleted and git gc'ed)."""
        if git.Reference(self.repo, NOTES_REF).is_valid():
            self.repo.git.notes("--ref", NOTES_REF, "prune")

    def delete_branch(self, branch: str) -> None:
        ref = git.Reference(self.repo, f"refs/heads/{branch}")
        if ref.is_valid():
            git.Reference.delete(self.repo, ref.path)

    def write_tree(self, parent: str, changes: Mapping[str, bytes]) -> str:
        """The tree of `parent` with `changes` applied (objects written, nothing referenced)."""
        return self._rewrite_tree(self.repo.commit(parent).tree.binsha, "", changes).hex()

    def tree_of(self, sha: str) -> str:
        return str(self.repo.commit(sha).tree.hexsha)

    def commit_tree(self, tree: str, parent: str, message: str) -> str:
        return self._git_with_file(["commit-tree", tree, "-p", parent], text=message, flag="-F")

    def parent_of(self, sha: str) -> str:
        return str(self.repo.commit(sha).parents[0].hexsha)

    def message(self, sha: str) -> str:
        return str(self.repo.commit(sha).message)

    def pick_onto(
        self, onto: str, commit: str, message: str | None = None, parent: str | None = None
    ) -> str | None:
        """Cherry-pick `commit` onto `onto` without a worktree; None when its lines were changed there.

        `parent` replaces the commit's own parent as the start of the change (to take several
        consecutive commits as one).
        """
        parent = parent or self.parent_of(commit)
        theirs, base, ours = self.source(commit), self.source(parent), self.source(onto)
        changes: dict[str, bytes] = {}
        for path in self.changed_paths(parent, commit):
            old, new, here = base.read_bytes(path), theirs.read_bytes(path), ours.read_bytes(path)
            if old is None or new is None or here is None:
                return None  # gitresearch commits only modify files; anything else is not ours to move
            merged = apply_change(old.decode("utf-8"), new.decode("utf-8"), here.decode("utf-8"))
            if merged is None:
                return None
            changes[path] = merged.encode("utf-8")
        tree = self.write_tree(onto, changes)
        return self.commit_tree(tree, onto, message if message is not None else self.message(commit))

    def changed_paths(self, a: str, b: str) -> list[str]:
        out: str = self.repo.git.diff("--name-only", "--no-renames", a, b)
        return [line for line in out.splitlines() if line]

    def fast_import(self, stream: bytes) -> None:
        """Feed a `git fast-import` stream (used to generate big runs for tests and benches)."""
        with tempfile.TemporaryFile() as f:
            f.write(stream)
            f.seek(0)
            self.repo.git.execute(["git", *SAFE_GIT, "fast-import", "--quiet"], istream=f)

    def diff(self, parent: str, sha: str) -> str:
        """The unified diff of `sha` against `parent` (what the review shows)."""
        out: str = self.repo.git.diff("--no-color", "--no-ext-diff", parent, sha)
        return out

    def diffstat(self, parent: str, sha: str) -> str:
        out: str = self.repo.git.diff("--shortstat", parent, sha)
        return out.strip()

    def line_changes(self, parent: str, sha: str) -> tuple[int, int]:
        """(lines added, lines removed) by `sha` over `parent`, binary files not counted."""
        added = removed = 0
        out: str = self.repo.git.diff("--numstat", parent, sha)
        for line in out.splitlines():
            plus, minus, _ = [*line.split("\t"), "", ""][:3]
            if plus.isdigit() and minus.isdigit():
                added, removed = added + int(plus), removed + int(minus)
        return added, removed

    def checkout_is_clean(self) -> bool:
        return not self.repo.is_dirty(index=True, working_tree=True, untracked_files=False)

    def current_branch(self) -> str | None:
        return None if self.repo.head.is_detached else str(self.repo.active_branch.name)

    def cherry_pick_into_checkout(self, shas: list[str]) -> tuple[bool, str]:
        """`git cherry-pick` onto the user's current branch (the one command that touches it)."""
        try:
            out: str = self.repo.git.cherry_pick(*shas)
            return True, out
        except git.GitCommandError as exc:
            text = str(exc.stderr or exc.stdout or exc).strip()
            if text.startswith("stderr: '"):  # GitPython quotes git's own words
                text = text[len("stderr: '") :].rstrip("'")
            return False, text.strip()

    def already_applied(self, sha: str) -> bool:
        """HEAD already holds this commit, or a commit with the same patch (`git cherry`)."""
        if self.repo.is_ancestor(self.repo.commit(sha), self.repo.head.commit):
            return True
        out: str = self.repo.git.cherry("HEAD", sha, f"{sha}^")
        return out.strip().startswith("-")

    def abort_cherry_pick(self, back_to: str) -> None:
        """Leave no cherry-pick in progress, and put the branch back at `back_to` (kept safe:
        `reset --keep` refuses to drop local changes, and the pick started from a clean tree)."""
        with contextlib.suppress(git.GitCommandError):
            self.repo.git.cherry_pick("--abort")
        self.repo.git.reset("--keep", back_to)

    def commit_experiment(
        self,
        run: str,
        number: int,
        parent: str,
        changes: Mapping[str, bytes],
        hypothesis: str,
        rationale: str,
        proposer: str,
        tree: str | None = None,
    ) -> ExperimentCommit:
        """Commit `changes` (path -> new bytes of existing files) on top of `parent`.

        `tree`, when given, is `write_tree(parent, changes)` already computed (for dedupe).
        """
        subject = " ".join(hypothesis.split()) or f"experiment {number}"
        lines = [subject, ""]
        if rationale.strip():
            lines += [rationale.strip(), ""]
        lines += [
            f"{TRAILER_RUN}: {run}",
            f"{TRAILER_EXPERIMENT}: {number:04d}",
            f"{TRAILER_PROPOSER}: {proposer}",
        ]
        # git itself writes the commit object: GitPython's commit writer, killed at the wrong
        # instant, was seen to leave an empty "commit 0" object that fails `git fsck`.
        sha = self.commit_tree(tree or self.write_tree(parent, changes), parent, "\n".join(lines) + "\n")
        self.set_branch(experiment_branch(run, number), sha)
        return ExperimentCommit(run, number, sha, parent, subject, rationale.strip(), proposer)

    def _git_with_file(self, args: list[str], *, text: str, flag: str, tail: tuple[str, ...] = ()) -> str:
        """Run `git ARGS FLAG <file holding text> TAIL` and return its stdout."""
        fd, tmp = tempfile.mkstemp(prefix="msg-", dir=self._tmp_dir())
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            out: str = self.repo.git.execute(["git", *SAFE_GIT, *args, flag, tmp, *tail])
            return out.strip()
        except git.GitCommandError as exc:
            raise StoreError(f"git {args[0]} failed: {exc.stderr.strip()}") from None
        finally:
            os.unlink(tmp)

    def _store(self, kind: bytes, data: bytes) -> bytes:
        binsha: bytes = self.repo.odb.store(IStream(kind, len(data), BytesIO(data))).binsha
        return binsha

    def _rewrite_tree(self, tree_sha: bytes, prefix: str, changes: Mapping[str, bytes]) -> bytes:
        data = self.repo.odb.stream(tree_sha).read()
        entries = list(tree_entries_from_data(data))
        names = {name: i for i, (_, _, name) in enumerate(entries)}
        mine = {p[len(prefix) :]: v for p, v in changes.items() if p.startswith(prefix)}
        subdirs: dict[str, dict[str, bytes]] = {}
        for rel, content in mine.items():
            head, sep, _ = rel.partition("/")
            if sep:
                subdirs.setdefault(head, {})[prefix + rel] = content
                continue
            if rel not in names:
                raise StoreError(f"cannot commit {prefix + rel}: it does not exist in the parent commit")
            binsha, mode, name = entries[names[rel]]
            entries[names[rel]] = (self._store(b"blob", content), mode, name)
        for head, sub in subdirs.items():
            if head not in names:
                raise StoreError(
                    f"cannot commit into {prefix + head}/: it does not exist in the parent commit"
                )
            binsha, mode, name = entries[names[head]]
            entries[names[head]] = (self._rewrite_tree(binsha, f"{prefix}{head}/", sub), mode, name)
        out = BytesIO()
        tree_to_stream(entries, out.write)
        return self._store(b"tree", out.getvalue())

    # -- notes ----------------------------------------------------------------------------

    def write_note(self, sha: str, payload: Mapping[str, Any]) -> None:
        text = json.dumps(payload, indent=1, sort_keys=True) + "\n"
        self._git_with_file(["notes", "--ref", NOTES_REF, "add", "-f"], text=text, flag="-F", tail=(sha,))

    def read_note(self, sha: str) -> dict[str, Any] | None:
        notes = self._notes_tree()
        if notes is None:
            return None
        for split in (0, 2, 4, 6):
            parts = [sha[i : i + 2] for i in range(0, split, 2)] + [sha[split:]]
            try:
                blob = notes / "/".join(parts)
            except KeyError:
                continue
            return _load_note(blob.data_stream.read())
        return None

    def all_notes(self) -> dict[str, dict[str, Any]]:
        """Every note on `refs/notes/gitresearch`, read from its tree in one pass."""
        notes = self._notes_tree()
        out: dict[str, dict[str, Any]] = {}
        if notes is None:
            return out
        for item in notes.traverse():
            if isinstance(item, git.Blob):
                sha = str(item.path).replace("/", "")
                payload = _load_note(item.data_stream.read())
                if payload is not None:
                    out[sha] = payload
        return out

    def _notes_tree(self) -> git.Tree | None:
        ref = git.Reference(self.repo, NOTES_REF)
        if not ref.is_valid():
            return None
        tree: git.Tree = ref.commit.tree
        return tree

    # -- the tripwire -------------------------------------------------------------------------

    def tripwire(self, *, refs: bool) -> dict[str, str]:
        """A cheap picture of what a job must never change: the repository's config and hooks,
        and with `refs` the user's branches and tags, HEAD and the index. Files only, no git."""
        common = Path(self.repo.common_dir)
        state: dict[str, str] = {"config": _digest(common / "config")}
        hooks = common / "hooks"
        if hooks.is_dir():
            for hook in sorted(hooks.iterdir()):
                state[f"hook {hook.name}"] = _digest(hook)
        if not refs:
            return state
        state["HEAD"] = _digest(self.git_dir / "HEAD")
        index = self.git_dir / "index"
        state["index"] = f"{index.stat().st_mtime_ns}:{index.stat().st_size}" if index.exists() else ""
        for kind in ("heads", "tags"):
            folder = common / "refs" / kind
            for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
                name = path.relative_to(common).as_posix()
                if path.is_file() and not name.startswith("refs/heads/gitresearch/"):
                    state[name] = _digest(path)
        packed = common / "packed-refs"
        if packed.exists():
            for line in packed.read_text(errors="replace").splitlines():
                sha, _, name = line.partition(" ")
                if name.startswith(("refs/heads/", "refs/tags/")) and not name.startswith(
                    "refs/heads/gitresearch/"
                ):
                    state[f"packed {name}"] = sha
        return state

    def _tmp_dir(self) -> Path:
        path = self.state_dir / "tmp"
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- shipping commits to other machines ----------------------------------------------

    def bundle(self, sha: str, have: str | None = None) -> bytes:
        """A git bundle holding `sha` (and its history), without what `have` already brings: a
        thin bundle of a few kilobytes for an experiment, given the base on the other side."""
        ref = f"refs/gitresearch-ship/{sha}"
        with tempfile.TemporaryDirectory(dir=self._tmp_dir()) as tmp:
            out = Path(tmp) / "ship.bundle"
            try:
                self.repo.git.update_ref(ref, sha)
                args = ["create", str(out), ref] + ([f"^{have}"] if have and have != sha else [])
                self.repo.git.bundle(*args)
                return out.read_bytes()
            except git.GitCommandError as exc:
                raise StoreError(f"could not bundle {sha[:12]}: {exc.stderr.strip()}") from None
            finally:
                with contextlib.suppress(git.GitCommandError):
                    self.repo.git.update_ref("-d", ref)

    def has_commit(self, sha: str) -> bool:
        try:
            self.repo.git.cat_file("-e", f"{sha}^{{commit}}")
        except git.GitCommandError:
            return False
        return True

    def unbundle(self, data: bytes, sha: str) -> None:
        """Bring `sha` in from a bundle made by `bundle` (on another machine)."""
        with tempfile.TemporaryDirectory(dir=self._tmp_dir()) as tmp:
            path = Path(tmp) / "ship.bundle"
            path.write_bytes(data)
            ref = f"refs/gitresearch-ship/{sha}"
            try:
                self.repo.git.fetch("--quiet", str(path), f"{ref}:{ref}")
            except git.GitCommandError as exc:
                raise StoreError(f"could not read the bundle of {sha[:12]}: {exc.stderr.strip()}") from None

    # -- worktrees ------------------------------------------------------------------------

    def ensure_worktree(self, path: Path, sha: str) -> None:
        """A detached worktree at `path` checked out at `sha`, created if needed."""
        if (path / ".git").is_file():
            self.reset_worktree(path, sha)
            return
        if path.exists():
            shutil.rmtree(path)
        self.repo.git.worktree("prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.repo.git.worktree("add", "--detach", "--force", str(path), sha)
        except git.GitCommandError as exc:
            raise StoreError(f"could not create the worktree {path}: {exc.stderr.strip()}") from None

    def reset_worktree(self, path: Path, sha: str) -> None:
        """Detach `path` at `sha` and remove every untracked or ignored leftover of the last job."""
        wt = git.Git(str(path))
        try:
            wt.checkout("--detach", "--force", "--quiet", sha)
            wt.clean("-ffdxq")
        except git.GitCommandError as exc:
            raise StoreError(f"could not reset the worktree {path}: {exc.stderr.strip()}") from None

    def remove_worktree(self, path: Path) -> None:
        try:
            self.repo.git.worktree("remove", "--force", str(path))
        except git.GitCommandError:
            shutil.rmtree(path, ignore_errors=True)
            self.repo.git.worktree("prune")


SCRATCH_IDENTITY = {
    "GIT_AUTHOR_NAME": "gitresearch agent",
    "GIT_AUTHOR_EMAIL": "agent@gitresearch.invalid",
    "GIT_COMMITTER_NAME": "gitresearch agent",
    "GIT_COMMITTER_EMAIL": "agent@gitresearch.invalid",
}
_SCRATCH_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false")


def init_scratch(tree: Path, excluded: str) -> str:
    """Make the files in `tree` a fresh repository of their own with one commit (a coding
    agent's scratch tree; `excluded` is a folder kept out of it). Returns that commit."""
    try:
        repo = git.Repo.init(tree)
        (tree / ".git" / "info").mkdir(parents=True, exist_ok=True)
        (tree / ".git" / "info" / "exclude").write_text(f"/{excluded}/\n")
        with repo.git.custom_environment(**SCRATCH_IDENTITY):
            repo.git.execute(["git", *_SCRATCH_CONFIG, "add", "-A"])
            repo.git.execute(
                [
                    "git",
                    *_SCRATCH_CONFIG,
                    "commit",
                    "-q",
                    "--allow-empty",
                    "-m",
                    "gitresearch: the code to improve",
                ]
            )
        return str(repo.head.commit.hexsha)
    except (git.GitCommandError, OSError, ValueError) as exc:
        raise StoreError(f"could not make the scratch repository {tree}: {exc}") from None


def scratch_changes(tree: Path, start: str, excluded: str) -> tuple[str, str]:
    """Everything changed in a scratch tree since `start` (committed or not, new files too,
    never `excluded`) as a unified diff, and the message of the agent's last commit ("" when
    it made none)."""
    try:
        repo = git.Repo(tree)
        message = ""
        with contextlib.suppress(ValueError):
            if repo.head.commit.hexsha != start:
                message = str(repo.head.commit.message).strip()
        with repo.git.custom_environment(**SCRATCH_IDENTITY):
            repo.git.execute(["git", *_SCRATCH_CONFIG, "add", "-A"])  # `excluded` is in info/exclude
            diff = repo.git.execute(
                ["git", "diff", "--cached", "--no-color", "--no-ext-diff", "--no-renames", "--binary", start],
                strip_newline_in_stdout=False,
            )
        return str(diff), message
    except (git.GitCommandError, OSError, ValueError) as exc:
        raise StoreError(f"could not read the scratch repository {tree}: {exc}") from None


def _digest(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _load_note(data: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def init_cache_repo(path: Path) -> Store:
    """An empty repository at `path` (a node's cache of a run's commits), opened as a Store."""
    if not (path / ".git").exists():
        path.mkdir(parents=True, exist_ok=True)
        git.Repo.init(path)
    return Store(path)
