"""Adaptive quality for live playback: the finest flow scale, and the share of source pairs, that
the machine sustains. A pure controller: no clocks, no threads; states are immutable.

The live interpolation thread runs ahead of the presenter by a read-ahead (files: seconds; live
sources: their latency). Per source pair it reports the work it did (the thread's busy time for
the pair: the network pass, the syntheses, the copies; not its waits), the pair's budget (its
duration: pairs arrive at that rate, so the read-ahead grows by budget - work) and how full the
read-ahead is (``fill``: the lead over its target, 0 to 1).
The controller walks one ladder of quality levels, best first (``ladder``): every flow scale up to
the user's maximum at every pair, then the lowest scale at a steady **stride** (7 of 8 pairs, 3
of 4, 2 of 3, 1 of 2, ...), so that when even the lowest scale is too slow, motion degrades
evenly instead of by chance.

- **Down** one level when the read-ahead has drained (``fill < drain_fill``) and the level has lost
  more lead than ``down_shortfall`` of the budgets of ``deficit_window`` readings (the sum of work
  minus budget over its recent readings, at least ``down_window``): the machine cannot sustain the
  level, and the buffer no longer hides it. A level far too slow loses that lead in a few pairs. A
  drained buffer that refills by itself (a start, a seek) is left alone, and so is a burst of slow
  passes the sum absorbs, and a level short by under ``down_shortfall``: it costs that share of
  its pairs as misses, far less than the next level down (a coarser flow on every pair, or a
  quarter of the pairs at a stride).
- **Up** one level when the read-ahead has stayed full (``fill >= full_fill``) for a whole window
  and the finer level's predicted work is at most ``up_load`` of the budget (sustainable on average:
  the read-ahead absorbs the jitter). The prediction is the cost last measured at that scale
  (remembered for ``memory_readings`` readings) times the level's share of pairs, else the current
  cost times ``growth`` per scale step (the network's FLOPs grow 4x per step: a safe guess). When the
  guess says no but the buffer stays full for ``probe_readings``, a finer scale is tried anyway (a
  probe): the buffer absorbs a failed try, and its cost is then remembered. (A finer stride at
  the same scale needs no probe: its cost is known.)

Hysteresis: the band between the drained and full marks, windows of readings at one level between
changes (a short one down: a drained read-ahead means misses now; a long one up), the first
``warmup`` readings after a change dropped (a first pass at a new size is slow), and the
remembered cost of finer levels.

Usage: ``state = initial_state(max_scale)``; per pair ``state, change = observe(state, reading,
config)``; the user's scale keys call ``with_max_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from rife_live.models.settings import FLOW_SCALES

# below the lowest scale: the shares of pairs interpolated, finest first
STRIDES = (Fraction(7, 8), Fraction(3, 4), Fraction(2, 3), Fraction(1, 2), Fraction(1, 3), Fraction(1, 4))
DRAIN_FILL = 0.25  # the read-ahead counts as drained below this share of its target
FULL_FILL = 0.9  # ... and as full at or above it
DOWN_SHORTFALL = 0.05  # step down when drained and the level's work exceeds its budget by more than this share
UP_LOAD = 1.0  # step up when full and the finer level's predicted work is at most this share of the budget
WINDOW = 8  # readings per step up (and at least this many full ones in a row)
DOWN_WINDOW = 3  # readings a step down needs at least
DEFICIT_WINDOW = 96  # the lead lost is summed over at most this many readings (4 s at 24 fps)
WARMUP = 1  # readings dropped after a change (first pass at a new size allocates and tunes)
GROWTH = 4.0  # predicted cost ratio of one scale step up when none was measured (FLOPs ratio)
MEMORY_READINGS = 250  # a remembered cost expires after this many readings (~10 s at 25 fps)
PROBE_READINGS = 500  # full this long with no remembered cost: try the finer level (~20 s at 25 fps)

REASON_DOWN = "slow"  # drained, work over budget
REASON_UP = "headroom"  # full, the finer level fits
REASON_PROBE = "probe"  # full for long: try the finer level
REASON_CAP = "cap"  # the user's maximum moved below the current level


@dataclass(frozen=True)
class Level:
    """One rung of the ladder: a flow scale, and the share of source pairs interpolated."""

    scale: float
    share: Fraction = Fraction(1)

    def label(self) -> str:
        return f"{self.scale:g}" if self.share == 1 else f"{self.scale:g} stride {self.share}"


@dataclass(frozen=True)
class AdaptiveConfig:
    """The controller's thresholds (defaults: the module constants)."""

    drain_fill: float = DRAIN_FILL
    full_fill: float = FULL_FILL
    down_shortfall: float = DOWN_SHORTFALL
    up_load: float = UP_LOAD
    window: int = WINDOW
    down_window: int = DOWN_WINDOW
    deficit_window: int = DEFICIT_WINDOW
    warmup: int = WARMUP
    growth: float = GROWTH
    memory_readings: int = MEMORY_READINGS
    probe_readings: int = PROBE_READINGS

    def __post_init__(self) -> None:
        if not 0 <= self.drain_fill < self.full_fill <= 1:
            raise ValueError(f"need 0 <= drain_fill < full_fill <= 1, got {self.drain_fill}, {self.full_fill}")
        if not 0 < self.up_load <= 1 or self.down_shortfall <= 0:
            raise ValueError(f"need 0 < up_load <= 1 and down_shortfall > 0, got {self.up_load}, {self.down_shortfall}")
        if not 1 <= self.down_window <= self.deficit_window or self.window > self.deficit_window \
                or self.warmup < 0 or self.memory_readings < 1 or self.probe_readings < self.window:
            raise ValueError("need 1 <= down_window <= deficit_window, window <= deficit_window, warmup >= 0, "
                             "memory_readings >= 1, probe_readings >= window")
        if self.growth <= 1:
            raise ValueError(f"growth must be > 1, got {self.growth}")


@dataclass(frozen=True)
class Reading:
    """One source pair: the work done (ms), whether the network ran for it, the pair's budget (ms)
    and the read-ahead's fill (its lead over its target)."""

    work_ms: float
    interpolated: bool
    budget_ms: float
    fill: float

    def __post_init__(self) -> None:
        if self.work_ms < 0 or self.budget_ms <= 0:
            raise ValueError(f"work must be >= 0 and budget > 0, got {self.work_ms}, {self.budget_ms}")


@dataclass(frozen=True)
class ScaleChange:
    """One move along the ladder: from ``old`` to ``new`` because of ``reason``, with the mean work
    and the budget it was decided on (ms)."""

    old: Level
    new: Level
    reason: str
    work_ms: float | None = None
    budget_ms: float | None = None


Memory = tuple[tuple[float, float, int], ...]  # (scale, ms per interpolated pair, readings since measured)


@dataclass(frozen=True)
class AdaptiveState:
    """Where the controller is: the ``level`` (an index into ``ladder(max_scale, min_scale)``), the
    readings taken there, how many more to drop, how long the read-ahead has been full, and the
    remembered cost per scale. ``min_scale`` is the lowest scale (the user's, when fixed)."""

    level: int
    max_scale: float
    min_scale: float = FLOW_SCALES[0]
    readings: tuple[Reading, ...] = ()
    skip: int = 0
    full_streak: int = 0
    memory: Memory = ()

    @property
    def levels(self) -> tuple[Level, ...]:
        return ladder(self.max_scale, self.min_scale)

    @property
    def current(self) -> Level:
        return self.levels[self.level]

    @property
    def scale(self) -> float:
        return self.current.scale

    @property
    def share(self) -> Fraction:
        return self.current.share


def allowed_scales(max_scale: float, min_scale: float = FLOW_SCALES[0]) -> tuple[float, ...]:
    """The flow scales from ``min_scale`` up to ``max_scale`` (always at least one)."""
    scales = tuple(s for s in FLOW_SCALES if min_scale <= s <= max_scale)
    return scales or (max(min(max_scale, FLOW_SCALES[-1]), FLOW_SCALES[0]),)


def ladder(max_scale: float, min_scale: float = FLOW_SCALES[0]) -> tuple[Level, ...]:
    """The quality levels, best first: each allowed scale at every pair, then the lowest at strides."""
    scales = allowed_scales(max_scale, min_scale)
    return tuple(Level(s) for s in reversed(scales)) + tuple(Level(scales[0], share) for share in STRIDES)


def initial_state(max_scale: float, scale: float | None = None, config: AdaptiveConfig = AdaptiveConfig(),
                  fixed: bool = False) -> AdaptiveState:
    """Start at ``scale`` at every pair (default: ``max_scale``). ``fixed``: the user's scale; only
    strides below it (the scale itself never moves)."""
    min_scale = max_scale if fixed else FLOW_SCALES[0]
    return AdaptiveState(level=_index_of(ladder(max_scale, min_scale), scale), max_scale=max_scale,
                         min_scale=min_scale, skip=config.warmup)


def _index_of(levels: tuple[Level, ...], scale: float | None) -> int:
    """The first level at every pair whose scale is at most ``scale`` (the lowest such when none is)."""
    full = [i for i, level in enumerate(levels) if level.share == 1]
    if scale is None:
        return full[0]
    return next((i for i in full if levels[i].scale <= scale), full[-1])


def _remembered(memory: Memory, scale: float) -> float | None:
    for s, ms, _age in memory:
        if s == scale:
            return ms
    return None


def _age(memory: Memory, config: AdaptiveConfig) -> Memory:
    return tuple((s, ms, age + 1) for s, ms, age in memory if age + 1 < config.memory_readings)


def _remember(memory: Memory, scale: float, ms: float) -> Memory:
    return tuple(m for m in memory if m[0] != scale) + ((scale, ms, 0),)


def pair_cost(readings: tuple[Reading, ...]) -> float | None:
    """Mean work of the pairs the network ran for (ms), None when it ran for none."""
    done = [r.work_ms for r in readings if r.interpolated]
    return sum(done) / len(done) if done else None


def lead_lost(readings: tuple[Reading, ...]) -> float:
    """Lead the read-ahead lost over the readings (ms): the sum of work minus budget (negative: gained)."""
    return sum(r.work_ms - r.budget_ms for r in readings)


def mean_work(readings: tuple[Reading, ...]) -> float:
    """Mean work per source pair over the readings (skipped pairs count as 0): the throughput need."""
    return sum(r.work_ms for r in readings) / len(readings) if readings else 0.0


def predicted_ms(state: AdaptiveState, index: int, config: AdaptiveConfig = AdaptiveConfig()) -> float | None:
    """Expected work per source pair at ladder level ``index``: the cost per interpolated pair at
    its scale (measured now, remembered, or guessed by ``growth`` per step) times its share; None
    without any measurement."""
    target = state.levels[index]
    cost = pair_cost(state.readings) if target.scale == state.scale else _remembered(state.memory, target.scale)
    if cost is None and target.scale != state.scale:
        here = pair_cost(state.readings)
        if here is None:
            return None
        steps = FLOW_SCALES.index(target.scale) - FLOW_SCALES.index(state.scale)
        cost = here * config.growth ** steps
    return None if cost is None else cost * float(target.share)


def observe(state: AdaptiveState, reading: Reading,
            config: AdaptiveConfig = AdaptiveConfig()) -> tuple[AdaptiveState, ScaleChange | None]:
    """Take one pair's reading; returns the new state and the change made, if any."""
    memory = _age(state.memory, config)
    full_streak = state.full_streak + 1 if reading.fill >= config.full_fill else 0
    if state.skip > 0:
        return replace(state, skip=state.skip - 1, memory=memory, full_streak=full_streak), None
    kept = (state.readings + (reading,))[-config.deficit_window:]
    state = replace(state, readings=kept, memory=memory, full_streak=full_streak)
    budget = sum(r.budget_ms for r in kept) / len(kept)
    levels = state.levels
    if len(kept) >= config.down_window and reading.fill < config.drain_fill \
            and lead_lost(kept) > config.down_shortfall * config.deficit_window * budget:
        if state.level + 1 < len(levels):
            return _change(state, state.level + 1, REASON_DOWN, mean_work(kept), budget, config)
        return state, None
    readings = kept[-config.window:]
    work = mean_work(readings)
    if state.level > 0 and len(readings) == config.window and full_streak >= config.window:
        guess = predicted_ms(state, state.level - 1, config)
        if guess is not None and guess <= config.up_load * budget:
            return _change(state, state.level - 1, REASON_UP, work, budget, config)
        finer = levels[state.level - 1]  # a stride at this scale is predicted exactly: no probe for it
        if full_streak >= config.probe_readings and finer.scale != state.scale \
                and _remembered(memory, finer.scale) is None:
            return _change(state, state.level - 1, REASON_PROBE, work, budget, config)
    return state, None


def with_max_scale(state: AdaptiveState, max_scale: float, fixed: bool = False,
                   config: AdaptiveConfig = AdaptiveConfig()) -> tuple[AdaptiveState, ScaleChange | None]:
    """The user moved the maximum (``fixed``: set the scale itself): the level drops to it at once
    if above it; raising it lets the controller climb later (when the finer level fits). A stride
    in use is kept."""
    old = state.current
    min_scale = max_scale if fixed else FLOW_SCALES[0]
    levels = ladder(max_scale, min_scale)
    index = _index_of(levels, old.scale) if old.share == 1 else levels.index(Level(levels[-1].scale, old.share))
    moved = replace(state, level=index, max_scale=max_scale, min_scale=min_scale)
    if moved.current == old:
        return moved, None
    return replace(moved, readings=(), skip=config.warmup, full_streak=0), ScaleChange(old, moved.current, REASON_CAP)


def _change(state: AdaptiveState, index: int, reason: str, work: float, budget: float,
            config: AdaptiveConfig) -> tuple[AdaptiveState, ScaleChange]:
    cost = pair_cost(state.readings)
    memory = state.memory if cost is None else _remember(state.memory, state.scale, cost)
    new = replace(state, level=index, readings=(), skip=config.warmup, full_streak=0, memory=memory)
    return new, ScaleChange(old=state.current, new=new.current, reason=reason, work_ms=work, budget_ms=budget)
