"""audio/fifo.py: the bounded sample FIFO between the decode thread and the audio device."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from rife_live.audio.fifo import AudioFifo

CHANNELS = 2
WAIT_S = 5.0


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
