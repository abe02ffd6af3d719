"""Tests of rife_live.models.adaptive: the pure adaptive flow-scale controller (property tests)."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rife_live.models.adaptive import (REASON_CAP, REASON_DOWN, REASON_UP, AdaptiveConfig, AdaptiveState,
                                       allowed_scales, initial_state, observe, predicted_ms, with_max_scale)
from rife_live.models.settings import FLOW_SCALES

CONFIG = AdaptiveConfig()
caps = st.sampled_from(FLOW_SCALES)
budgets = st.floats(5.0, 200.0)
readings = st.floats(0.0, 1000.0)


def run(state: AdaptiveState, costs, budget: float, config: AdaptiveConfig = CONFIG):
    """Feed readings; ``costs`` maps a scale to the reading taken at it (or is a list of readings)."""
    changes = []
    for item in costs:
        ms = item(state.scale) if callable(item) else item
        state, change = observe(state, ms, budget, config)
        if change is not None:
            changes.append(change)
    return state, changes


def stationary(base: float, ratio: float):
    """A machine whose work grows by ``ratio`` per ladder step above 0.25."""
    return lambda scale: base * ratio ** FLOW_SCALES.index(scale)


@given(caps, st.lists(st.tuples(readings, budgets, st.none() | caps), max_size=200))
@settings(max_examples=200, deadline=None)
def test_scale_stays_on_the_ladder_below_the_cap_and_moves_one_step(cap, steps):
    state = initial_state(cap)
    assert state.scale == cap
    for ms, budget, new_cap in steps:
        before = state
        if new_cap is not None:
            state, change = with_max_scale(state, new_cap)
            if change is not None:
                assert change.reason == REASON_CAP and change.new == max(allowed_scales(new_cap))
        else:
            state, change = observe(state, ms, budget)
            if change is not None:
                step = abs(FLOW_SCALES.index(change.new) - FLOW_SCALES.index(change.old))
                assert step == 1 and change.old == before.scale
        assert state.scale in allowed_scales(state.max_scale)


@given(caps, st.lists(st.tuples(readings, budgets), min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_changes_are_spaced_and_justified(cap, steps):
    """A change needs a full window of readings at the current scale after the warm-up, and the
    window's median beyond the threshold of its direction."""
    state = initial_state(cap)
    since_change = 0
    for ms, budget in steps:
        before = state
        state, change = observe(state, ms, budget)
        since_change += 1
        if change is None:
            continue
        assert since_change >= CONFIG.warmup + CONFIG.window
        window = (before.readings + (ms,))[-CONFIG.window:]
        median = statistics.median(window)
        assert change.work_ms == median and change.budget_ms == budget
        if change.reason == REASON_DOWN:
            assert change.new < change.old and median > CONFIG.down_load * budget
        else:
            assert change.reason == REASON_UP and change.new > change.old
            assert median <= CONFIG.down_load * budget
            assert predicted_ms(before, change.new) < CONFIG.up_load * budget or \
                median * CONFIG.growth < CONFIG.up_load * budget
        since_change = 0


@given(caps, st.floats(1.0, 60.0), st.floats(1.2, CONFIG.growth), budgets)
@settings(max_examples=300, deadline=None)
def test_settles_without_oscillating_on_a_steady_machine(cap, base, ratio, budget):
    """From the cap, the scale only goes down, and settles on the finest scale whose work fits
    (or the lowest one); it never comes back up to a scale it left."""
    cost = stationary(base, ratio)
    state, changes = run(initial_state(cap), [cost] * 400, budget)
    assert all(c.reason == REASON_DOWN for c in changes)
    allowed = allowed_scales(cap)
    fitting = [s for s in allowed if cost(s) <= CONFIG.down_load * budget]
    assert state.scale == (fitting[-1] if fitting else allowed[0])


@given(caps, st.floats(0.5, 60.0), st.floats(1.2, CONFIG.growth), budgets)
@settings(max_examples=300, deadline=None)
def test_climbs_from_the_bottom_only_where_the_work_fits(cap, base, ratio, budget):
    """Started at the lowest scale (or after the load went away), it climbs while the next scale
    is predicted to fit, and never steps down again on a steady machine."""
    cost = stationary(base, ratio)
    state, changes = run(initial_state(cap, scale=FLOW_SCALES[0]), [cost] * 400, budget)
    assert all(c.reason == REASON_UP for c in changes)
    assert cost(state.scale) <= CONFIG.down_load * budget or state.scale == FLOW_SCALES[0]


@given(st.floats(1.0, 20.0), st.floats(200.0, 5000.0), st.integers(0, CONFIG.window - 1))
@settings(max_examples=200, deadline=None)
def test_one_spike_in_a_window_changes_nothing(cheap, spike, where):
    budget = 40.0
    state = AdaptiveState(scale=0.5, max_scale=0.5)  # no warm-up readings to skip
    window = [cheap] * CONFIG.window
    window[where] = spike
    state, changes = run(state, window, budget)
    assert changes == []


def test_the_measured_costs_of_this_cpu_settle_where_the_budget_allows():
    """Work per pair at 448x256 on the project's CPU (about 15, 45, 120 ms at 0.25, 0.5, 1)."""
    measured = {0.25: 15.0, 0.5: 45.0, 1.0: 120.0}
    state, changes = run(initial_state(1.0), [measured.get] * 40, 1000 / 25)  # 25 fps: 40 ms per pair
    assert [(c.old, c.new) for c in changes] == [(1.0, 0.5), (0.5, 0.25)] and state.scale == 0.25
    state, changes = run(initial_state(1.0), [measured.get] * 40, 1000 / 12)  # 12 fps: 83 ms per pair
    assert [(c.old, c.new) for c in changes] == [(1.0, 0.5)] and state.scale == 0.5


def test_remembered_cost_blocks_an_optimistic_climb_until_it_expires():
    budget = 40.0
    config = AdaptiveConfig(memory_readings=60)
    state = initial_state(0.5, config=config)
    state, changes = run(state, [45.0] * 10, budget, config)  # 0.5 is over 90 % of 40 ms
    assert [c.new for c in changes] == [0.25]
    # at 0.25 the work is 5 ms: 4x would fit, but 0.5 was measured at 45 ms
    state, changes = run(state, [5.0] * 40, budget, config)
    assert changes == [] and state.scale == 0.25
    state, changes = run(state, [5.0] * 40, budget, config)  # memory expired: try again
    assert [c.new for c in changes] == [0.5]


def test_cap_moves_the_scale_down_at_once_and_allows_climbing_later():
    state = initial_state(1.0)
    state, change = with_max_scale(state, 0.25)
    assert change is not None and (change.old, change.new, change.reason) == (1.0, 0.25, REASON_CAP)
    state, change = with_max_scale(state, 1.0)
    assert change is None and state.scale == 0.25
    state, changes = run(state, [2.0] * 30, 40.0)
    assert state.scale == 1.0 and [c.new for c in changes] == [0.5, 1.0]


def test_bad_values_are_refused():
    with pytest.raises(ValueError):
        AdaptiveConfig(up_load=0.9, down_load=0.5)
    with pytest.raises(ValueError):
        observe(initial_state(1.0), 10.0, 0.0)
    assert allowed_scales(0.1) == (0.25,)
