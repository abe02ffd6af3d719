"""pipeline/timeline.py: exact increasing pts, repair, and live continuity across jumps and reconnects."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from rife_live.pipeline.timeline import LIVE_MAX_JUMP_S, Timeline, next_pts

STEP = Fraction(1, 25)


def test_next_pts_keeps_increasing() -> None:
    assert next_pts(Fraction(3, 25), Fraction(2, 25), STEP) == (Fraction(3, 25), False)
    assert next_pts(None, None, STEP) == (Fraction(0), False)
    assert next_pts(None, Fraction(2, 25), STEP) == (Fraction(3, 25), True)
    assert next_pts(Fraction(2, 25), Fraction(2, 25), STEP) == (Fraction(3, 25), True)


@given(st.lists(st.one_of(st.none(), st.fractions(min_value=-10, max_value=10)), max_size=40))
def test_published_pts_always_increase(raws: list[Fraction | None]) -> None:
    timeline = Timeline(Fraction(25), live=False)
    last = None
    for raw in raws:
        place = timeline.place(raw)
        assert last is None or place.pts > last
        assert not place.jumped  # files keep their pts: no live jumps
        timeline.published(place.pts)
        last = place.pts


def test_a_live_jump_continues_one_frame_on() -> None:
    timeline = Timeline(Fraction(25), live=True)
    for k in range(3):
        timeline.published(timeline.place(Fraction(k, 25)).pts)
    jump = timeline.place(Fraction(500))  # an encoder clock reset
    assert jump.jumped and jump.pts == Fraction(3, 25)
    timeline.published(jump.pts)
    after = timeline.place(Fraction(500) + STEP)
    assert not after.jumped and after.pts == Fraction(4, 25)
    assert timeline.shifted(Fraction(500)) == Fraction(3, 25)  # audio follows the same shift
    small = timeline.place(Fraction(500) + STEP + LIVE_MAX_JUMP_S / 2)
    assert not small.jumped  # under the threshold: a gap, not a discontinuity


def test_after_reconnect_the_timeline_continues_after_the_last_decoded_frame() -> None:
    timeline = Timeline(Fraction(25), live=True)
    for k in range(5):
        place = timeline.place(Fraction(k, 25))
        if k < 3:
            timeline.published(place.pts)  # frames 3 and 4 were decoded but skipped as stale
    timeline.after_reconnect()
    assert timeline.place(Fraction(0)).pts == Fraction(5, 25)


def test_after_seek_an_earlier_pts_is_taken_as_it_is() -> None:
    timeline = Timeline(Fraction(25), live=False)
    timeline.published(timeline.place(Fraction(4)).pts)
    timeline.after_seek()
    assert timeline.place(Fraction(1)).pts == Fraction(1)
