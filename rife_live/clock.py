"""The master clock behind one interface (DESIGN.md §4): the audio output's played position when the
source has audio, else a pausable, seekable monotonic clock (``time.perf_counter``).

A/V drift averaging and its thresholds live in ``rife_live.timing`` (pure functions of the times
given), not here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rife_live.audio.output import AudioOutput

Timer = Callable[[], float]


@runtime_checkable
class Clock(Protocol):
    """Media time in seconds for the presenter. ``now()`` is monotonic while running (a ``seek``
    may set it anywhere), frozen while paused."""

    def now(self) -> float: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def seek(self, pts: float) -> None: ...

    @property
    def paused(self) -> bool: ...

    @property
    def rate(self) -> float: ...


class MonotonicClock:
    """A clock for sources with no audio: ``start + rate * elapsed running time``. Thread-safe."""

    def __init__(self, start: float = 0.0, *, rate: float = 1.0, paused: bool = False,
                 timer: Timer = time.perf_counter) -> None:
        self._check_rate(rate)
        self._timer = timer
        self._lock = threading.Lock()
        self._rate = float(rate)
        self._origin_pts = float(start)
        self._origin_t = timer()
        self._paused = paused

    def now(self) -> float:
        with self._lock:
            return self._now_locked()

    def pause(self) -> None:
        with self._lock:
            if not self._paused:
                self._origin_pts = self._now_locked()
                self._paused = True

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._origin_t = self._timer()
                self._paused = False

    def seek(self, pts: float) -> None:
        with self._lock:
            self._origin_pts = float(pts)
            self._origin_t = self._timer()

    def set_rate(self, rate: float) -> None:
        """Change speed from now on (the time so far is kept)."""
        self._check_rate(rate)
        with self._lock:
            self._origin_pts = self._now_locked()
            self._origin_t = self._timer()
            self._rate = float(rate)

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def rate(self) -> float:
        return self._rate

    def _now_locked(self) -> float:
        if self._paused:
            return self._origin_pts
        return self._origin_pts + (self._timer() - self._origin_t) * self._rate

    @staticmethod
    def _check_rate(rate: float) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"a clock rate must be a positive number, not {rate}")


class AudioClock:
    """The audio output's played position as the clock (rate is fixed at 1: no time stretching)."""

    def __init__(self, output: AudioOutput) -> None:
        self._output = output

    def now(self) -> float:
        return self._output.position()

    def pause(self) -> None:
        self._output.pause()

    def resume(self) -> None:
        self._output.resume()

    def seek(self, pts: float) -> None:
        """Flush the output's buffered audio; the position restarts at ``pts``."""
        self._output.flush(pts)

    @property
    def paused(self) -> bool:
        return self._output.paused

    @property
    def rate(self) -> float:
        return 1.0
