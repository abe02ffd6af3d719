"""Test helper: a private Xvfb server on a free display number.

``with xvfb_display() as display: ...`` yields ``":N"``. Xvfb picks N itself (``-displayfd``), so
parallel test runs never collide. ``xvfb_or_skip()`` is the pytest-friendly form: it skips the test
with a clear reason when Xvfb is not installed.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

XVFB = "Xvfb"
SCREEN = "1920x1080x24"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
MISSING_REASON = "Xvfb is not installed (Debian: apt-get install xvfb xauth libgl1-mesa-dri)"


class XvfbError(RuntimeError):
    """Xvfb is installed but did not start."""


def xvfb_available() -> bool:
    return shutil.which(XVFB) is not None


@contextmanager
def xvfb_display(screen: str = SCREEN) -> Iterator[str]:
    """Start Xvfb, yield its DISPLAY string, stop it (terminate, then kill) on exit."""
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [XVFB, "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp",
             "-noreset"],
            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finally:
        os.close(write_fd)
    try:
        number = _read_display_number(read_fd, process)
        yield f":{number}"
    finally:
        os.close(read_fd)
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _read_display_number(read_fd: int, process: subprocess.Popen[bytes]) -> int:
    """Xvfb writes the display number and a newline to the fd once it accepts clients."""
    received = b""
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while not received.endswith(b"\n"):
            if not selector.select(START_TIMEOUT_S):
                raise XvfbError(f"Xvfb gave no display number within {START_TIMEOUT_S} s")
            chunk = os.read(read_fd, 64)
            if not chunk:  # Xvfb exited
                process.wait()
                stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise XvfbError(f"Xvfb exited with {process.returncode}: {stderr.strip()[-300:]}")
            received += chunk
    return int(received.strip())


@contextmanager
def xvfb_or_skip(screen: str = SCREEN) -> Iterator[str]:
    """``xvfb_display`` for pytest: skips (with the reason) when Xvfb is missing."""
    import pytest

    if not xvfb_available():
        pytest.skip(MISSING_REASON)
    with xvfb_display(screen) as display:
        yield display
