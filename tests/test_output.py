"""audio/output.py: the device (or the null one), the gain applied, and the played position as a clock.

The null backend plays at real-time pace, so these tests wait for the position to move with
Event-free polling of short sleeps; they assert direction and consistency, never wall-time bounds.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rife_live.audio.output import AudioOutput, open_device

from rife_live.errors import OutputError

RATE = 48000
CHANNELS = 2
WAIT_S = 5.0  # generous upper bound for something that should take a few periods
POLL_S = 0.01


def wait_until(predicate, timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(POLL_S)
    return predicate()


def tone(seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    mono = (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


@pytest.fixture
def null_output():
    out = AudioOutput(RATE, CHANNELS, ao="null", fifo_seconds=3.0)
    yield out
    out.close()


# -- pure parts -------------------------------------------------------------------------------


# -- FIFO -------------------------------------------------------------------------------------


# -- the device and its clock -----------------------------------------------------------------
def test_ao_auto_falls_back_to_null_with_one_log_line() -> None:
    lines: list[str] = []
    device = open_device("auto", RATE, CHANNELS, 20, log=lines.append)
    try:
        if device.backend == "Null":  # this machine has no sound card
            assert len(lines) == 1 and "null" in lines[0]
        else:
            assert lines == []
    finally:
        device.close()
    with pytest.raises(OutputError):
        open_device("pulse", RATE, CHANNELS, 20)


def test_null_output_plays_at_real_pace_and_is_monotonic(null_output: AudioOutput) -> None:
    out = null_output
    assert out.backend == "Null"
    out.fifo.push(tone(2.0), pts=10.0)
    assert out.position() == 0.0  # until the first sample plays: the start (or flush) pts
    t0 = time.perf_counter()
    out.start()
    assert wait_until(lambda: out.position() > 10.0)  # then the first sample's pts, and on
    readings = []
    assert wait_until(lambda: readings.append(out.position()) or readings[-1] > 10.3)
    elapsed = time.perf_counter() - t0
    assert all(b >= a for a, b in zip(readings, readings[1:]))
    # the clock is the data played: never ahead of the elapsed time, and moving at about its pace
    assert readings[-1] - 10.0 <= elapsed + 0.001
    assert out.underruns == 0


def test_pause_freezes_and_resume_continues(null_output: AudioOutput) -> None:
    out = null_output
    out.fifo.push(tone(2.5))
    out.start()
    assert wait_until(lambda: out.position() > 0.2)
    out.pause()
    frozen = out.position()
    time.sleep(0.15)
    assert out.paused and out.position() == frozen
    fill_paused = out.fifo.fill
    time.sleep(0.1)
    assert out.fifo.fill == fill_paused  # nothing consumed while paused
    out.resume()
    assert wait_until(lambda: out.position() > frozen + 0.1)


def test_flush_restarts_position_at_seek_target(null_output: AudioOutput) -> None:
    out = null_output
    out.fifo.push(tone(2.0))
    out.start()
    assert wait_until(lambda: out.position() > 0.2)
    out.flush(42.0, epoch=1)
    assert out.fifo.fill == 0
    assert out.position() == 42.0
    time.sleep(0.1)
    assert out.position() == 42.0  # no data for the new epoch yet: frozen, not running on
    out.fifo.push(tone(1.0), pts=41.5, epoch=1)  # audio after the seek starts a little earlier
    assert wait_until(lambda: out.position() > 41.6)
    assert out.position() < 42.5


def test_underrun_plays_silence_and_stops_the_clock_at_the_data(null_output: AudioOutput) -> None:
    out = null_output
    data = tone(0.2)
    out.fifo.push(data, pts=0.0)
    out.start()
    assert wait_until(lambda: out.underruns >= 1)
    assert wait_until(lambda: out.position() >= 0.2 - 1e-9)
    end = out.position()
    assert end == pytest.approx(0.2, abs=1e-9)  # the clock stops exactly at the end of the data
    time.sleep(0.1)
    assert out.position() == end  # starved: the clock waits for data
    out.fifo.push(tone(0.3))
    assert wait_until(lambda: out.position() > end + 0.1)


def test_end_of_stream_keeps_the_clock_running(null_output: AudioOutput) -> None:
    out = null_output
    out.fifo.push(tone(0.1))
    out.fifo.end_of_stream()
    out.start()
    assert wait_until(lambda: out.position() > 0.3)
    assert out.underruns == 0


def test_volume_and_mute_change_the_gain(null_output: AudioOutput) -> None:
    out = null_output
    assert out.set_volume(250) == 100.0
    assert out.set_volume(50) == 50.0
    out.set_mute(True)
    assert out.muted and out.gain == 0.0
    out.set_mute(False)
    assert out.gain == pytest.approx(0.125)


def test_gain_is_applied_to_played_samples() -> None:
    out = AudioOutput(RATE, CHANNELS, ao="null", volume=50)
    try:
        data = tone(0.05)
        out.fifo.push(data)
        played = out._fill(len(data)).copy()  # what the device callback returns
        np.testing.assert_allclose(played, data * np.float32(0.125), rtol=1e-6)
        silent = out._fill(100)
        assert not silent.any()
    finally:
        out.close()


def test_callback_error_reaches_the_consumer(null_output: AudioOutput) -> None:
    out = null_output
    out.fifo.read_into = None  # break the data path inside the audio thread
    out.start()
    with pytest.raises(OutputError):
        assert wait_until(lambda: out.position() is None, timeout=2.0)


def test_close_stops_callbacks_and_wakes_a_blocked_producer() -> None:
    out = AudioOutput(RATE, CHANNELS, ao="null", fifo_seconds=0.1)
    out.start()
    assert wait_until(lambda: out.callbacks > 2)
    pushed: list[int] = []
    producer = threading.Thread(target=lambda: pushed.append(out.fifo.push(tone(5.0))))
    producer.start()
    time.sleep(0.05)
    out.close()
    producer.join(WAIT_S)
    assert not producer.is_alive() and pushed and pushed[0] < len(tone(5.0))
    count = out.callbacks
    time.sleep(0.1)
    assert out.callbacks == count  # miniaudio's thread is stopped
    out.close()  # idempotent
    with pytest.raises(OutputError):
        out.start()
