"""The master clock behind one interface (DESIGN §4): the audio output's played position when the
source has audio, else a pausable, seekable monotonic clock (``time.perf_counter``).

Also an A/V drift meter: the presenter feeds it (clock, shown frame pts) readings; it averages
them over a few readings, as players do, so one late frame or a callback boundary does not count as
drift, and says whether the average is in sync, worth correcting, or too large to correct (a
seek or a stall: resynchronize instead).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from rife_live.audio.output import AudioOutput

Timer = Callable[[], float]

# Drift thresholds (seconds of |clock - video| averaged over DRIFT_AVERAGE_READINGS readings).
DRIFT_AVERAGE_READINGS = 20  # readings that weigh 99% of the average (older ones fade out)
DRIFT_WEIGHT_FLOOR = 0.01  # weight left to a reading DRIFT_AVERAGE_READINGS readings old
DRIFT_SYNC_THRESHOLD = 0.040  # below this the streams are in sync: about one 25 fps frame
DRIFT_NOSYNC_THRESHOLD = 10.0  # above this, do not correct gradually: resynchronize (seek, stall)


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


@dataclass(frozen=True)
class DriftReading:
    """The averaged drift (clock minus video, seconds; positive: video is behind) and its verdict:
    ``"sync"`` (nothing to do), ``"correct"`` (adjust gradually), ``"resync"`` (too large: jump),
    or ``"warming"`` (fewer readings than the average needs)."""

    average: float
    readings: int
    state: str


class DriftMeter:
    """Exponentially weighted average of ``clock - video`` readings, with named thresholds."""

    def __init__(self, readings: int = DRIFT_AVERAGE_READINGS, sync_threshold: float = DRIFT_SYNC_THRESHOLD,
                 nosync_threshold: float = DRIFT_NOSYNC_THRESHOLD) -> None:
        if readings < 1 or not 0 < sync_threshold < nosync_threshold:
            raise ValueError("DriftMeter needs readings >= 1 and 0 < sync_threshold < nosync_threshold")
        self.readings = readings
        self.sync_threshold = sync_threshold
        self.nosync_threshold = nosync_threshold
        self._coef = math.exp(math.log(DRIFT_WEIGHT_FLOOR) / readings)
        self.reset()

    def reset(self) -> None:
        """Forget all readings (after a seek or a resync)."""
        self._sum = 0.0
        self._count = 0

    def update(self, clock: float, video: float) -> DriftReading:
        """Add one reading and return the averaged drift and what to do about it."""
        diff = clock - video
        if abs(diff) >= self.nosync_threshold:
            self.reset()
            return DriftReading(diff, 0, "resync")
        self._sum = diff + self._coef * self._sum
        self._count += 1
        average = self._sum * (1.0 - self._coef) / (1.0 - self._coef**self._count)
        if self._count < self.readings:
            return DriftReading(average, self._count, "warming")
        state = "sync" if abs(average) < self.sync_threshold else "correct"
        return DriftReading(average, self._count, state)
