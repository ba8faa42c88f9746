"""GPU detection through a real (stand-in) nvidia-smi on PATH, and slot planning."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitresearch.boundaries.config import parse_config
from gitresearch.errors import ConfigError
from gitresearch.execute.gpus import Detection, Gpu, detect, plan_slots

TWO_GPUS = "0, GPU-aaaa, NVIDIA H200, 143771\n1, GPU-bbbb, NVIDIA H200, 143771\n"


def fake_smi(tmp_path: Path, output: str, code: int = 0) -> dict[str, str]:
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    script = folder / "nvidia-smi"
    script.write_text(f"#!/bin/sh\ncat <<'EOF'\n{output}EOF\nexit {code}\n")
    script.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}  # the stand-in shadows any real nvidia-smi


def config(budget: str = "") -> object:
    text = f'[objective]\ncommand = "x"\nmetric = "m"\n[[allow]]\npath = "a.py"\n[budget]\n{budget}\n'
    return parse_config(text, Path("boundaries.toml"))


def test_detects_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = fake_smi(tmp_path, TWO_GPUS)
    monkeypatch.setenv("PATH", env["PATH"])
    found = detect({})
    assert [(g.id, g.name, g.memory_mib) for g in found.gpus] == [("0", "NVIDIA H200", 143771)] * 1 + [
        ("1", "NVIDIA H200", 143771)
    ]
    assert "2 GPU(s)" in found.note


@pytest.mark.parametrize(
    ("visible", "ids"),
    [("1", ["1"]), ("GPU-bbbb,0", ["GPU-bbbb", "0"]), ("", []), ("-1", []), ("0,7,1", ["0"])],
)
def test_honours_cuda_visible_devices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, visible: str, ids: list[str]
) -> None:
    monkeypatch.setenv("PATH", fake_smi(tmp_path, TWO_GPUS)["PATH"])
    assert [g.id for g in detect({"CUDA_VISIBLE_DEVICES": visible}).gpus] == ids


def test_missing_or_failing_nvidia_smi_is_a_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert detect({}) == Detection((), "no GPU: nvidia-smi was not found or did not answer")
    monkeypatch.setenv(
        "PATH", fake_smi(tmp_path, "NVIDIA-SMI has failed because it couldn't communicate\n", 9)["PATH"]
    )
    found = detect({})
    assert found.gpus == () and "couldn't communicate" in found.note


def _two() -> Detection:
    return Detection((Gpu("0", 0, "u0", "H200", 1), Gpu("1", 1, "u1", "H200", 1)), "2 GPU(s)")


def test_slot_plans() -> None:
    slots, line = plan_slots(config("jobs_per_gpu = 2"), _two())  # type: ignore[arg-type]
    assert [(s.name, s.gpu) for s in slots] == [
        ("gpu0#1", "0"),
        ("gpu0#2", "0"),
        ("gpu1#1", "1"),
        ("gpu1#2", "1"),
    ]
    slots, _ = plan_slots(config("gpus = [1]"), _two())  # type: ignore[arg-type]
    assert [(s.name, s.gpu) for s in slots] == [("gpu1", "1")]
    slots, line = plan_slots(config('gpus = "none"\njobs = 3'), _two())  # type: ignore[arg-type]
    assert [(s.name, s.gpu) for s in slots] == [("cpu0", ""), ("cpu1", ""), ("cpu2", "")]
    slots, line = plan_slots(config("jobs = 2"), Detection((), "no GPU: nvidia-smi was not found"))  # type: ignore[arg-type]
    assert [(s.name, s.gpu) for s in slots] == [("cpu0", None), ("cpu1", None)]
    assert "running 2 CPU job(s)" in line


def test_listing_an_absent_gpu_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        plan_slots(config("gpus = [0, 5]"), _two())  # type: ignore[arg-type]
    assert caught.value.key == "budget.gpus" and "GPU(s) 5 not available" in str(caught.value)


@pytest.mark.gpu
def test_real_gpus_are_found() -> None:
    if shutil.which("nvidia-smi") is None:
        pytest.skip("no nvidia-smi on this machine")
    found = detect({})
    assert found.gpus, found.note
    slots, _ = plan_slots(config(), found)  # type: ignore[arg-type]
    assert len(slots) == len(found.gpus)
