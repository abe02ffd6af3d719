"""Tests of rife_live.timing: exact output grids for CFR and VFR sources, pairs, tails, trimming,
presenter decisions and drift averaging."""

from __future__ import annotations

import math
from bisect import bisect_right
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rife_live import timing
from rife_live.timing import (
    DRIFT_RESYNC_S,
    DRIFT_TOLERANCE_S,
    DRIFT_WINDOW,
    DriftAverage,
    DriftKind,
    OutputScheduler,
    OutputSlot,
    choose_frame,
    drift_action,
    expected_output_count,
    outputs_in_pair,
    output_pts,
    outputs_in_tail,
    rate_for_exp,
    rate_for_multi,
)

COMMON_RATES = [
    Fraction(24000, 1001),
    Fraction(24),
    Fraction(25),
    Fraction(30000, 1001),
    Fraction(30),
    Fraction(50),
    Fraction(60000, 1001),
    Fraction(60),
    Fraction(120),
    Fraction(144),
]

# Any rate between 1 and 240 fps with an NTSC-like or odd denominator, or a common one.
rates = st.one_of(
    st.sampled_from(COMMON_RATES),
    st.builds(Fraction, st.integers(1000, 240_000), st.sampled_from([1000, 1001, 997, 1024])),
)
pts_origins = st.builds(Fraction, st.integers(-500, 5000), st.sampled_from([1, 25, 90_000, 1001]))


def run_scheduler(
    pts_list: list[Fraction],
    target: Fraction,
    stream_end: Fraction | None,
    start: Fraction | None = None,
    end: Fraction | None = None,
) -> list[OutputSlot]:
    scheduler = OutputScheduler(target, start=start, end=end)
    slots: list[OutputSlot] = []
    for pts in pts_list:
        slots.extend(scheduler.push(pts))
    slots.extend(scheduler.finish(stream_end))
    return slots


def check_grid(
    slots: list[OutputSlot],
    pts_list: list[Fraction],
    stream_end: Fraction,
    target: Fraction,
    origin: Fraction,
    lo: Fraction,
    hi: Fraction,
) -> None:
    """Every output in [lo, hi) on the grid origin + k/target appears once, in order, in the pair
    (or tail) that contains it, with the right t."""
    want = [k for k in range(0, math.ceil((hi - origin) * target) + 1) if lo <= origin + k / target < hi]
    assert [s.index for s in slots] == want  # contiguous, monotonic, no gap, no duplicate
    assert len(slots) == max(0, math.ceil((hi - origin) * target) - max(0, math.ceil((lo - origin) * target)))
    for slot in slots:
        assert slot.pts == origin + Fraction(slot.index) / target
        assert 0 <= slot.t < 1
        i = bisect_right(pts_list, slot.pts) - 1  # the one source frame whose span holds it
        assert i >= 0
        if i + 1 < len(pts_list):
            p0, p1 = pts_list[i], pts_list[i + 1]
            assert p0 <= slot.pts < p1
            assert slot.t == (slot.pts - p0) / (p1 - p0)
        else:
            assert pts_list[i] <= slot.pts < stream_end
            assert slot.t == 0


def test_bbb_25_to_60_gives_317_outputs_at_k_over_60():
    pts_list = [Fraction(k, 25) for k in range(132)]
    slots = run_scheduler(pts_list, Fraction(60), Fraction(132, 25))
    assert [s.pts for s in slots] == [Fraction(k, 60) for k in range(317)]
    assert expected_output_count(132, 25, 60) == 317
    # Outputs falling exactly on a source frame are that frame (t = 0), in the later pair.
    assert slots[12] == OutputSlot(12, Fraction(1, 5), Fraction(0))
    assert slots[13] == OutputSlot(13, Fraction(13, 60), Fraction(5, 12))


def test_multi_3_gives_396_outputs_at_75_fps():
    target = rate_for_multi(25, 3)
    assert target == 75
    assert expected_output_count(132, 25, target) == 396
    slots = run_scheduler([Fraction(k, 25) for k in range(132)], target, Fraction(132, 25))
    assert len(slots) == 396
    assert [s.t for s in slots[:3]] == [0, Fraction(1, 3), Fraction(2, 3)]
    assert slots[-3:] == [OutputSlot(393 + i, Fraction(393 + i, 75), Fraction(0)) for i in range(3)]


@given(source=rates, e=st.integers(0, 4), n=st.integers(1, 40))
def test_exp_is_multi_of_power_of_two(source, e, n):
    assert rate_for_exp(source, e) == rate_for_multi(source, 2**e) == source * 2**e
    assert expected_output_count(n, source, rate_for_exp(source, e)) == n * 2**e


@settings(max_examples=300, deadline=None)
@given(source=rates, target=rates, n=st.integers(1, 80), first=pts_origins)
def test_random_cfr_streams(source, target, n, first):
    pts_list = [first + Fraction(i) / source for i in range(n)]
    stream_end = first + Fraction(n) / source
    slots = run_scheduler(pts_list, target, stream_end)
    check_grid(slots, pts_list, stream_end, target, first, first, stream_end)
    assert len(slots) == expected_output_count(n, source, target, first_pts=first)
    assert [s.pts for s in slots] == [output_pts(s.index, first, target) for s in slots]


@given(source=rates, multi=st.integers(1, 8), n=st.integers(1, 60))
def test_multi_gives_exactly_multi_outputs_per_source_frame(source, multi, n):
    pts_list = [Fraction(i) / source for i in range(n)]
    slots = run_scheduler(pts_list, rate_for_multi(source, multi), Fraction(n) / source)
    assert len(slots) == n * multi
    assert [s.t for s in slots[: multi * (n - 1)]] == [Fraction(j, multi) for j in range(multi)] * (n - 1)


vfr_gaps = st.lists(
    st.builds(Fraction, st.integers(1, 5000), st.sampled_from([1000, 1001, 90_000, 48_000])),
    min_size=0,
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(target=rates, first=pts_origins, gaps=vfr_gaps, last_duration=st.builds(Fraction, st.integers(1, 200), st.just(1000)))
def test_random_vfr_streams(target, first, gaps, last_duration):
    pts_list = [first]
    for gap in gaps:
        pts_list.append(pts_list[-1] + gap)
    stream_end = pts_list[-1] + last_duration
    slots = run_scheduler(pts_list, target, stream_end)
    check_grid(slots, pts_list, stream_end, target, first, first, stream_end)


@settings(max_examples=300, deadline=None)
@given(
    target=rates,
    gaps=vfr_gaps,
    start_ms=st.one_of(st.none(), st.integers(-100, 4000)),
    length_ms=st.one_of(st.none(), st.integers(1, 4000)),
)
def test_trimmed_streams(target, gaps, start_ms, length_ms):
    pts_list = [Fraction(0)]
    for gap in gaps:
        pts_list.append(pts_list[-1] + gap)
    stream_end = pts_list[-1] + Fraction(1, 25)
    start = None if start_ms is None else Fraction(start_ms, 1000)
    end = None if length_ms is None else (start or Fraction(0)) + Fraction(length_ms, 1000)
    origin = pts_list[0] if start is None else start
    slots = run_scheduler(pts_list, target, stream_end, start=start, end=end)
    hi = stream_end if end is None else min(stream_end, end)
    check_grid(slots, pts_list, stream_end, target, origin, max(pts_list[0], origin), hi)


def test_scheduler_finished_after_end_and_rejects_backward_pts():
    scheduler = OutputScheduler(Fraction(50), end=Fraction(1, 10))
    assert scheduler.push(Fraction(0)) == []
    assert not scheduler.finished
    assert [s.index for s in scheduler.push(Fraction(1, 25))] == [0, 1]
    assert not scheduler.accepts(Fraction(1, 25))
    with pytest.raises(ValueError):
        scheduler.push(Fraction(1, 50))
    assert [s.index for s in scheduler.push(Fraction(3, 25))] == [2, 3, 4]
    assert scheduler.finished
    assert scheduler.finish() == []
    with pytest.raises(ValueError):
        scheduler.finish()
    assert not scheduler.accepts(Fraction(10))


def test_finish_without_stream_end_uses_last_pair_or_one_interval():
    scheduler = OutputScheduler(Fraction(4))
    scheduler.push(Fraction(0))
    scheduler.push(Fraction(1, 2))
    assert [s.pts for s in scheduler.finish()] == [Fraction(1, 2), Fraction(3, 4)]
    single = OutputScheduler(Fraction(30), start=Fraction(0))
    assert single.push(Fraction(1)) == []
    assert single.finish() == [OutputSlot(30, Fraction(1), Fraction(0))]
    assert OutputScheduler(30).finish() == []


def test_output_before_first_frame_is_not_invented():
    # --start before the first frame: k = 0 is at start, but outputs before the video are none.
    slots = run_scheduler([Fraction(1), Fraction(2)], Fraction(2), Fraction(3), start=Fraction(0))
    assert [s.index for s in slots] == [2, 3, 4, 5]


def test_pair_and_tail_edges():
    assert outputs_in_pair(Fraction(0), Fraction(1, 25), 0, 60) == [
        OutputSlot(0, Fraction(0), Fraction(0)),
        OutputSlot(1, Fraction(1, 60), Fraction(25, 60)),
        OutputSlot(2, Fraction(2, 60), Fraction(50, 60)),
    ]
    assert outputs_in_tail(Fraction(1), Fraction(1), 0, 60) == []
    with pytest.raises(ValueError):
        outputs_in_pair(Fraction(1), Fraction(1), 0, 60)
    with pytest.raises(ValueError):
        rate_for_multi(25, 0)
    with pytest.raises(ValueError):
        rate_for_exp(25, -1)
    with pytest.raises(ValueError):
        OutputScheduler(0)


def test_choose_frame_examples():
    waiting = [Fraction(k, 60) for k in range(10, 15)]
    assert choose_frame(waiting, 9 / 60, 1 / 60) == timing.PresentChoice(None, 0, False)
    choice = choose_frame(waiting, Fraction(12, 60), Fraction(1, 60))
    assert (choice.show, choice.drop, choice.late) == (2, 2, False)
    late = choose_frame(waiting, 1.0, 1 / 60)
    assert (late.show, late.drop, late.late) == (4, 4, True)
    assert choose_frame([], 1.0, 1 / 60) == timing.PresentChoice(None, 0, False)
    assert not timing.is_late(Fraction(1), Fraction(1) + Fraction(1, 60), Fraction(1, 60))
    assert timing.is_late(Fraction(1), 1.02, 1 / 60)


@given(
    gaps=st.lists(st.integers(1, 100), max_size=20),
    now_ms=st.integers(-100, 3000),
    interval_ms=st.integers(1, 100),
)
def test_choose_frame_picks_newest_due(gaps, now_ms, interval_ms):
    waiting = []
    t = Fraction(0)
    for gap in gaps:
        t += Fraction(gap, 1000)
        waiting.append(t)
    now, interval = now_ms / 1000, interval_ms / 1000
    choice = choose_frame(waiting, now, interval)
    due = [i for i, p in enumerate(waiting) if p <= now]
    if not due:
        assert choice.show is None and choice.drop == 0 and not choice.late
    else:
        assert choice.show == due[-1] == choice.drop
        assert choice.late == (now - waiting[due[-1]] > interval)


def test_drift_average_and_actions():
    average = DriftAverage()
    for _ in range(DRIFT_WINDOW - 1):
        average = average.add(0.1)
    assert drift_action(average).kind is DriftKind.WAIT
    average = average.add(0.1)
    action = drift_action(average)
    assert action.kind is DriftKind.NUDGE and action.correction == pytest.approx(-0.1 * timing.DRIFT_NUDGE_GAIN)
    # Old readings fall out of the window: the average follows the recent ones.
    for _ in range(DRIFT_WINDOW):
        average = average.add(-DRIFT_RESYNC_S * 2)
    assert len(average.readings) == DRIFT_WINDOW
    assert drift_action(average) == timing.DriftAction(DriftKind.RESYNC, pytest.approx(DRIFT_RESYNC_S * 2))
    calm = DriftAverage(tuple([DRIFT_TOLERANCE_S / 2, -DRIFT_TOLERANCE_S / 2] * (DRIFT_WINDOW // 2)))
    assert drift_action(calm).kind is DriftKind.HOLD
    assert DriftAverage().mean == 0.0
