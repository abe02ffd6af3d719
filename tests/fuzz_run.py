"""Running fuzz cases (``tests/fuzz_media.py``) and checking what every run must do with bad input.

``run_cases(cases, root)`` runs each case's command line in its own folder under ``root`` (at most
``MAX_WORKERS`` at a time) and returns an ``Outcome`` per case, in case order; ``summarize`` counts
them. The invariants (``Outcome.problems`` lists every one a run broke):

- it ends within the hang timeout;
- it exits 0, or non-zero with exactly one line ``PROG: error: ...``, the last one; every stderr
  line is one of the program's own ``PROG: ...`` lines; never a ``Traceback``, an ``internal
  error`` or a thread left running at exit;
- no ``.partial-`` temporary file is left anywhere in the case folder;
- every file under ``out/`` is complete: a video or GIF decodes to its end with PyAV, a PNG
  decodes, a JSON or CSV file parses; after exit 0 every output the command line named exists, an
  export holds exactly the frames its ``wrote N frames`` line announced, and ``rife-interp`` wrote
  its 2^E + 1 frames;
- the inputs are unchanged (sha256).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import av

from rife_live.outputs import PARTIAL_TAG
from tests import commands
from tests.fuzz_media import GIF_NAME, OUT_DIR, VIDEO_SUFFIXES, Case

HANG_TIMEOUT_S = 120.0  # a case runs in 3-10 s (43 s seen with the 2 cores at load 9); one still running has hung
MAX_WORKERS = 2  # processes at a time (the CI machines have 2 cores)
OUTPUT_FLAGS = ("-o", "--png", "--gif", "--video", "--json", "--csv", "--stats-json")
WROTE = re.compile(r": wrote (\d+) frames at .* to (.+)$")
THREADS_LEFT = "still running at exit"

OK = "ok"
HANG = "hang"
TRACEBACK = "traceback"
INTERNAL = "internal error"


@dataclass(frozen=True)
class Outcome:
    """How one case ended. ``exit``: ``ok``, ``error N`` (a one-line error, exit status N),
    ``traceback``, ``internal error``, ``hang`` or ``exit N`` (a non-zero exit without its line)."""

    case: Case
    exit: str
    returncode: int | None
    seconds: float
    stderr: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def report(self) -> str:
        """Enough to reproduce and read the failure."""
        return (f"{self.case.name} (seed {self.case.seed}, {self.case.detail}): {self.exit} in "
                f"{self.seconds:.1f} s\n  $ {self.case.command_line()}\n  problems: {'; '.join(self.problems)}\n"
                f"  stderr: {self.stderr.strip()[-2000:]}")

    def to_json(self) -> dict[str, object]:
        return {"name": self.case.name, "seed": self.case.seed, "index": self.case.index,
                "program": self.case.program, "base": self.case.base, "mutation": self.case.mutation,
                "detail": self.case.detail, "command": self.case.command_line(), "exit": self.exit,
                "returncode": self.returncode, "seconds": round(self.seconds, 3), "problems": list(self.problems),
                "stderr": self.stderr if self.problems else self.stderr[-300:]}


# --- checks -------------------------------------------------------------------------------------


def exit_kind(prog: str, returncode: int | None, stderr: str) -> str:
    if returncode is None:
        return HANG
    if "Traceback" in stderr:
        return TRACEBACK
    if f"{prog}: internal error" in stderr:
        return INTERNAL
    if returncode == 0:
        return OK
    lines = stderr.strip().splitlines()
    if lines and lines[-1].startswith(f"{prog}: error: "):
        return f"error {returncode}"
    return f"exit {returncode}"


def stderr_problems(prog: str, returncode: int | None, stderr: str) -> list[str]:
    """What is wrong with what the run printed (see the module text)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    problems = [f"stray stderr line {line[:200]!r}" for line in lines if not line.startswith(f"{prog}: ")]
    problems += [f"{line[:200]!r}" for line in lines if THREADS_LEFT in line]
    errors = [line for line in lines if line.startswith(f"{prog}: error: ")]
    if returncode == 0 and errors:
        problems.append("exit 0 with an error line")
    if returncode not in (0, None) and (len(errors) != 1 or lines[-1] != errors[0]):
        problems.append(f"exit {returncode} without exactly one final '{prog}: error: ...' line")
    return problems


def video_frames(path: Path) -> int:
    """Frames of a video file or GIF, decoded to the end (FFmpegError if it cannot be)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def incomplete(path: Path) -> str | None:
    """Why the output file ``path`` is not a complete file of its kind (None when it is)."""
    suffix = path.suffix.lower()
    try:
        if suffix in VIDEO_SUFFIXES or suffix == Path(GIF_NAME).suffix:
            return None if video_frames(path) > 0 else "holds no frame"
        if suffix == ".png":
            with av.open(str(path)) as container:
                next(container.decode(video=0))
            return None
        if suffix == ".json":
            json.loads(path.read_text())
            return None
        if suffix == ".csv":
            rows = list(csv.reader(path.read_text().splitlines()))
            return None if rows else "empty"
    except (av.FFmpegError, OSError, StopIteration, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "unexpected file"


def _named_outputs(args: Sequence[str]) -> list[tuple[str, str]]:
    return [(flag, value) for flag, value in zip(args, args[1:]) if flag in OUTPUT_FLAGS]


def output_problems(case: Case, folder: Path, returncode: int | None, stderr: str) -> list[str]:
    problems = [f"left behind: {p.relative_to(folder)}" for p in folder.rglob("*") if PARTIAL_TAG in p.name]
    for path in sorted((folder / OUT_DIR).rglob("*")):
        if path.is_file() and (why := incomplete(path)) is not None:
            problems.append(f"incomplete output {path.relative_to(folder)}: {why}")
    if returncode != 0:
        return problems
    for flag, value in _named_outputs(case.args):
        if not (folder / value).exists():
            problems.append(f"exit 0 but {flag} {value} was not written")
    if case.program == "export":
        problems += _announced(folder, stderr)
    if case.program == "interp":
        exp = int(case.args[case.args.index("--exp") + 1])
        written = len(list((folder / OUT_DIR / "frames").glob("*.png")))
        if written != 2**exp + 1:
            problems.append(f"rife-interp --exp {exp} wrote {written} frames, not {2**exp + 1}")
    return problems


def _announced(folder: Path, stderr: str) -> list[str]:
    """An export that exits 0 says ``wrote N frames ... to WHERE``: WHERE holds exactly N frames."""
    found = [m for line in stderr.splitlines() if (m := WROTE.search(line))]
    if not found:
        return ["exit 0 without a 'wrote N frames' line"]
    count, where = int(found[-1].group(1)), folder / found[-1].group(2)
    try:
        held = len(list(where.glob("*.png"))) if where.is_dir() else video_frames(where)
    except (av.FFmpegError, OSError) as exc:
        return [f"announced output {where.name} unreadable: {exc}"]
    return [] if held == count else [f"announced {count} frames, {where.name} holds {held}"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_problems(case: Case, folder: Path) -> list[str]:
    problems = []
    for relative, data in case.inputs:
        path = folder / relative
        if not path.is_file() or sha256(path.read_bytes()) != sha256(data):
            problems.append(f"input {relative} changed")
    return problems


# --- running ------------------------------------------------------------------------------------


def run_case(case: Case, folder: Path, timeout: float = HANG_TIMEOUT_S) -> Outcome:
    """Lay out ``case`` in ``folder`` (emptied first), run it, check it."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    case.write(folder)
    started = time.perf_counter()
    try:
        result = commands.run(case.entry, *case.args, cwd=folder, timeout=timeout)
        returncode, stderr = result.returncode, result.stderr
    except subprocess.TimeoutExpired as exc:  # the child was killed
        returncode = None
        raw = exc.stderr or b""
        stderr = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    seconds = time.perf_counter() - started
    kind = exit_kind(case.prog, returncode, stderr)
    problems = [] if kind == OK or kind.startswith("error ") else [kind]
    problems += stderr_problems(case.prog, returncode, stderr)
    problems += output_problems(case, folder, returncode, stderr)
    problems += input_problems(case, folder)
    return Outcome(case, kind, returncode, seconds, stderr, tuple(dict.fromkeys(problems)))


def run_cases(cases: Iterable[Case], root: Path, *, timeout: float = HANG_TIMEOUT_S, workers: int = MAX_WORKERS,
              keep_failures: bool = True, on_done: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Run every case in ``root/<case name>`` (``workers`` at a time, at most ``MAX_WORKERS``);
    the folders of passing cases are removed, failing ones kept unless ``keep_failures`` is False."""
    cases = list(cases)

    def one(case: Case) -> Outcome:
        folder = root / case.name
        outcome = run_case(case, folder, timeout)
        if outcome.passed or not keep_failures:
            shutil.rmtree(folder, ignore_errors=True)
        if on_done is not None:
            on_done(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(workers, MAX_WORKERS))) as pool:
        return list(pool.map(one, cases))


def summarize(outcomes: Sequence[Outcome]) -> dict[str, object]:
    """Counts over a run: exits by kind, failures, the slowest case."""
    slowest = max(outcomes, key=lambda o: o.seconds) if outcomes else None
    return {
        "cases": len(outcomes),
        "exits": dict(sorted(Counter(o.exit for o in outcomes).items())),
        "by_program": {program: dict(sorted(Counter(o.exit for o in outcomes if o.case.program == program).items()))
                       for program in sorted({o.case.program for o in outcomes})},
        "by_mutation": {kind: dict(sorted(Counter(o.exit for o in outcomes if o.case.mutation == kind).items()))
                        for kind in sorted({o.case.mutation for o in outcomes})},
        "failed": sum(not o.passed for o in outcomes),
        "tracebacks": sum(o.exit == TRACEBACK or "Traceback" in o.stderr for o in outcomes),
        "internal_errors": sum(o.exit == INTERNAL for o in outcomes),
        "hangs": sum(o.exit == HANG for o in outcomes),
        "slowest": None if slowest is None else {"name": slowest.case.name, "seconds": round(slowest.seconds, 2),
                                                 "exit": slowest.exit},
    }

