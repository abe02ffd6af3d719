"""What a run tells the user: a progress line and a JSON-lines log (the main process only).

The log (``DIR/train.jsonl``) gets one JSON object per logged step (``"kind": "train"``: step, epoch,
loss and its parts, learning rate, samples/s, elapsed and remaining seconds), one per validation
(``"kind": "val"``: the held-back PSNR), and a ``"kind": "start"`` record when a session starts
(with the 50/50-blend PSNR of the held-back split, the reference the network must beat). A resumed
run first drops the records past its checkpoint (a run killed after its last checkpoint logged steps
that it will now train again), rewriting the log atomically, then appends.

The progress line: on a terminal one line redrawn in place; elsewhere (a file, a pipe, a cluster
log) the same text as a new line at every logged step.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from rife_live.models.store import write_atomically

CLEAR_LINE = "\r\x1b[2K"


def trim_log(path: Path, last_step: int) -> None:
    """Keep the records of ``path`` up to ``last_step`` (and drop a torn last line)."""
    if not path.is_file():
        return
    kept: list[str] = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and int(record.get("step", 0)) <= last_step:
            kept.append(line)
    write_atomically(path, lambda handle: handle.write("".join(f"{k}\n" for k in kept).encode()))


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """The progress line and the JSON-lines log of one session. ``open`` it, ``close`` it at the end."""

    def __init__(self, prog: str, log_path: Path, stream: TextIO, live: bool, total_steps: int,
                 start_step: int, batch: int) -> None:
        self.prog = prog
        self.log_path = log_path
        self.stream = stream
        self.live = live
        self.total_steps = total_steps
        self.start_step = start_step
        self.batch = batch
        self._log: TextIO | None = None
        self._started = time.perf_counter()
        self._line_shown = False

    def open(self, resumed: bool) -> None:
        if resumed:
            trim_log(self.log_path, self.start_step)
        self._log = open(self.log_path, "a" if resumed else "w", encoding="utf-8")
        self.start_clock()

    def start_clock(self) -> None:
        """Count elapsed time (samples/s, ETA) from now."""
        self._started = time.perf_counter()

    def close(self) -> None:
        self._end_line()
        if self._log is not None:
            self._log.close()
            self._log = None

    def record(self, entry: dict[str, Any]) -> None:
        assert self._log is not None, "open() the progress first"
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()

    def rate(self, step: int) -> tuple[float, float, float | None]:
        """(elapsed seconds this session, samples/s, seconds to go) after ``step``."""
        elapsed = time.perf_counter() - self._started
        done = step - self.start_step
        samples_per_s = done * self.batch / elapsed if elapsed > 0 else 0.0
        eta = (self.total_steps - step) * elapsed / done if done else None
        return elapsed, samples_per_s, eta

    def step(self, step: int, epoch: float, terms: dict[str, float], lr: float) -> None:
        """Log a training step and show the progress line."""
        elapsed, samples_per_s, eta = self.rate(step)
        self.record({"kind": "train", "step": step, "epoch": round(epoch, 4), **terms, "lr": lr,
                     "samples_per_s": samples_per_s, "elapsed_s": elapsed, "eta_s": eta})
        text = (f"[{step}/{self.total_steps}] loss {terms['loss']:.4f} lr {lr:.2e} "
                f"{samples_per_s:.2f} samples/s ETA {format_eta(eta)}")
        if self.live:
            self.stream.write(f"{CLEAR_LINE}{self.prog}: {text}")
            self._line_shown = True
        else:
            self.stream.write(f"{self.prog}: {text}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own (validation, checkpoint), below the progress line."""
        self._end_line()
        self.stream.write(f"{self.prog}: {text}\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self._line_shown:
            self.stream.write("\n")
            self._line_shown = False
