"""The decode thread's timeline: exact, strictly increasing pts for every published frame.

- **Repair**: a frame without pts gets the previous pts + 1/fps (0 for the first); so does a pts
  that does not increase (counted as repaired), so the consumer always sees increasing times.
- **Live continuity**: after a reconnect, and when a live stream's pts jump by more than
  ``LIVE_MAX_JUMP_S`` (a UDP sender restarted within the read timeout, an encoder's clock reset),
  the timeline continues one frame after the last decoded frame (delivered or skipped as stale):
  later pts are shifted by ``shift``. A jump is reported so the caller starts a new epoch.

Pure bookkeeping: no I/O, no threads; one ``Timeline`` per decode thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

LIVE_MAX_JUMP_S = Fraction(1)  # a live pts jump larger than this (either way) is a discontinuity
FALLBACK_FPS = Fraction(25)  # for repair when the stream states no rate


def next_pts(pts: Fraction | None, previous: Fraction | None, step: Fraction) -> tuple[Fraction, bool]:
    """The pts to publish: ``pts`` itself when it increases, else previous + step (0 for the first
    frame without pts). Returns (pts, repaired)."""
    if pts is not None and (previous is None or pts > previous):
        return pts, False
    if previous is None:
        return Fraction(0), pts is not None and pts != 0
    return previous + step, True


@dataclass(frozen=True)
class Placement:
    """Where a decoded frame goes: its pts, whether it was repaired, and whether a live jump was
    found just before it (the caller starts a new epoch)."""

    pts: Fraction
    repaired: bool
    jumped: bool


class Timeline:
    """See the module text. ``live``: continuity across jumps applies (files keep their pts)."""

    def __init__(self, fps: Fraction | None, live: bool) -> None:
        self.step = Fraction(1) / (fps or FALLBACK_FPS)
        self.live = live
        self.shift = Fraction(0)  # added to raw pts (live: after a reconnect or a jump)
        self._last_pts: Fraction | None = None  # the last published pts
        self._last_seen: Fraction | None = None  # live: the last decoded frame's pts, published or not

    def place(self, raw: Fraction | None) -> Placement:
        """The placement of a decoded frame whose pts is ``raw`` seconds from the origin."""
        jumped = False
        if raw is not None and self.live:
            seen = self._last_seen
            if seen is not None and abs(raw + self.shift - seen) > LIVE_MAX_JUMP_S:
                self.shift = seen + self.step - raw
                jumped = True
            self._last_seen = raw + self.shift  # dropped frames too: a drop is no jump
        pts, repaired = next_pts(None if raw is None else raw + self.shift, self._last_pts, self.step)
        return Placement(pts, repaired, jumped)

    def shifted(self, raw: Fraction | None) -> Fraction | None:
        """An audio item's pts on the same timeline."""
        return None if raw is None else raw + self.shift

    def published(self, pts: Fraction) -> None:
        """The frame placed at ``pts`` went into ring A."""
        self._last_pts = pts

    def after_seek(self) -> None:
        """A seek: the next frame may be earlier than the last one published."""
        self._last_pts = None

    def after_reconnect(self) -> None:
        """A live source was reopened: continue one frame after the last decoded frame."""
        last = self._last_seen if self._last_seen is not None else self._last_pts
        self.shift = Fraction(0) if last is None else last + self.step
