"""The presenter: which output frame is due, putting it on screen, and counting what it did.

Ring B holds output frames in pts order. Each round the presenter shows the newest frame that is
due on the video clock (``timing.choose_frame``) and releases the older ones unshown (counted as
dropped); a frame shown more than one output interval after its pts counts as late. The frame on
screen stays in ring B's first slot until the next one is shown (a screenshot with ``--vo null``
reads it there). It never waits on the network: when the interpolation thread is behind, the
frames simply come later (or as misses, made by that thread).

Main thread only (the video output's rule). One ``Presenter`` per session; ``forget`` drops the
frame on screen when a transition resets ring B.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rife_live.frames import FrameMeta
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.player.transport import Transport
from rife_live.present import VideoOutput, WindowEvent
from rife_live.timing import choose_frame

MS_PER_S = 1000.0
LATE_EVENTS_KEPT = 16  # the first late frames are described in the stats (where and how late)


@dataclass
class PresentStats:
    """Counters of the presenter (main thread only)."""

    shown: int = 0
    kinds: Counter = field(default_factory=Counter)  # FrameMeta.kind of shown frames
    dropped: int = 0  # released unshown: a newer frame was due
    late: int = 0  # shown more than one output interval after its pts
    max_lateness_s: float = 0.0
    late_events: list = field(default_factory=list)  # the first LATE_EVENTS_KEPT: pts, lateness, frames waiting
    max_gap_s: float = 0.0  # longest wall time between two shows while playing
    present_s: float = 0.0  # time inside VideoOutput.show
    seeks: int = 0
    loops: int = 0
    screenshots: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "shown": self.shown, "kinds": {str(k): v for k, v in self.kinds.items()}, "dropped": self.dropped,
            "late": self.late, "max_lateness_ms": self.max_lateness_s * MS_PER_S, "late_events": list(self.late_events),
            "max_gap_ms": self.max_gap_s * MS_PER_S,
            "present_ms_per_frame": self.present_s * MS_PER_S / self.shown if self.shown else None,
            "seeks": self.seeks, "loops": self.loops, "screenshots": self.screenshots,
        }


class Presenter:
    """Shows ring B's frames on a video output at an output ``interval`` (seconds)."""

    def __init__(self, vo: VideoOutput, interval: float) -> None:
        self.vo = vo
        self.interval = interval
        self.stats = PresentStats()
        self.on_screen: FrameMeta | None = None  # the frame in ring B's first slot, when it is on screen
        self.last_shown: FrameMeta | None = None  # the latest frame shown (kept after it left ring B)
        self.first_show_wall: float | None = None  # rates count from the first frame on screen
        self._last_show_wall: float | None = None  # None: the next gap is not a stall (the clock jumped)

    # -- ring B ---------------------------------------------------------------------------------
    def front(self, ring: Ring[np.ndarray]) -> FrameMeta | None:
        """Ring B's first frame after discarding stale ones (raises the pipeline's error and
        ``RingClosed`` once it is drained); the frame on screen is forgotten when it went stale."""
        got = ring.peek(timeout=0)
        if got is None or got[0] is not self.on_screen:
            self.on_screen = None
        return None if got is None else got[0]

    def waiting(self, ring: Ring[np.ndarray]) -> list[FrameMeta]:
        """The frames after the one on screen, in ring order."""
        metas = []
        for i in range(self._held(), ring.fill):
            try:
                got = ring.peek_at(i, timeout=0)
            except RingClosed:
                break
            if got is None:
                break
            metas.append(got[0])
        return metas

    def _held(self) -> int:
        return int(self.on_screen is not None)

    def current_frame(self, ring: Ring[np.ndarray]) -> np.ndarray | None:
        """The picture on screen, None when there is none."""
        if self.on_screen is None:
            return None
        got = ring.peek_at(0, timeout=0)
        return None if got is None else got[1]

    def release_screen(self, ring: Ring[np.ndarray]) -> None:
        """Give the frame on screen back to the ring (the input ended)."""
        if self.on_screen is not None:
            ring.release(1)
            self.on_screen = None

    def forget(self) -> None:
        """A transition reset ring B: nothing of it is on screen any more, and the clock jumps."""
        self.on_screen = None
        self.clock_jumped()

    def clock_jumped(self) -> None:
        """The clock was stopped or moved: the next gap between shows is not a stall."""
        self._last_show_wall = None

    # -- showing --------------------------------------------------------------------------------
    def show_due(self, ring: Ring[np.ndarray], waiting: list[FrameMeta], now: float) -> FrameMeta | None:
        """Show the newest waiting frame due at ``now`` (dropping older ones); the frame shown, or None."""
        choice = choose_frame([m.pts for m in waiting], now, self.interval)
        if choice.show is None:
            return None
        if choice.late:
            self.stats.late += 1
            if len(self.stats.late_events) < LATE_EVENTS_KEPT:
                pts = float(waiting[choice.show].pts)
                self.stats.late_events.append({"pts": pts, "late_ms": (now - pts) * MS_PER_S,
                                               "kind": str(waiting[choice.show].kind), "waiting": len(waiting)})
        return self.show(ring, choice.show, now, choice.drop)

    def show(self, ring: Ring[np.ndarray], index: int, now: float, dropped: int = 0) -> FrameMeta:
        """Put the ``index``-th waiting frame on screen at clock time ``now``; the ones before it
        (and the frame on screen) go back to the ring, ``dropped`` of them counted as dropped
        (frames that were due; a transition's stale frames are not)."""
        released = self._held() + index
        if released:
            ring.release(released)
        self.stats.dropped += dropped
        got = ring.peek_at(0, timeout=0)
        assert got is not None
        meta, image = got
        self.stats.max_lateness_s = max(self.stats.max_lateness_s, now - float(meta.pts))
        wall = time.perf_counter()
        if self.first_show_wall is None:
            self.first_show_wall = wall
        if self._last_show_wall is not None:
            self.stats.max_gap_s = max(self.stats.max_gap_s, wall - self._last_show_wall)
        self.vo.show(image, meta)
        self._last_show_wall = time.perf_counter()
        self.stats.present_s += self._last_show_wall - wall
        self.stats.shown += 1
        self.stats.kinds[meta.kind] += 1
        self.on_screen = self.last_shown = meta
        return meta

    def redraw(self) -> None:
        """Draw the frame on screen again (the OSD changed, the window was resized)."""
        if self.on_screen is not None:
            self.vo.show(None)

    def shown_long_enough(self, now: float) -> bool:
        """The last frame has had its time on screen (the clock passed its end)."""
        return self.last_shown is None or now >= float(self.last_shown.pts) + self.interval

    def epoch_start(self, ring: Ring[np.ndarray], waiting: list[FrameMeta], epoch: int, preroll: int) -> int | None:
        """Index of the first waiting frame of ``epoch`` once ``preroll`` of them are ready (or the
        ring has closed after at least one), else None: the clocks start there."""
        fresh = [i for i, m in enumerate(waiting) if m.epoch >= epoch]
        if len(fresh) >= min(preroll, ring.capacity - 1) or (fresh and ring.closed):
            return fresh[0]
        return None

    def wait(self, ring: Ring[np.ndarray], transport: Transport, now: float, limit: float) -> list[WindowEvent]:
        """Sleep until the next frame is due, a frame arrives, an event comes, or ``limit``
        seconds; returns the window events that ended the wait (to handle next round)."""
        waiting = self.waiting(ring)
        timeout = limit
        if transport.holding and not ring.closed:  # a publish wakes us
            ring.peek_at(self._held() + len(waiting), timeout=limit)
            return []
        if transport.clock_runs and not transport.holding:
            if not waiting and not ring.closed:  # nothing to show yet: wait on ring B itself
                ring.peek_at(self._held(), timeout=min(limit, self.interval))
                return []
            if waiting:
                timeout = min(limit, max(0.0, float(waiting[0].pts) - now))
        return self.vo.wait_events(timeout) if timeout > 0 else []
