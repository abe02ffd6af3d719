"""player/transport.py: the play/pause/step/seek/hold state machine, walked exhaustively."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rife_live.player.transport import Intent, Phase, Transport

EVENTS = ("hold", "seek", "ready", "pause", "play", "step", "shown", "end", "quit")


def apply(state: Transport, event: str) -> Transport:
    if event == "hold":
        return state.hold(state.epoch + 1)
    if event == "seek":
        return state.hold(state.epoch + 1, Fraction(3))
    if event == "ready":
        return state.ready()
    if event == "pause":
        return state.set_pause(True)
    if event == "play":
        return state.set_pause(False)
    if event == "step":
        return state.step()
    if event == "shown":
        return state.shown()
    if event == "end":
        return state.end()
    return state.quit()


def test_start_holds_then_runs() -> None:
    start = Transport()
    assert start.holding and not start.clock_runs and not start.done
    running = start.ready()
    assert running.phase is Phase.RUNNING and running.clock_runs


def test_pause_during_a_hold_keeps_the_clock_stopped_after_it() -> None:
    held = Transport().set_pause(True)
    assert not held.clock_runs and held.ready().paused and not held.ready().clock_runs


def test_frame_step_runs_the_clock_for_one_frame() -> None:
    paused = Transport().ready().set_pause(True)
    stepping = paused.step()
    assert stepping.intent is Intent.STEP and stepping.clock_runs
    assert stepping.shown() == paused  # one frame on screen: paused again


def test_seek_holds_with_its_target_until_ready() -> None:
    seeking = Transport().ready().hold(1, Fraction(5))
    assert seeking.holding and seeking.seek_to == 5 and seeking.epoch == 1
    assert seeking.ready().seek_to is None
    with pytest.raises(ValueError):
        seeking.hold(0)


@settings(max_examples=400)
@given(st.lists(st.sampled_from(EVENTS), max_size=30))
def test_invariants_hold_for_every_sequence(events: list[str]) -> None:
    state = Transport()
    quit_seen = False
    for event in events:
        before = state
        state = apply(state, event)
        assert state.epoch >= before.epoch
        assert state.clock_runs == (state.phase is Phase.RUNNING and state.intent is not Intent.PAUSE)
        assert state.seek_to is None or state.holding  # a target only while held for it
        if before.done:  # an ended or quit session does not start again
            assert state.done
        if event == "quit":
            quit_seen = True
        if quit_seen:
            assert state.phase is Phase.QUIT  # quitting is final
