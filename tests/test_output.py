"""audio/output.py: the FIFO, the gain, and the null device's played position as a clock.

The null backend plays at real-time pace, so these tests wait for the position to move with
Event-free polling of short sleeps; they assert direction and consistency, never wall-time bounds.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rife_live.audio.output import AudioFifo, AudioOutput, apply_gain, open_device, volume_gain
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
def test_volume_gain_curve() -> None:
    assert volume_gain(100) == 1.0
    assert volume_gain(0) == 0.0
    assert volume_gain(50) == pytest.approx(0.125)  # cubic
    assert volume_gain(150) == 1.0 and volume_gain(-5) == 0.0  # clamped
    assert volume_gain(80, muted=True) == 0.0


def test_apply_gain_scales_in_place() -> None:
    samples = tone(0.01)
    expected = samples * np.float32(0.125)
    result = apply_gain(samples, volume_gain(50))
    assert result is samples
    np.testing.assert_allclose(samples, expected, rtol=1e-6)


# -- FIFO -------------------------------------------------------------------------------------
def test_fifo_wraps_and_keeps_order() -> None:
    fifo = AudioFifo(CHANNELS, capacity_frames=10)
    data = np.arange(2 * 25, dtype=np.float32).reshape(-1, 2)
    out = np.empty((7, 2), np.float32)
    got_all = []
    assert fifo.push(data[:8]) == 8
    n, _ = fifo.read_into(out)
    got_all.append(out[:n].copy())
    assert fifo.push(data[8:17]) == 9  # wraps around the end of the buffer
    while fifo.fill:
        n, _ = fifo.read_into(out)
        got_all.append(out[:n].copy())
    np.testing.assert_array_equal(np.concatenate(got_all), data[:17])


def test_fifo_interleaved_input_and_channel_check() -> None:
    fifo = AudioFifo(CHANNELS, capacity_frames=8)
    assert fifo.push(np.arange(6, dtype=np.float64)) == 3  # 1-D interleaved, converted to float32
    out = np.empty((3, 2), np.float32)
    fifo.read_into(out)
    np.testing.assert_array_equal(out, [[0, 1], [2, 3], [4, 5]])
    with pytest.raises(ValueError):
        fifo.push(np.zeros((4, 3), np.float32))


def test_fifo_push_times_out_when_full() -> None:
    fifo = AudioFifo(CHANNELS, capacity_frames=4)
    assert fifo.push(np.zeros((6, 2), np.float32), timeout=0.05) == 4


def test_fifo_blocked_push_returns_on_flush_and_drops_old_epoch() -> None:
    fifo = AudioFifo(CHANNELS, capacity_frames=4)
    fifo.push(np.zeros((4, 2), np.float32))
    result: list[int] = []
    pusher = threading.Thread(target=lambda: result.append(fifo.push(np.ones((3, 2), np.float32), epoch=0)))
    pusher.start()
    time.sleep(0.05)
    fifo.clear(epoch=1)
    pusher.join(WAIT_S)
    assert not pusher.is_alive() and result == [0]
    assert fifo.fill == 0
    assert fifo.push(np.ones((2, 2), np.float32), epoch=0) == 0  # stale epoch: dropped
    assert fifo.push(np.ones((2, 2), np.float32), epoch=1) == 2
    with pytest.raises(ValueError):
        fifo.push(np.ones((1, 2), np.float32), epoch=2)  # not flushed to epoch 2 yet


def test_fifo_reports_first_pts_once_per_epoch() -> None:
    fifo = AudioFifo(CHANNELS, capacity_frames=16)
    fifo.push(np.zeros((4, 2), np.float32), pts=3.5)
    fifo.push(np.zeros((4, 2), np.float32), pts=9.0)  # later pushes are contiguous: ignored
    out = np.empty((2, 2), np.float32)
    assert fifo.read_into(out) == (2, 3.5)
    assert fifo.read_into(out) == (2, None)
    fifo.clear()
    fifo.push(np.zeros((4, 2), np.float32), pts=7.25)
    assert fifo.read_into(out) == (2, 7.25)


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
