"""Running the real command lines in a subprocess, and what every test expects of their output.

``run(entry, *args, cwd=...)`` runs ``rife_live.cli.<entry>`` (``play_main``, ``interp_main``,
``eval_main``: the console scripts' functions) with this checkout on ``PYTHONPATH``.
``interrupt(...)`` starts an export on a pseudo-terminal (the progress line tells how many frames
are written), sends a signal once enough are, and returns the exit status and everything printed.
"""

from __future__ import annotations

import hashlib
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUN_TIMEOUT_S = 300  # a bound against hangs, far above the normal run time
PROGRESS = re.compile(r"\] (\d+)/\d+ frames")
ENTRY_PROGS = {"play_main": "rife-play", "interp_main": "rife-interp", "eval_main": "rife-eval"}


def _command(entry: str) -> list[str]:
    return [sys.executable, "-c", f"import sys; from rife_live.cli import {entry}; sys.exit({entry}())"]


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("RIFE_LIVE_DEBUG", None)
    return env


def run(entry: str, *args: str | Path, cwd: Path, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_command(entry), *map(str, args)], cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def rife_play(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run("play_main", *args, cwd=cwd)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str, prog: str = "rife-play") -> str:
    """A non-zero exit with exactly one line ``PROG: error: ...`` holding ``words``; no traceback."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "error" not in result.stderr, result.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def interrupt(args: list[str | Path], cwd: Path, signum: int, after_frames: int) -> tuple[int, str, bool]:
    """Run ``rife-play ARGS`` with stderr on a terminal; send ``signum`` once the progress line
    shows ``after_frames`` written. Returns (exit status, what it printed, whether the signal went)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*_command("play_main"), *map(str, args)], cwd=cwd, env=_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    text, sent = "", False
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed its end
                    break
                if not chunk:
                    break
                text += chunk.decode(errors="replace")
            written = [int(n) for n in PROGRESS.findall(text)]
            if not sent and written and max(written) >= after_frames:
                assert proc.poll() is None, "the export ended before it could be interrupted"
                proc.send_signal(signum)
                sent = True
        returncode = proc.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return returncode, text, sent
