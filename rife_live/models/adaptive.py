"""Adaptive flow scale for live playback: a pure controller, no clocks, no threads.

The live interpolation thread has a budget per source pair (1 / source fps: the pairs arrive at
that rate) and measures how long each pair's work took (network pass plus the synthesis of its
output frames). This controller moves the flow scale along the ladder 0.25, 0.5, 1 (2, 4), up to
the user's choice ``max_scale``, so the work fits the budget:

- **down** one step when the median of the last ``window`` readings exceeds ``down_load`` of
  the budget (the network would keep missing deadlines);
- **up** one step when the predicted cost at the next scale is below ``up_load`` of the budget.
  The prediction is the cost last measured at that scale (remembered for ``memory_readings``
  readings), or, when none is remembered, the current median times ``growth``: the network's
  FLOPs grow 4x per step (DESIGN.md §5), and measured time grows less, so the guess is safe.

Hysteresis comes from three things: the band between ``up_load`` and ``down_load``; decisions only
on a full window of readings taken at the current scale (the first ``warmup`` readings after a
change are dropped: the first pass at a new size is slow); and the memory of the finer scale's
cost, so a step down is not undone by an optimistic guess. The median ignores single spikes
(another process taking the CPU for a moment).

Usage: ``state = initial_state(max_scale)``; per measured pair ``state, change = observe(state,
work_ms, budget_ms)``; the user's scale keys call ``with_max_scale``. States are immutable.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from rife_live.models.settings import FLOW_SCALES

DOWN_LOAD = 0.9  # step down when the median work exceeds this share of the budget
UP_LOAD = 0.6  # step up when the finer scale's predicted work is below this share
WINDOW = 5  # readings per decision (and at least this many between two changes)
WARMUP = 1  # readings dropped after a change (first pass at a new size allocates and tunes)
GROWTH = 4.0  # predicted cost ratio of one step up when none was measured (FLOPs ratio)
MEMORY_READINGS = 250  # a remembered cost expires after this many readings (~10 s at 25 fps)

REASON_DOWN = "slow"  # work over budget
REASON_UP = "headroom"  # finer scale fits
REASON_CAP = "cap"  # the user's maximum moved below the current scale


@dataclass(frozen=True)
class AdaptiveConfig:
    """The controller's thresholds (defaults: the module constants)."""

    down_load: float = DOWN_LOAD
    up_load: float = UP_LOAD
    window: int = WINDOW
    warmup: int = WARMUP
    growth: float = GROWTH
    memory_readings: int = MEMORY_READINGS

    def __post_init__(self) -> None:
        if not 0 < self.up_load < self.down_load:
            raise ValueError(f"need 0 < up_load < down_load, got {self.up_load}, {self.down_load}")
        if self.window < 1 or self.warmup < 0 or self.memory_readings < 1:
            raise ValueError("window and memory_readings must be >= 1, warmup >= 0")
        if self.growth <= 1:
            raise ValueError(f"growth must be > 1, got {self.growth}")


@dataclass(frozen=True)
class ScaleChange:
    """One move of the flow scale: from ``old`` to ``new`` because of ``reason`` (``slow``,
    ``headroom`` or ``cap``), with the median work and the budget it was decided on (ms)."""

    old: float
    new: float
    reason: str
    work_ms: float | None = None
    budget_ms: float | None = None


@dataclass(frozen=True)
class AdaptiveState:
    """Where the controller is: the current ``scale``, the user's ``max_scale``, the readings
    taken at this scale, how many more to drop, and the remembered cost per scale as
    ``(scale, median ms, readings since it was measured)``."""

    scale: float
    max_scale: float
    readings: tuple[float, ...] = ()
    skip: int = 0
    memory: tuple[tuple[float, float, int], ...] = ()


def allowed_scales(max_scale: float) -> tuple[float, ...]:
    """The ladder up to ``max_scale`` (always at least the lowest scale)."""
    scales = tuple(s for s in FLOW_SCALES if s <= max_scale)
    return scales or FLOW_SCALES[:1]


def initial_state(max_scale: float, scale: float | None = None, config: AdaptiveConfig = AdaptiveConfig()) -> AdaptiveState:
    """Start at ``scale`` (default: ``max_scale``), clamped to the allowed ladder."""
    allowed = allowed_scales(max_scale)
    start = allowed[-1] if scale is None else _clamp(scale, allowed)
    return AdaptiveState(scale=start, max_scale=max_scale, skip=config.warmup)


def _clamp(scale: float, allowed: tuple[float, ...]) -> float:
    below = [s for s in allowed if s <= scale]
    return below[-1] if below else allowed[0]


def _step(allowed: tuple[float, ...], scale: float, direction: int) -> float | None:
    index = allowed.index(scale) + direction
    return allowed[index] if 0 <= index < len(allowed) else None


def _remembered(memory: tuple[tuple[float, float, int], ...], scale: float) -> float | None:
    for s, ms, _age in memory:
        if s == scale:
            return ms
    return None


def _age(memory: tuple[tuple[float, float, int], ...], config: AdaptiveConfig) -> tuple[tuple[float, float, int], ...]:
    return tuple((s, ms, age + 1) for s, ms, age in memory if age + 1 < config.memory_readings)


def _remember(memory: tuple[tuple[float, float, int], ...], scale: float, ms: float) -> tuple[tuple[float, float, int], ...]:
    return tuple(m for m in memory if m[0] != scale) + ((scale, ms, 0),)


def predicted_ms(state: AdaptiveState, scale: float, config: AdaptiveConfig = AdaptiveConfig()) -> float | None:
    """Expected work at ``scale``: the current median at the current scale, the remembered cost,
    or a guess from the current median (``growth`` per step up); None without readings."""
    if scale == state.scale:
        return statistics.median(state.readings) if state.readings else _remembered(state.memory, scale)
    known = _remembered(state.memory, scale)
    if known is not None:
        return known
    if not state.readings:
        return None
    steps = FLOW_SCALES.index(scale) - FLOW_SCALES.index(state.scale)
    return statistics.median(state.readings) * config.growth ** steps


def observe(state: AdaptiveState, work_ms: float, budget_ms: float,
            config: AdaptiveConfig = AdaptiveConfig()) -> tuple[AdaptiveState, ScaleChange | None]:
    """Take one reading (ms of work for one pair at ``state.scale``) against the budget (ms per
    source pair); returns the new state and the change made, if any."""
    if work_ms < 0 or budget_ms <= 0:
        raise ValueError(f"work must be >= 0 and budget > 0, got {work_ms}, {budget_ms}")
    memory = _age(state.memory, config)
    if state.skip > 0:
        return replace(state, skip=state.skip - 1, memory=memory), None
    readings = (state.readings + (float(work_ms),))[-config.window:]
    state = replace(state, readings=readings, memory=memory)
    if len(readings) < config.window:
        return state, None
    median = statistics.median(readings)
    allowed = allowed_scales(state.max_scale)
    if median > config.down_load * budget_ms:
        lower = _step(allowed, state.scale, -1)
        if lower is not None:
            return _change(state, lower, REASON_DOWN, median, budget_ms, config)
        return state, None
    higher = _step(allowed, state.scale, +1)
    if higher is not None:
        guess = predicted_ms(state, higher, config)
        if guess is not None and guess < config.up_load * budget_ms:
            return _change(state, higher, REASON_UP, median, budget_ms, config)
    return state, None


def with_max_scale(state: AdaptiveState, max_scale: float,
                   config: AdaptiveConfig = AdaptiveConfig()) -> tuple[AdaptiveState, ScaleChange | None]:
    """The user moved the maximum: the scale drops to it at once if above it; raising it lets the
    controller climb later (when the finer scale fits)."""
    allowed = allowed_scales(max_scale)
    state = replace(state, max_scale=max_scale)
    if state.scale in allowed:
        return state, None
    return _change(state, _clamp(state.scale, allowed), REASON_CAP, None, None, config)


def _change(state: AdaptiveState, new: float, reason: str, median: float | None, budget_ms: float | None,
            config: AdaptiveConfig) -> tuple[AdaptiveState, ScaleChange]:
    memory = state.memory if median is None else _remember(state.memory, state.scale, median)
    change = ScaleChange(old=state.scale, new=new, reason=reason, work_ms=median, budget_ms=budget_ms)
    return AdaptiveState(scale=new, max_scale=state.max_scale, readings=(), skip=config.warmup, memory=memory), change
