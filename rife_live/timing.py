"""Exact output timing: which output frames exist, where they fall between source frames, when
they are due. Pure functions and immutable records; no I/O, no threads, no clocks.

The rule (DESIGN.md §4): output frame ``k`` (``k >= 0``) has pts ``start + k / target_fps``. A
source pair ``(pts0, pts1)`` owns the outputs with pts in ``[pts0, pts1)``, each at the fraction
``t = (pts - pts0) / (pts1 - pts0)`` of the pair. The last source frame owns ``[pts_last,
stream_end)``; outputs there are copies of it (``t = 0``, no next frame). All times are
``fractions.Fraction`` seconds and every index is a floor/ceil of an exact rational, so pair
boundaries never miss or duplicate an output, whatever the rates (24000/1001, 25, 144 ...) and
whether the source is constant or variable frame rate.

Values reaching this module are expected to be validated already (``config.py`` turns bad user
input into ``ConfigError``); a violated precondition here is a programming error: ``ValueError``.

The live presenter's decisions (which waiting frame is due, which are late) and the audio/video
drift average are here too, as pure functions of the times they are given.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Sequence, Union

Rational = Union[Fraction, int]
Seconds = Union[Fraction, int, float]  # clock readings may be floats; pts are always exact

ZERO = Fraction(0)

# Audio/video drift: readings averaged, and what the average has to exceed to act.
DRIFT_WINDOW = 8  # readings in the moving average (pyglet-style smoothing of a noisy clock)
DRIFT_TOLERANCE_S = 0.020  # below: leave the video clock alone (under a frame at 50 fps)
DRIFT_RESYNC_S = 0.250  # at or above: jump the video clock to the audio clock at once
DRIFT_NUDGE_GAIN = 0.25  # in between: correct this share of the mean drift per decision


# --------------------------------------------------------------------------------------------
# Rates


def _rate(value: Rational, name: str) -> Fraction:
    rate = Fraction(value)
    if rate <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return rate


def rate_for_multi(source_fps: Rational, n: int) -> Fraction:
    """Target rate of ``--multi N``: ``N`` times the source rate (``N >= 1``)."""
    if n < 1:
        raise ValueError(f"multi must be >= 1, got {n}")
    return _rate(source_fps, "source_fps") * n


def rate_for_exp(source_fps: Rational, e: int) -> Fraction:
    """Target rate of ``--exp E``: the same as ``--multi 2**E`` (``E >= 0``)."""
    if e < 0:
        raise ValueError(f"exp must be >= 0, got {e}")
    return rate_for_multi(source_fps, 2**e)


# --------------------------------------------------------------------------------------------
# Output slots


@dataclass(frozen=True)
class OutputSlot:
    """One output frame: its index ``k`` on the output grid, its pts, and its place ``t`` in
    ``[0, 1)`` between the two source frames around it (0: the earlier source frame itself)."""

    index: int
    pts: Fraction
    t: Fraction


def output_pts(index: int, start: Rational, target_fps: Rational) -> Fraction:
    """Pts of output frame ``index``: ``start + index / target_fps``."""
    return Fraction(start) + Fraction(index) / _rate(target_fps, "target_fps")


def first_index_at_or_after(time: Rational, start: Rational, target_fps: Rational) -> int:
    """Smallest ``k >= 0`` whose output pts is ``>= time`` (exact ceil, no float drift)."""
    return max(0, math.ceil((Fraction(time) - Fraction(start)) * _rate(target_fps, "target_fps")))


def output_indices(lo: Rational, hi: Rational, start: Rational, target_fps: Rational) -> range:
    """Indices ``k >= 0`` of the outputs with pts in ``[lo, hi)`` (empty when ``hi <= lo``)."""
    first = first_index_at_or_after(lo, start, target_fps)
    stop = first_index_at_or_after(hi, start, target_fps)
    return range(first, max(first, stop))


def _clip(hi: Fraction, end: Rational | None) -> Fraction:
    return hi if end is None else min(hi, Fraction(end))


def outputs_in_pair(
    pts0: Rational,
    pts1: Rational,
    start: Rational,
    target_fps: Rational,
    end: Rational | None = None,
) -> list[OutputSlot]:
    """The outputs of the source pair ``(pts0, pts1)``: pts in ``[pts0, min(pts1, end))``, each
    with ``t = (pts - pts0) / (pts1 - pts0)``. ``pts1`` must be later than ``pts0``."""
    p0, p1 = Fraction(pts0), Fraction(pts1)
    if p1 <= p0:
        raise ValueError(f"pair must move forward in time, got {p0} -> {p1}")
    span = p1 - p0
    slots = []
    for k in output_indices(p0, _clip(p1, end), start, target_fps):
        pts = output_pts(k, start, target_fps)
        slots.append(OutputSlot(k, pts, (pts - p0) / span))
    return slots


def outputs_in_tail(
    pts_last: Rational,
    stream_end: Rational,
    start: Rational,
    target_fps: Rational,
    end: Rational | None = None,
) -> list[OutputSlot]:
    """The outputs after the last source frame: pts in ``[pts_last, min(stream_end, end))``, all
    copies of that frame (``t = 0``). ``stream_end`` is the last frame's pts plus its duration."""
    return [
        OutputSlot(k, output_pts(k, start, target_fps), ZERO)
        for k in output_indices(pts_last, _clip(Fraction(stream_end), end), start, target_fps)
    ]


def count_outputs(lo: Rational, hi: Rational, start: Rational, target_fps: Rational) -> int:
    """Closed form of ``len(output_indices(...))``: outputs with pts in ``[lo, hi)``."""
    return len(output_indices(lo, hi, start, target_fps))


# --------------------------------------------------------------------------------------------
# Streaming scheduler (used by the interpolation thread)


class OutputScheduler:
    """Turns source pts, fed one by one in decode order, into the output slots of each pair.

    ``push(pts)`` returns the slots of the pair (previous pts, ``pts``), empty for the first
    frame; ``finish(stream_end)`` returns the tail slots of the last frame and ends the stream.
    Output ``k = 0`` lands at ``start`` (the first pushed pts when not given); outputs at or after
    ``end`` are never produced, and ``finished`` turns true once no more can be. Not thread-safe:
    one scheduler belongs to one thread (the interpolation thread); make a new one after a seek.
    """

    def __init__(
        self,
        target_fps: Rational,
        start: Rational | None = None,
        end: Rational | None = None,
    ) -> None:
        self.target_fps = _rate(target_fps, "target_fps")
        self._start = None if start is None else Fraction(start)
        self.end = None if end is None else Fraction(end)
        self._last: Fraction | None = None
        self._last_span: Fraction | None = None
        self._done = False

    @property
    def start(self) -> Fraction | None:
        """Pts of output ``k = 0``; None until given or until the first frame is pushed."""
        return self._start

    @property
    def last_pts(self) -> Fraction | None:
        """Pts of the latest source frame pushed (the earlier frame of the next pair)."""
        return self._last

    @property
    def finished(self) -> bool:
        """True when no further output can come: past ``end``, or ``finish`` was called."""
        return self._done or (
            self.end is not None and self._last is not None and self._last >= self.end
        )

    def accepts(self, pts: Rational) -> bool:
        """Whether ``pts`` can be pushed: later than the last one, and the stream not finished.
        Frames failing this (duplicate or backward pts from a broken stream) should be dropped."""
        return not self._done and (self._last is None or Fraction(pts) > self._last)

    def push(self, pts: Rational) -> list[OutputSlot]:
        """Feed the next source frame's pts; returns the outputs of the pair it completes."""
        if not self.accepts(pts):
            raise ValueError(f"pts {pts} does not follow {self._last} (or the stream is finished)")
        p = Fraction(pts)
        previous, self._last = self._last, p
        if previous is None:
            if self._start is None:
                self._start = p
            return []
        self._last_span = p - previous
        return outputs_in_pair(previous, p, self._start, self.target_fps, self.end)

    def finish(self, stream_end: Rational | None = None) -> list[OutputSlot]:
        """End the stream; returns the copies of the last frame up to ``stream_end`` (its pts plus
        its duration). Without ``stream_end`` the last frame lasts as long as the previous pair,
        or one output interval when it was the only frame. Empty if nothing was pushed."""
        if self._done:
            raise ValueError("finish() called twice")
        self._done = True
        if self._last is None or self._start is None:
            return []
        if stream_end is None:
            span = self._last_span if self._last_span is not None else 1 / self.target_fps
            stream_end = self._last + span
        return outputs_in_tail(self._last, stream_end, self._start, self.target_fps, self.end)


# --------------------------------------------------------------------------------------------
# Whole constant-frame-rate streams (what an export must contain)


def _cfr_range(
    frame_count: int,
    source_fps: Rational,
    first_pts: Rational,
    start: Rational | None,
    end: Rational | None,
) -> tuple[Fraction, Fraction, Fraction]:
    if frame_count < 0:
        raise ValueError(f"frame_count must be >= 0, got {frame_count}")
    first = Fraction(first_pts)
    stream_end = first + Fraction(frame_count) / _rate(source_fps, "source_fps")
    origin = first if start is None else Fraction(start)
    return origin, max(first, origin), _clip(stream_end, end)


def expected_output_count(
    frame_count: int,
    source_fps: Rational,
    target_fps: Rational,
    first_pts: Rational = 0,
    start: Rational | None = None,
    end: Rational | None = None,
) -> int:
    """How many outputs a CFR stream of ``frame_count`` frames (pts ``first_pts + i/source_fps``)
    gives at ``target_fps``, with output ``k = 0`` at ``start`` (default ``first_pts``) and
    outputs stopping before ``end``. E.g. 132 frames at 25 fps to 60 fps: 317."""
    origin, lo, hi = _cfr_range(frame_count, source_fps, first_pts, start, end)
    return count_outputs(lo, hi, origin, target_fps)


# --------------------------------------------------------------------------------------------
# Live presentation


@dataclass(frozen=True)
class PresentChoice:
    """What the presenter does with the frames waiting in its ring, oldest first.

    ``show``: index of the frame to show now (None: none is due yet). ``drop``: how many older
    frames to release unshown before it. ``late``: the shown frame is more than one output
    interval past due (the pipeline is behind).
    """

    show: int | None
    drop: int
    late: bool


def is_late(pts: Seconds, now: Seconds, interval: Seconds) -> bool:
    """A frame is late when the clock is more than one output interval past its pts."""
    return now - pts > interval


def choose_frame(waiting_pts: Sequence[Seconds], now: Seconds, interval: Seconds) -> PresentChoice:
    """Pick the newest waiting frame that is due (``pts <= now``); the older ones are dropped.

    ``waiting_pts`` must be in increasing order (ring order); ``now`` is the master clock in the
    same time origin as the pts; ``interval`` is one output frame interval (1 / display rate).
    """
    shown = bisect_right(waiting_pts, now) - 1
    if shown < 0:
        return PresentChoice(None, 0, False)
    return PresentChoice(shown, shown, is_late(waiting_pts[shown], now, interval))


# --------------------------------------------------------------------------------------------
# Audio/video drift


@dataclass(frozen=True)
class DriftAverage:
    """The last ``DRIFT_WINDOW`` drift readings (video clock minus audio clock, seconds).
    Immutable: ``add`` returns the updated average."""

    readings: tuple[float, ...] = ()

    def add(self, drift: float) -> DriftAverage:
        """This average with one more reading (the oldest falls out of the window)."""
        return DriftAverage((self.readings + (float(drift),))[-DRIFT_WINDOW:])

    @property
    def full(self) -> bool:
        """True once the window holds enough readings to act on."""
        return len(self.readings) >= DRIFT_WINDOW

    @property
    def mean(self) -> float:
        """Mean drift over the window (0.0 when empty)."""
        return sum(self.readings) / len(self.readings) if self.readings else 0.0


class DriftKind(Enum):
    WAIT = "wait"  # too few readings
    HOLD = "hold"  # within tolerance
    NUDGE = "nudge"  # move the video clock by ``correction`` seconds
    RESYNC = "resync"  # jump it by ``correction``, the whole mean drift


@dataclass(frozen=True)
class DriftAction:
    """What to do with the video clock (``DriftKind``). Apply ``correction`` by adding it to the
    video clock, then start a fresh ``DriftAverage`` so the old readings are not counted twice."""

    kind: DriftKind
    correction: float = 0.0


def drift_action(average: DriftAverage) -> DriftAction:
    """Decide on the averaged drift, with the thresholds named at the top of this module."""
    if not average.full:
        return DriftAction(DriftKind.WAIT)
    mean = average.mean
    if abs(mean) < DRIFT_TOLERANCE_S:
        return DriftAction(DriftKind.HOLD)
    if abs(mean) >= DRIFT_RESYNC_S:
        return DriftAction(DriftKind.RESYNC, -mean)
    return DriftAction(DriftKind.NUDGE, -mean * DRIFT_NUDGE_GAIN)
