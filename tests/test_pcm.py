"""pipeline/pcm.py: playback audio cut to the play range to the sample, and its FIFO push."""

from __future__ import annotations

import threading
from fractions import Fraction

import av
import numpy as np

from rife_live.audio.fifo import AudioFifo
from rife_live.pipeline.pcm import PcmFeed, sample_window
from tests import media

RATE = 48000


def test_sample_window() -> None:
    assert sample_window(Fraction(0), 1024, RATE, None, None) == (0, 1024)
    assert sample_window(Fraction(0), 1024, RATE, Fraction(1, 100), None) == (480, 1024)
    assert sample_window(Fraction(1), 1024, RATE, Fraction(0), Fraction(1) + Fraction(100, RATE)) == (0, 100)
    assert sample_window(Fraction(2), 1024, RATE, None, Fraction(1)) == (0, 0)


def _tone_frame(samples: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(media.tone(samples, 2), format="fltp", layout="stereo")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = Fraction(1, RATE)
    return frame


def test_feed_cuts_to_the_range_and_stamps_the_first_sample() -> None:
    fifo = AudioFifo(2, RATE)
    feed = PcmFeed(fifo, lambda: False)
    frame = _tone_frame(1024, 0)
    pts_of = lambda out: Fraction(out.pts, RATE) if out.pts is not None else None  # noqa: E731
    feed.feed(frame, pts_of, 0, start=Fraction(100, RATE), end=Fraction(600, RATE))
    out = np.zeros((1024, 2), np.float32)
    count, first_pts = fifo.read_into(out)
    assert count <= 500 and first_pts == 100 / RATE
    assert np.allclose(out[:count, 0], media.tone(1024, 2)[0, 100:100 + count], atol=1e-3)


def test_feed_gives_up_when_interrupted_and_when_the_output_closes() -> None:
    fifo = AudioFifo(2, 256)  # smaller than one frame: the push has to wait for room
    stop = threading.Event()
    feed = PcmFeed(fifo, stop.is_set)
    stop.set()
    feed.feed(_tone_frame(1024, 0), lambda out: None, 0, None, None)  # returns at once: nothing pushed
    assert fifo.fill == 0
    stop.clear()
    fifo.close()
    feed.feed(_tone_frame(1024, 0), lambda out: None, 0, None, None)
    assert not feed.open  # the audio output went away: video goes on without it
