"""Pacing of the interpolation thread: which flow scale, which pairs get the network, and which
outputs can make their deadlines (DESIGN.md §4).

Export: every pair at the user's scale; nothing is ever late. Live (a presenter clock is given):

- **Quality**: ``models.adaptive`` walks the ladder of levels (flow scales, then strides at the
  lowest scale) from what each pair cost, its budget (the pair's duration) and how full the
  read-ahead is: the lead of the newest output published over the clock, against the target lead
  (``--readahead-secs`` for a file, ``--live-latency`` for a live source). With a fixed user scale
  the ladder holds that scale and its strides only.
- **Stride**: at a level that interpolates a share p/q of the pairs, the pairs that need the network
  are taken evenly (every other one, two in three, ...); the outputs of the others show the source
  frame (kind ``miss``, counted as stride skips), so motion stays regular.
- **Deadlines**: before a pass, ``PassTimes`` predicts when it would end; an output due before then
  becomes a miss, and a pair none of whose outputs can make it skips its pass, so the thread
  never falls behind the clock because of the network (a safety net: with a full read-ahead no
  output comes near its deadline).
- **Controls**: ``set_scale`` and ``set_interpolation`` come from any thread and are taken at the
  next pair.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable

from rife_live.frames import FrameKind
from rife_live.models import adaptive
from rife_live.models.settings import FLOW_SCALES
from rife_live.timing import OutputSlot

OVERRUN_HISTORY = 20  # the worst overrun of this many recent passes (over their estimate) is kept in reserve
PASS_HISTORY = 5  # recent pass times per scale whose median predicts the next pass
SKIP_DECAY = 0.9  # each pass left out shrinks its estimate, so a stale high one is re-measured
STEP_DOWN_RATIO = 0.5  # guess for a scale one step down from a measured one (FLOPs: 1/4; time: ~0.4)
LIVE_MARGIN_S = 0.010  # an output must be ready this long before it is due
LIVE_RESERVE_S = 0.100  # lead kept beyond a pass's estimate, so a pass that runs long does not stall
LIVE_RESERVE_SHARE = 0.5  # the picture: at least this, or the worst recent overrun; at most this share of the target lead
MS_PER_S = 1000.0


class PassTimes:
    """Live: recent network pass and synthesis times, and the predictions made from them.

    Per scale: the first pass (it warms up: allocations, kernel choice) stands alone until steady
    passes come, then the median of the last ``PASS_HISTORY`` predicts the next. The worst recent
    overrun of a pass over its prediction sizes the lead kept in reserve. A scale never
    measured is guessed from the nearest measured one. Each pass left out for its deadline shrinks
    that scale's prediction by ``SKIP_DECAY`` until a pass runs again, so one slow pass cannot
    keep the network off for good. Owned by the interpolation thread.
    """

    def __init__(self) -> None:
        self._first: dict[float, float] = {}
        self._steady: dict[float, deque] = {}
        self._decay: dict[float, float] = {}
        self._synth: deque = deque(maxlen=PASS_HISTORY)
        self._overruns: deque = deque(maxlen=OVERRUN_HISTORY)

    def record_pass(self, scale: float, ms: float, expected_ms: float | None = None) -> None:
        """One pass's time, and what it was expected to take (its overrun sizes the reserve)."""
        if expected_ms is not None:
            self._overruns.append(max(0.0, ms - expected_ms))
        if scale in self._first:
            self._steady.setdefault(scale, deque(maxlen=PASS_HISTORY)).append(ms)
        else:
            self._first[scale] = ms
        self._decay[scale] = 1.0

    @property
    def measured(self) -> bool:
        """Whether any pass was timed yet."""
        return bool(self._first)

    def record_synth(self, ms: float) -> None:
        self._synth.append(ms)

    def skipped(self, scale: float) -> None:
        self._decay[scale] = self._decay.get(scale, 1.0) * SKIP_DECAY

    def measured_ms(self, scale: float) -> float | None:
        """The pass time measured at ``scale`` (steady median, else the first pass), or None."""
        steady = self._steady.get(scale)
        if steady:
            return statistics.median(steady)
        return self._first.get(scale)

    def expected_s(self, scale: float) -> float:
        """Seconds the next pass at ``scale`` should take (0 when nothing was measured yet)."""
        measured = self.measured_ms(scale)
        if measured is None:
            known = [s for s in self._first if s != scale]
            if not known:
                return 0.0
            nearest = min(known, key=lambda s: abs(FLOW_SCALES.index(s) - FLOW_SCALES.index(scale)))
            steps = FLOW_SCALES.index(scale) - FLOW_SCALES.index(nearest)
            ratio = adaptive.GROWTH if steps > 0 else STEP_DOWN_RATIO
            measured = (self.measured_ms(nearest) or 0.0) * ratio ** abs(steps)
        return measured * self._decay.get(scale, 1.0) / MS_PER_S

    def overrun_s(self) -> float:
        """The worst recent overrun of a pass over its estimate, seconds (0 before any)."""
        return max(self._overruns, default=0.0) / MS_PER_S

    def synth_s(self) -> float:
        """Seconds one synthesis should take (0 before the first)."""
        return statistics.median(self._synth) / MS_PER_S if self._synth else 0.0


@dataclass
class PacingStats:
    """What the pacing decided (written by the interpolation thread only)."""

    scale: float = 1.0  # flow scale in use now
    share: Fraction = Fraction(1)  # share of the pairs that need the network given it (the stride)
    stride_skips: int = 0  # pairs left out by the stride
    skipped_passes: int = 0  # pairs whose pass was left out for its deadline
    last_pass_ms: float | None = None
    changes: list = field(default_factory=list)  # dicts: pts, old, new, shares, reason, work_ms, budget_ms

    def as_dict(self) -> dict[str, object]:
        return {"scale": self.scale, "stride": str(self.share), "stride_skips": self.stride_skips,
                "skipped_passes": self.skipped_passes, "scale_changes": list(self.changes)}


class Pacing:
    """The interpolation thread's decisions (see the module text). ``clock`` None: export.
    ``lead_s``: the target lead of a live pipeline (its read-ahead)."""

    def __init__(self, scale: float, *, clock: Callable[[], float] | None = None, lead_s: float = 0.0,
                 adaptive_on: bool = False, config: adaptive.AdaptiveConfig | None = None,
                 interpolate: bool = True) -> None:
        self.clock = clock
        self.lead_s = lead_s
        self.stats = PacingStats(scale=scale)
        self.times = PassTimes()
        self._config = config or adaptive.AdaptiveConfig()
        self._quality = (adaptive.initial_state(scale, config=self._config, fixed=not adaptive_on)
                         if clock is not None else None)
        self._adaptive = adaptive_on and clock is not None
        self._scale = scale
        self._stride_phase = Fraction(0)
        self._controls = threading.Lock()  # guards the two requests below (any thread writes them)
        self._interpolate = interpolate
        self._scale_request: tuple[float, bool] | None = None

    # -- controls (any thread; taken at the next pair) ------------------------------------------------
    @property
    def interpolating(self) -> bool:
        return self._interpolate

    def set_interpolation(self, on: bool) -> None:
        with self._controls:
            self._interpolate = bool(on)

    def set_scale(self, scale: float, adaptive_on: bool) -> None:
        """A fixed flow scale, or (``adaptive_on``) the highest scale the controller may use."""
        with self._controls:
            self._scale_request = (float(scale), bool(adaptive_on))

    @property
    def adaptive_on(self) -> bool:
        return self._adaptive

    @property
    def max_scale(self) -> float:
        return self._quality.max_scale if self._quality is not None else self._scale

    @property
    def live(self) -> bool:
        return self.clock is not None

    # -- per pair (the interpolation thread) ------------------------------------------------------------
    def begin_pair(self, pts: Fraction) -> tuple[float, bool]:
        """Take the controls' requests; the scale for this pair and whether interpolation is on."""
        with self._controls:
            request, self._scale_request = self._scale_request, None
            interpolate = self._interpolate
        if request is not None:
            scale, adaptive_on = request
            if self._quality is None:  # export: the scale is fixed
                self._scale = scale
            else:
                self._adaptive = adaptive_on
                self._quality, change = adaptive.with_max_scale(self._quality, scale, fixed=not adaptive_on,
                                                                config=self._config)
                if change is not None:
                    self._record_change(change, pts)
        return self._scale, interpolate

    def takes_pair(self) -> bool:
        """Whether the stride gives this pair (one that needs the network) a pass (always in export)."""
        if self.clock is None:
            return True
        share = self.stats.share
        self._stride_phase += share
        if self._stride_phase >= 1:
            self._stride_phase -= 1
            return True
        self.stats.stride_skips += 1
        return False

    def plan(self, slots: list[OutputSlot], kinds: list[FrameKind], scale: float) -> list[FrameKind]:
        """Live: the outputs whose deadline the pass (and the syntheses before them) cannot make
        become misses. Before the first pass nothing is known: it runs (the session holds its clock
        until the first frames are ready, so this warm-up pass delays the start, not the picture)."""
        if self.clock is None or not self.times.measured:
            return kinds
        reserve = min(max(LIVE_RESERVE_S, self.times.overrun_s()), LIVE_RESERVE_SHARE * self.lead_s)
        ready = self.clock() + self.times.expected_s(scale) + reserve + LIVE_MARGIN_S
        synth_s = self.times.synth_s()
        planned = []
        for slot, kind in zip(slots, kinds):
            if kind is FrameKind.INTERP:
                ready += synth_s
                if slot.pts < ready:
                    kind = FrameKind.MISS
            planned.append(kind)
        return planned

    def too_late(self, slot: OutputSlot, interval: Fraction) -> bool:
        """Live: a newer output is already due before this one could be shown."""
        return self.clock is not None and self.clock() - slot.pts > interval

    def warm_up_due(self) -> bool:
        """Live, nothing measured yet: a pass now warms the engine while the clocks are held."""
        return self.clock is not None and not self.times.measured

    def record_pass(self, scale: float, elapsed_s: float, expected_s: float | None) -> None:
        self.stats.last_pass_ms = elapsed_s * MS_PER_S
        self.times.record_pass(scale, elapsed_s * MS_PER_S, None if expected_s is None else expected_s * MS_PER_S)

    def skipped_pass(self, scale: float) -> None:
        self.stats.skipped_passes += 1
        self.times.skipped(scale)

    def end_pair(self, pts0: Fraction, pts1: Fraction, busy_s: float, wanted: bool, unmade: int,
                 newest: Fraction | None, scale: float) -> None:
        """Live: one reading for the quality controller about a pair that needed the network: the
        thread's busy time for it (not its waits on a full ring B), its budget, and the read-ahead's
        fill (``newest``: the pts of the newest output published). ``wanted``: the stride gave the
        pair the network; ``unmade``: its outputs that the deadlines then left without a pass: they
        count at the cost they would have had (the work the level asks for)."""
        if self._quality is None or self.clock is None:
            return
        if unmade:
            busy_s += self.times.expected_s(scale) + unmade * self.times.synth_s()
        lead = 0.0 if newest is None else float(newest) - self.clock()
        fill = min(1.0, max(0.0, lead / self.lead_s)) if self.lead_s > 0 else 1.0
        reading = adaptive.Reading(work_ms=busy_s * MS_PER_S, interpolated=wanted,
                                   budget_ms=float(pts1 - pts0) * MS_PER_S, fill=fill)
        self._quality, change = adaptive.observe(self._quality, reading, self._config)
        if change is not None:
            self._record_change(change, pts0)

    def _record_change(self, change: adaptive.ScaleChange, pts: Fraction | None) -> None:
        self._scale = change.new.scale
        self.stats.scale, self.stats.share = change.new.scale, change.new.share
        self.stats.changes.append({
            "pts": None if pts is None else float(pts), "old": change.old.scale, "new": change.new.scale,
            "old_stride": str(change.old.share), "new_stride": str(change.new.share), "reason": change.reason,
            "work_ms": change.work_ms, "budget_ms": change.budget_ms})
