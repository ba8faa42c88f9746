"""Property tests: edits outside regions never pass; literal edits inside always do."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitresearch.boundaries.regions import ParsedModule, parse
from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.boundaries.sources import DirectorySource
from gitresearch.boundaries.validator import Accepted, Rejected, Validator
from gitresearch.propose.searchspace import Knob, find_knobs
from tests.helpers.repos import BOUNDARIES, PREPARE_PY, TRAIN_PY, make_repo

REGIONS = ["LEARNING_RATE", "BETAS", "WARMUP_STEPS", "configure_optimizer", "GPT.forward"]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    root = tmp_path_factory.mktemp("props") / "repo"
    files = {"train.py": TRAIN_PY, "prepare.py": PREPARE_PY, "notes.md": "n\n", "boundaries.toml": BOUNDARIES}
    make_repo(root, files)
    source = DirectorySource(root)
    return Validator(load_boundaries(root / "boundaries.toml", root, source), source)


def _module() -> ParsedModule:
    module = parse(TRAIN_PY)
    assert isinstance(module, ParsedModule)
    return module


MODULE = _module()
SPANS = sorted((MODULE.regions[n][0].start, MODULE.regions[n][0].end) for n in REGIONS)
OUTSIDE = [i for i in range(len(TRAIN_PY) + 1) if not any(s <= i < e for s, e in SPANS)]
KNOBS: list[Knob] = find_knobs("train.py", MODULE, [MODULE.regions[n][0] for n in REGIONS])
TEXT = st.text(
    alphabet=st.sampled_from(list(" \n\t#:=()[]-+*_.,'\"0123456789abcXYZ")), min_size=0, max_size=6
)


@st.composite
def outside_edit(draw: st.DrawFn) -> str:
    """Replace a random slice that starts outside every region with different text."""
    start = draw(st.sampled_from(OUTSIDE))
    max_len = 0
    while start + max_len < len(TRAIN_PY) and (start + max_len) in OUTSIDE and max_len < 6:
        max_len += 1
    length = draw(st.integers(0, max_len))
    new = draw(TEXT)
    old = TRAIN_PY[start : start + length]
    if new == old:
        new = old + "#"
    return TRAIN_PY[:start] + new + TRAIN_PY[start + length :]


@SETTINGS
@given(patched=outside_edit())
def test_random_edits_outside_regions_are_rejected(validator: Validator, patched: str) -> None:
    verdict = validator.judge_files({"train.py": patched})
    assert isinstance(verdict, Rejected)
    assert {v.rule for v in verdict.violations} <= {
        "outside-region",
        "syntax-error",
        "region-missing",
        "region-duplicated",
    }


def _value(knob: Knob) -> st.SearchStrategy[int | float | bool]:
    if knob.kind == "bool":
        return st.booleans()
    if knob.kind == "int":
        return st.integers(-(10**6), 10**6)
    return st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def literal_edit(draw: st.DrawFn) -> str:
    chosen = draw(
        st.lists(st.sampled_from(KNOBS), min_size=1, max_size=len(KNOBS), unique_by=lambda k: k.label)
    )
    text = TRAIN_PY
    for knob in sorted(chosen, key=lambda k: k.start, reverse=True):
        rendered = knob.render(draw(_value(knob)))
        text = text[: knob.start] + rendered + text[knob.end :]
    return text


@SETTINGS
@given(patched=literal_edit())
def test_random_literal_edits_inside_regions_are_accepted(validator: Validator, patched: str) -> None:
    verdict = validator.judge_files({"train.py": patched})
    if patched == TRAIN_PY:
        assert isinstance(verdict, Rejected) and verdict.violations[0].rule == "empty-patch"
        return
    assert isinstance(verdict, Accepted), verdict
    assert verdict.changes[0].patched == patched


@SETTINGS
@given(patched=st.one_of(literal_edit(), outside_edit()))
def test_diff_route_agrees_with_file_route(validator: Validator, patched: str) -> None:
    if not patched.endswith("\n"):
        return  # difflib writes no "no newline" marker; git's form is covered in test_diffparse
    diff = "".join(
        difflib.unified_diff(
            TRAIN_PY.splitlines(keepends=True), patched.splitlines(keepends=True), "a/train.py", "b/train.py"
        )
    )
    by_diff = validator.judge_diff(diff) if diff else None
    by_files = validator.judge_files({"train.py": patched})
    if by_diff is None:
        assert isinstance(by_files, Rejected)
        return
    assert type(by_diff) is type(by_files)
    if isinstance(by_diff, Accepted) and isinstance(by_files, Accepted):
        assert by_diff.changes == by_files.changes


def test_outside_positions_exist() -> None:
    # Guard against the property being vacuous if the fixture's regions ever cover the file.
    assert len(OUTSIDE) > len(TRAIN_PY) // 3
    assert len(KNOBS) >= 6
