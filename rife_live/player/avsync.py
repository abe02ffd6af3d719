"""Audio/video sync: the video clock slaved to the audio clock by averaged drift readings.

The presenter and the interpolation thread read a video clock (``MonotonicClock``, smooth between
audio callbacks); the master is the audio output's played position. After each frame shown, the
drift (video minus audio) is read and averaged (``timing.DriftAverage``), and ``timing.drift_action``
decides, with the thresholds named in ``timing.py``, to wait, hold, nudge or resync:

- the first decision after the clocks start (a start, seek, loop, unpause) **locks**: it takes the
  whole mean offset (the audio output's latency) at once;
- later ones nudge by a share of the drift, or resync when it is large.

``AvSync`` keeps the readings and counts what it did; the session applies the ``Correction`` it
returns to the video clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from rife_live.timing import DriftAverage, DriftKind, drift_action

MS_PER_S = 1000.0


@dataclass(frozen=True)
class Correction:
    """Seconds to add to the video clock; ``jump``: a lock or a resync (the next gap between
    frames is no stall)."""

    seconds: float
    jump: bool


@dataclass
class SyncStats:
    readings: int = 0
    max_drift_s: float = 0.0  # largest |video clock - audio clock| read after a lock
    locks: int = 0  # first correction after a start/seek: the whole offset (output latency)
    nudges: int = 0
    resyncs: int = 0

    def as_dict(self) -> dict[str, object]:
        return {"drift_readings": self.readings, "max_drift_ms": self.max_drift_s * MS_PER_S,
                "drift_locks": self.locks, "drift_nudges": self.nudges, "drift_resyncs": self.resyncs}


class AvSync:
    """Drift readings and the corrections they call for (main thread only)."""

    def __init__(self) -> None:
        self.stats = SyncStats()
        self._average = DriftAverage()
        self._locked = False  # the video clock has been locked to the audio since the clocks started

    @property
    def mean_drift_s(self) -> float:
        return self._average.mean

    def restart(self) -> None:
        """The clocks (re)started: readings begin afresh and the next decision locks."""
        self._average = DriftAverage()
        self._locked = False

    def reading(self, video_now: float, audio_now: float) -> Correction | None:
        """One drift reading; the correction to add to the video clock, or None to leave it."""
        drift = video_now - audio_now
        self._average = self._average.add(drift)
        if self._locked:  # steady state: the readings count (the first window after a start locks)
            self.stats.readings += 1
            self.stats.max_drift_s = max(self.stats.max_drift_s, abs(drift))
        action = drift_action(self._average)
        if action.kind is DriftKind.WAIT:
            return None
        locking, self._locked = not self._locked, True
        if action.kind is DriftKind.HOLD:
            return None
        seconds = -self._average.mean if locking else action.correction  # a lock takes the whole offset
        self._average = DriftAverage()
        if locking:
            self.stats.locks += 1
        elif action.kind is DriftKind.RESYNC:
            self.stats.resyncs += 1
        else:
            self.stats.nudges += 1
        return Correction(seconds, jump=locking or action.kind is DriftKind.RESYNC)
