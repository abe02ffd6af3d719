"""clock.py: the monotonic clock and the audio clock over the null output."""

from __future__ import annotations

import time

import numpy as np
import pytest

from rife_live.audio.output import AudioOutput
from rife_live.clock import AudioClock, Clock, MonotonicClock

WAIT_S = 5.0


class StepTimer:
    """A timer the test advances by hand (stands in for time.perf_counter)."""

    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_monotonic_clock_runs_pauses_seeks() -> None:
    timer = StepTimer()
    clock = MonotonicClock(5.0, timer=timer)
    assert isinstance(clock, Clock)
    timer.t += 1.5
    assert clock.now() == pytest.approx(6.5)
    clock.pause()
    timer.t += 10
    assert clock.paused and clock.now() == pytest.approx(6.5)
    clock.resume()
    timer.t += 0.5
    assert clock.now() == pytest.approx(7.0)
    clock.seek(30.0)
    assert clock.now() == 30.0
    timer.t += 1
    assert clock.now() == pytest.approx(31.0)


def test_monotonic_clock_seek_while_paused_stays_paused() -> None:
    timer = StepTimer()
    clock = MonotonicClock(paused=True, timer=timer)
    clock.seek(12.0)
    timer.t += 3
    assert clock.now() == 12.0
    clock.resume()
    timer.t += 1
    assert clock.now() == pytest.approx(13.0)


def test_monotonic_clock_rate_change_keeps_elapsed_time() -> None:
    timer = StepTimer()
    clock = MonotonicClock(timer=timer)
    timer.t += 2
    clock.set_rate(0.5)
    timer.t += 2
    assert clock.rate == 0.5 and clock.now() == pytest.approx(3.0)
    with pytest.raises(ValueError):
        clock.set_rate(0)


def test_monotonic_clock_real_timer_is_monotonic() -> None:
    clock = MonotonicClock()
    readings = [clock.now() for _ in range(1000)]
    assert all(b >= a for a, b in zip(readings, readings[1:]))
    time.sleep(0.01)
    assert clock.now() > readings[-1]


def test_audio_clock_follows_the_null_output() -> None:
    out = AudioOutput(ao="null", fifo_seconds=2.0)
    try:
        clock = AudioClock(out)
        assert isinstance(clock, Clock) and clock.rate == 1.0
        out.fifo.push(np.zeros((out.sample_rate, out.channels), np.float32), pts=2.0)
        out.start()
        deadline = time.monotonic() + WAIT_S
        while clock.now() <= 2.1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert clock.now() > 2.1
        clock.pause()
        frozen = clock.now()
        time.sleep(0.05)
        assert clock.paused and clock.now() == frozen
        clock.seek(60.0)
        assert clock.now() == 60.0 and out.fifo.fill == 0
        clock.resume()
        assert not clock.paused
    finally:
        out.close()
