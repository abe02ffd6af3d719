"""Damaged media into every program (issue 12): each run ends in time, with exit 0 or one line.

A fixed-seed set of cases from ``tests/fuzz_media.py``: 64x48 clips of the ``tests/data`` footage
in every container the product writes (.mkv, .mp4, .mov, .webm, GIF), PNG frames, a PNG pair and a
Vimeo90K folder, damaged by bit flips, truncation, zeroed, foreign or swapped headers and chunks,
fed to ``rife-play`` (export and live ``--vo null``), ``rife-interp`` and ``rife-eval``.
``tests/fuzz_run.py`` runs them two at a time and checks every invariant: no hang, exit 0 or one
``PROG: error: ...`` line (no traceback, no internal error), no ``.partial-`` file, only complete
outputs (an export holds the frames it announced), the input unchanged. The long run is
``python -m bench.fuzz --cases N`` (bench/README.md).

The checks themselves are tested on known-bad runs below, so a broken checker cannot pass
everything.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from rife_live.sinks.encoder import CONTAINERS
from tests import fuzz_media, media
from tests.fuzz_media import MUTATIONS, TARGETS, VIDEO_INPUTS, Case, make_bases, make_case
from tests.fuzz_run import Outcome, exit_kind, incomplete, output_problems, run_cases, stderr_problems

CI_SEED = 0
CI_CASES = len(TARGETS)  # every (program, input) pair once, each with its own damage


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_bases(tmp_path_factory.mktemp("fuzz-bases"))


@pytest.fixture(scope="module")
def outcomes(bases: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[int, Outcome]:
    """Every CI case, run once for the module (two processes at a time)."""
    cases = [make_case(CI_SEED, k, bases) for k in range(CI_CASES)]
    done = run_cases(cases, tmp_path_factory.mktemp("fuzz-cases"))
    return {o.case.index: o for o in done}


@pytest.mark.parametrize("index", range(CI_CASES), ids=[f"{k:02d}-{p}-{b}" for k, (p, b) in enumerate(TARGETS)])
def test_damaged_input_ends_cleanly(outcomes: dict[int, Outcome], index: int) -> None:
    outcome = outcomes[index]
    assert outcome.passed, outcome.report()


def test_cases_cover_every_program_and_container(bases: dict[str, Path]) -> None:
    cases = [make_case(CI_SEED, k, bases) for k in range(CI_CASES)]
    assert {c.program for c in cases} == {"export", "live", "interp", "eval"}
    for program in ("export", "live", "eval"):
        assert set(VIDEO_INPUTS) <= {c.base for c in cases if c.program == program}
    assert set(CONTAINERS) | {".gif"} == {Path(name).suffix for name in VIDEO_INPUTS}  # what the product writes


def test_cases_are_reproducible(bases: dict[str, Path], tmp_path: Path) -> None:
    again = make_bases(tmp_path / "again")
    assert fuzz_media.digest(again) == fuzz_media.digest(bases)
    assert make_case(CI_SEED, 5, again) == make_case(CI_SEED, 5, bases)
    assert make_case(CI_SEED, 5, bases) != make_case(CI_SEED + 1, 5, bases)


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_each_mutation_is_seeded(kind: str) -> None:
    data = bytes(range(256)) * 40
    first = MUTATIONS[kind](random.Random(3), data, b"\xff" * 64)
    assert first == MUTATIONS[kind](random.Random(3), data, b"\xff" * 64)
    assert first[0] != data


# --- the checks catch what they must ---------------------------------------------------------


def test_stderr_checks() -> None:
    assert exit_kind("rife-play", None, "") == "hang"
    assert exit_kind("rife-play", 1, "Traceback (most recent call last):\n  ...") == "traceback"
    assert exit_kind("rife-play", 3, "rife-play: internal error: KeyError: 1 (set ...)") == "internal error"
    assert exit_kind("rife-play", 1, "rife-play: clip: 64x48\nrife-play: error: bad") == "error 1"
    assert exit_kind("rife-play", 1, "oops") == "exit 1"
    assert stderr_problems("rife-play", 1, "rife-play: clip.mkv: 64x48\nrife-play: error: bad input") == []
    assert stderr_problems("rife-play", 0, "rife-play: wrote 3 frames") == []
    assert stderr_problems("rife-play", 1, "rife-play: error: a\nrife-play: error: b")
    assert stderr_problems("rife-play", 1, "rife-play: error: a\nrife-play: more")
    assert stderr_problems("rife-play", 0, "[h264 @ 0x1] error while decoding")
    assert stderr_problems("rife-play", 0, "rife-play: warning: decode thread(s) still running at exit")


def _export_case(output: str) -> Case:
    return Case(seed=CI_SEED, index=0, program="export", base="clip.mp4", mutation="none", detail="", inputs=(),
                args=("in/clip.mp4", "-o", output))


def test_output_checks(tmp_path: Path, bases: dict[str, Path]) -> None:
    case = _export_case("out/video.mkv")
    case.write(tmp_path)
    out = tmp_path / "out"
    assert output_problems(case, tmp_path, 1, "rife-play: error: x") == []
    (out / ".video.partial-123.mkv").write_bytes(b"")
    (out / "half.mp4").write_bytes(bases["clip.mp4"].read_bytes()[:3000])
    problems = output_problems(case, tmp_path, 1, "rife-play: error: x")
    assert any("left behind" in p for p in problems) and any("incomplete output out/half.mp4" in p for p in problems)
    assert any("was not written" in p for p in output_problems(case, tmp_path, 0, "rife-play: wrote 3 frames"))
    assert incomplete(bases["clip.mkv"]) is None and incomplete(bases["frames"] / "0.png") is None


def test_an_export_must_hold_what_it_announced(tmp_path: Path) -> None:
    case = _export_case("out/video.mkv")
    case.write(tmp_path)
    media.make_clip(tmp_path / "out" / "video.mkv", frames=3)
    told = "rife-play: wrote 4 frames at 50 fps to out/video.mkv"
    assert any("announced 4 frames" in p for p in output_problems(case, tmp_path, 0, told))
    assert output_problems(case, tmp_path, 0, told.replace("wrote 4", "wrote 3")) == []
