"""Live deadlines: how long the next network pass will take, from the passes before it.

The live interpolation thread gives every output a deadline on the presenter's clock. Before a
pair's pass it asks ``PassTimes`` when the pass would finish; outputs due before that become
misses (the source frame is shown), and a pair none of whose outputs can make it skips its pass.
"""

from __future__ import annotations

import statistics
from collections import deque

from rife_live.models import adaptive
from rife_live.models.settings import FLOW_SCALES

OVERRUN_HISTORY = 20  # the worst overrun of this many recent passes (over their estimate) is kept in reserve
PASS_HISTORY = 5  # recent pass times per scale whose median predicts the next pass
SKIP_DECAY = 0.9  # each pass left out shrinks its estimate, so a stale high one is re-measured
STEP_DOWN_RATIO = 0.5  # guess for a scale one step down from a measured one (FLOPs: 1/4; time: ~0.4)
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
