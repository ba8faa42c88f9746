"""The configuration resolved against the code: which files and regions may change.

`load_boundaries` is what every command calls: it parses boundaries.toml (via `config`),
expands the `[[allow]]` globs over the repository's files, resolves every region name in
every allowed Python file with libcst, and refuses, with a located ConfigError, anything
that would leave the search without a clear fence.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitresearch.boundaries.config import CONFIG_NAME, AllowRule, Config, load_config
from gitresearch.boundaries.regions import ParsedModule, Region, SyntaxProblem, parse
from gitresearch.boundaries.sources import DirectorySource, FileSource, glob_match, is_glob
from gitresearch.errors import ConfigError

ALWAYS_PROTECTED = (".git",)


@dataclass(frozen=True)
class AllowedFile:
    path: str
    regions: tuple[str, ...] | None  # None: the whole file may change
    rules: tuple[AllowRule, ...]

    @property
    def is_python(self) -> bool:
        return self.path.endswith((".py", ".pyi"))


@dataclass(frozen=True)
class Boundaries:
    config: Config
    root: Path
    config_relpath: str  # boundaries.toml itself, always protected
    files: Mapping[str, AllowedFile]
    protect: tuple[str, ...]

    def allowed(self, path: str) -> AllowedFile | None:
        return self.files.get(path)

    def protected(self, path: str) -> bool:
        if path == self.config_relpath or any(glob_match(p, path) for p in ALWAYS_PROTECTED):
            return True
        return any(glob_match(pattern, path) for pattern in self.protect)

    def resolved_regions(self, source: FileSource) -> list[tuple[AllowedFile, Region]]:
        """Every allowed region with its current location, in file then line order."""
        out: list[tuple[AllowedFile, Region]] = []
        for allowed in self.files.values():
            if allowed.regions is None:
                continue
            parsed = _parse_file(self.config, source, allowed.path, allowed.rules[0])
            regions = [parsed.regions[name][0] for name in allowed.regions]
            out.extend((allowed, r) for r in sorted(regions, key=lambda r: r.start))
        return out


def load_boundaries(config_path: Path, root: Path, source: FileSource | None = None) -> Boundaries:
    config = load_config(config_path)
    return resolve(config, root, source or DirectorySource(root))


def resolve(config: Config, root: Path, source: FileSource) -> Boundaries:
    try:
        config_rel = config.path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        config_rel = CONFIG_NAME
    all_files = [f for f in source.files()]
    files: dict[str, AllowedFile] = {}
    for index, rule in enumerate(config.allow):
        key = f"allow[{index}].path"
        if rule.path == ".git" or rule.path.startswith(".git/"):
            raise ConfigError(
                config.path,
                f'"{rule.path}" is inside .git, and .git is always protected',
                key=key,
                line=rule.line,
            )
        matched = [f for f in all_files if glob_match(rule.path, f)]
        if not matched:
            raise _missing(config, rule, key, all_files)
        for path in matched:
            _check_not_protected(config, rule, key, path, config_rel)
            files[path] = _merge(files.get(path), path, rule)
    boundaries = Boundaries(config, root, config_rel, files, config.protect)
    for path, allowed in files.items():
        if boundaries.protected(path):
            rule = allowed.rules[0]
            raise ConfigError(
                config.path,
                f'"{path}" is both allowed and protected',
                key=f"allow[{config.allow.index(rule)}].path",
                line=rule.line,
                hint="remove it from [protect] paths or from [[allow]]",
            )
        if allowed.regions is not None:
            _check_regions(config, source, allowed)
    _check_brief(config, source)
    return boundaries


def _merge(previous: AllowedFile | None, path: str, rule: AllowRule) -> AllowedFile:
    if previous is None:
        return AllowedFile(path, rule.regions, (rule,))
    if previous.regions is None or rule.regions is None:
        regions = None
    else:
        regions = previous.regions + tuple(r for r in rule.regions if r not in previous.regions)
    return AllowedFile(path, regions, (*previous.rules, rule))


def _missing(config: Config, rule: AllowRule, key: str, all_files: list[str]) -> ConfigError:
    kind = "matches no file" if is_glob(rule.path) else "does not exist"
    close = difflib.get_close_matches(rule.path, all_files, n=1, cutoff=0.6)
    hint = f'did you mean "{close[0]}"?' if close else "paths are relative to the repository root"
    return ConfigError(config.path, f'allowed path "{rule.path}" {kind}', key=key, line=rule.line, hint=hint)


def _check_not_protected(config: Config, rule: AllowRule, key: str, path: str, config_rel: str) -> None:
    if path == config_rel:
        raise ConfigError(
            config.path,
            f'"{path}" is the boundaries file itself; it can never be allowed',
            key=key,
            line=rule.line,
            hint="narrow the [[allow]] path",
        )


def _parse_file(config: Config, source: FileSource, path: str, rule: AllowRule) -> ParsedModule:
    key = f"allow[{config.allow.index(rule)}].regions"
    raw = source.read_bytes(path)
    try:
        text = (raw or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(config.path, f'"{path}" is not UTF-8 text', key=key, line=rule.line) from None
    parsed = parse(text)
    if isinstance(parsed, SyntaxProblem):
        raise ConfigError(
            config.path,
            f"cannot resolve regions: {path}:{parsed.line} does not parse: {parsed.message}",
            key=key,
            line=rule.line,
        )
    return parsed


def _check_regions(config: Config, source: FileSource, allowed: AllowedFile) -> None:
    assert allowed.regions is not None
    for rule in allowed.rules:
        if rule.regions is None:
            continue
        index = config.allow.index(rule)
        key = f"allow[{index}].regions"
        line = config.lines.get(key, rule.line)
        if not allowed.is_python:
            raise ConfigError(
                config.path,
                f'regions only apply to Python files, and "{allowed.path}" is not one',
                key=key,
                line=line,
                hint="remove `regions` to allow the whole file",
            )
        parsed = _parse_file(config, source, allowed.path, rule)
        for name in rule.regions:
            found = parsed.regions.get(name, ())
            if not found:
                close = difflib.get_close_matches(name, list(parsed.regions), n=1, cutoff=0.6)
                hint = (
                    f'did you mean "{close[0]}"?'
                    if close
                    else "a region is a module-level assignment target, a function, a class or Class.method"
                )
                raise ConfigError(
                    config.path,
                    f'region "{name}" is not defined in {allowed.path}',
                    key=key,
                    line=line,
                    hint=hint,
                )
            if len(found) > 1:
                where = ", ".join(f"{allowed.path}:{r.start_line}" for r in found)
                raise ConfigError(
                    config.path,
                    f'region "{name}" is defined {len(found)} times '
                    f"({where}); a region must be defined exactly once",
                    key=key,
                    line=line,
                    hint="rename one of them or open the enclosing function or class instead",
                )


def _check_brief(config: Config, source: FileSource) -> None:
    if config.agent is None or config.agent.brief is None:
        return
    if source.read_bytes(config.agent.brief) is None:
        raise ConfigError(
            config.path,
            f'the research brief "{config.agent.brief}" does not exist',
            key="agent.brief",
            line=config.lines.get("agent.brief"),
            hint="write it (plain text or Markdown), or remove the key",
        )
