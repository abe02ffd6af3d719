"""Tests of rife_live.pipeline.pacing: the stride's evenness, deadline planning, pass-time
predictions and the readings it gives the quality controller (a hand-driven clock, no threads)."""

from __future__ import annotations

import threading
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from rife_live.frames import FrameKind
from rife_live.models import adaptive
from rife_live.models.adaptive import STRIDES
from rife_live.pipeline.pacing import (LIVE_MARGIN_S, LIVE_RESERVE_S, SKIP_DECAY, STEP_DOWN_RATIO, Pacing,
                                       PassTimes)
from rife_live.timing import OutputSlot

INTERP, SOURCE, MISS = FrameKind.INTERP, FrameKind.SOURCE, FrameKind.MISS


class Clock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _slots(start: Fraction, count: int, rate: Fraction) -> list[OutputSlot]:
    return [OutputSlot(index=i, pts=start + Fraction(i) / rate, t=Fraction(i, count)) for i in range(count)]


@given(st.sampled_from(STRIDES), st.integers(1, 400))
@settings(max_examples=100, deadline=None)
def test_a_stride_takes_its_share_of_pairs_evenly(share, pairs) -> None:
    pacing = Pacing(0.25, clock=Clock(), lead_s=2.0)
    pacing.stats.share = share
    taken = [pacing.takes_pair() for _ in range(pairs)]
    assert abs(sum(taken) - share * pairs) < 1  # the share, to within one pair
    assert pacing.stats.stride_skips == pairs - sum(taken)
    gaps = [b - a for a, b in zip([i for i, t in enumerate(taken) if t], [i for i, t in enumerate(taken) if t][1:])]
    assert not gaps or max(gaps) - min(gaps) <= 1  # evenly spaced: motion stays regular


def test_export_takes_every_pair_and_plans_nothing() -> None:
    pacing = Pacing(1.0)
    slots = _slots(Fraction(0), 3, Fraction(60))
    pacing.record_pass(1.0, 5.0, None)  # even a very slow pass
    assert all(pacing.takes_pair() for _ in range(10)) and pacing.stats.stride_skips == 0
    assert pacing.plan(slots, [SOURCE, INTERP, INTERP], 1.0) == [SOURCE, INTERP, INTERP]
    assert not pacing.too_late(slots[1], Fraction(1, 60)) and not pacing.warm_up_due()
    pacing.end_pair(Fraction(0), Fraction(1, 24), 5.0, True, 0, Fraction(0), 1.0)
    assert pacing.stats.changes == []
    pacing.set_scale(0.5, adaptive_on=False)
    assert pacing.begin_pair(Fraction(0)) == (0.5, True)


def test_plan_turns_outputs_the_pass_cannot_make_into_misses() -> None:
    clock = Clock(10.0)
    pacing = Pacing(0.5, clock=clock, lead_s=2.0)
    slots = _slots(Fraction(10), 6, Fraction(20))
    kinds = [SOURCE] + [INTERP] * 5
    assert pacing.warm_up_due() and pacing.plan(slots, kinds, 0.5) == kinds  # nothing measured: the pass runs
    pacing.record_pass(0.5, 0.030, None)
    assert not pacing.warm_up_due()
    ready = clock.now + 0.030 + LIVE_RESERVE_S + LIVE_MARGIN_S  # no synthesis measured yet
    expected = [SOURCE] + [MISS if float(slot.pts) < ready else INTERP for slot in slots[1:]]
    assert pacing.plan(slots, kinds, 0.5) == expected and MISS in expected and INTERP in expected
    clock.now = 0.0  # far ahead of the clock: every output makes it
    assert pacing.plan(slots, kinds, 0.5) == kinds
    assert pacing.too_late(slots[0], Fraction(1, 60)) is False
    clock.now = float(slots[0].pts) + 0.02  # more than one interval past it
    assert pacing.too_late(slots[0], Fraction(1, 60))


def test_the_reserve_is_at_most_half_the_lead() -> None:
    clock = Clock(0.0)
    pacing = Pacing(0.25, clock=clock, lead_s=0.1)  # a short live latency
    pacing.record_pass(0.25, 0.010, None)
    slots = _slots(Fraction(0), 3, Fraction(60))
    ready = 0.010 + 0.05 + LIVE_MARGIN_S
    assert pacing.plan(slots, [INTERP] * 3, 0.25) == [MISS if float(s.pts) < ready else INTERP for s in slots]


def test_pass_times_predict_from_the_steady_median_and_guess_unmeasured_scales() -> None:
    times = PassTimes()
    assert times.expected_s(1.0) == 0.0 and not times.measured
    times.record_pass(1.0, 500.0)  # the first pass warms up: alone until steady ones come
    assert times.expected_s(1.0) == 0.5
    for ms in (100.0, 120.0, 110.0):
        times.record_pass(1.0, ms)
    assert abs(times.expected_s(1.0) - 0.110) < 1e-12
    assert abs(times.expected_s(0.5) - 0.110 * STEP_DOWN_RATIO) < 1e-12  # one step down: a guess
    assert abs(times.expected_s(2.0) - 0.110 * adaptive.GROWTH) < 1e-12  # one step up: the FLOPs ratio
    times.skipped(1.0)
    times.skipped(1.0)
    assert abs(times.expected_s(1.0) - 0.110 * SKIP_DECAY ** 2) < 1e-12  # left out: the estimate shrinks
    times.record_pass(1.0, 110.0, expected_ms=80.0)
    assert abs(times.expected_s(1.0) - 0.110) < 1e-12 and abs(times.overrun_s() - 0.030) < 1e-12


def _pair(pacing: Pacing, clock: Clock, pts: Fraction, budget: Fraction, work_s: float, lead: float) -> bool:
    """One pair through the pacing as the interpolation thread drives it; returns whether it was taken."""
    pacing.begin_pair(pts)
    wanted = pacing.takes_pair()
    if wanted and work_s:
        pacing.record_pass(pacing.stats.scale, work_s, None)
    pacing.end_pair(pts, pts + budget, work_s if wanted else 0.0, wanted, 0, Fraction(clock.now + lead),
                    pacing.stats.scale)
    return wanted


def test_a_drained_read_ahead_and_slow_passes_step_down_to_an_even_stride_and_back_up() -> None:
    clock = Clock(0.0)
    pacing = Pacing(1.0, clock=clock, lead_s=2.0, adaptive_on=True)
    budget = Fraction(1, 24)
    pts = Fraction(0)
    for _ in range(200):  # every pass costs three budgets and the read-ahead is empty
        _pair(pacing, clock, pts, budget, 3 * float(budget), lead=0.0)
        pts += budget
    assert pacing.stats.scale == 0.25 and pacing.stats.share < 1
    assert [c["reason"] for c in pacing.stats.changes] == [adaptive.REASON_DOWN] * len(pacing.stats.changes)
    assert pacing.stats.changes[0]["old"] == 1.0 and pacing.stats.changes[0]["new"] == 0.5
    stride = pacing.stats.share
    before = pacing.stats.stride_skips
    for _ in range(100):  # now passes are cheap and the read-ahead stays full: quality comes back
        _pair(pacing, clock, pts, budget, 0.05 * float(budget), lead=2.0)
        pts += budget
    assert pacing.stats.share > stride and pacing.stats.changes[-1]["reason"] == adaptive.REASON_UP
    assert pacing.stats.stride_skips >= before
    assert pacing.stats.as_dict()["stride"] == str(pacing.stats.share)


def test_a_wanted_pair_skipped_for_its_deadline_counts_at_its_expected_cost() -> None:
    clock = Clock(0.0)
    pacing = Pacing(0.5, clock=clock, lead_s=1.0, adaptive_on=True)
    pacing.record_pass(0.5, 0.2, None)  # 200 ms a pass, 40 ms a pair: hopeless
    for index in range(adaptive.WARMUP + adaptive.DOWN_WINDOW):
        pacing.skipped_pass(0.5)
        pacing.end_pair(Fraction(index, 25), Fraction(index + 1, 25), 0.001, True, 2, None, 0.5)
    assert pacing.stats.skipped_passes == adaptive.WARMUP + adaptive.DOWN_WINDOW
    assert pacing.stats.scale == 0.25 and pacing.stats.changes[0]["reason"] == adaptive.REASON_DOWN


def test_a_fixed_scale_only_strides_and_controls_from_any_thread_apply_at_the_next_pair() -> None:
    clock = Clock(0.0)
    pacing = Pacing(0.5, clock=clock, lead_s=2.0, adaptive_on=False)
    budget = Fraction(1, 25)
    for index in range(60):
        _pair(pacing, clock, index * budget, budget, 0.2, lead=0.0)
    assert pacing.stats.scale == 0.5 and pacing.stats.share < 1  # the user's scale holds; the stride gives
    worker = threading.Thread(target=lambda: (pacing.set_scale(1.0, adaptive_on=True),
                                              pacing.set_interpolation(False)))
    worker.start()
    worker.join()
    assert pacing.interpolating is False and pacing.max_scale == 0.5  # not taken yet
    share = pacing.stats.share
    scale, interpolate = pacing.begin_pair(Fraction(3))
    assert not interpolate and pacing.adaptive_on and pacing.max_scale == 1.0
    assert scale == 0.25 and pacing.stats.share == share  # the stride is kept, at the adaptive ladder's lowest scale
    assert pacing.stats.changes[-1]["reason"] == adaptive.REASON_CAP
