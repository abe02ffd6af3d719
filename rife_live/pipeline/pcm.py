"""Audio for playback: decoded audio frames -> float32 samples pushed into the audio output's FIFO.

Frames are resampled to float32 interleaved at the device rate and channel count, cut to the
play range [start, end) to the sample, and pushed with their pts (seconds on the decode thread's
timeline) and the current epoch. The push waits while the FIFO is full (the audio device plays it
down in real time) but gives up as soon as the decode thread has something more urgent to do
(``interrupted()``: a stop or a seek). When the audio output goes away, pushing stops and video
goes on. Export needs none of this: the encoder sink reads the source's audio itself.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Protocol

import av
import numpy as np

DEFAULT_PCM_RATE = 48000
DEFAULT_PCM_CHANNELS = 2
PUSH_WAIT_S = 0.1  # a push blocked on a full FIFO re-checks interrupted() this often
PCM_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}


def sample_window(pts: Fraction, count: int, rate: int, start: Fraction | None,
                  end: Fraction | None) -> tuple[int, int]:
    """The [first, last) sample indices of a block of ``count`` samples at ``pts`` that lie in
    [start, end) (either bound may be None)."""
    first, last = 0, count
    if start is not None and pts < start:
        first = min(count, int(-(-(start - pts) * rate // 1)))  # ceil
    if end is not None:
        last = max(first, min(count, int(-(-(end - pts) * rate // 1))))
    return first, last


class PcmTarget(Protocol):
    """The producer side of ``rife_live.audio.output.AudioFifo``."""

    def push(self, samples: np.ndarray, *, pts: float | None = None, epoch: int | None = None,
             timeout: float | None = None) -> int: ...

    def end_of_stream(self) -> None: ...

    def clear(self, epoch: int | None = None) -> None: ...

    @property
    def closed(self) -> bool: ...


class PcmFeed:
    """Feeds one ``PcmTarget`` from the decode thread (see the module text)."""

    def __init__(self, target: PcmTarget, interrupted: Callable[[], bool], rate: int = DEFAULT_PCM_RATE,
                 channels: int = DEFAULT_PCM_CHANNELS) -> None:
        self.rate = rate
        self.channels = channels
        self._target: PcmTarget | None = target
        self._interrupted = interrupted
        self._resampler: av.AudioResampler | None = None

    @property
    def open(self) -> bool:
        """False once the audio output went away."""
        return self._target is not None

    def new_epoch(self, epoch: int) -> None:
        """A seek or reconnect: drop what the FIFO holds and start resampling afresh."""
        if self._target is not None:
            self._target.clear(epoch)
        self._resampler = None

    def feed(self, frame: av.AudioFrame, pts_of: Callable[[av.AudioFrame], Fraction | None], epoch: int,
             start: Fraction | None, end: Fraction | None) -> None:
        """Resample ``frame`` and push the part of it in [start, end); ``pts_of`` places a
        resampled frame on the timeline."""
        if self._target is None:
            return
        if self._resampler is None:
            layout = PCM_LAYOUTS.get(self.channels, f"{self.channels}c")
            self._resampler = av.AudioResampler(format="flt", layout=layout, rate=self.rate)
        for out in self._resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1, self.channels)
            pts = pts_of(out)
            if pts is not None:
                first, last = sample_window(pts, len(samples), self.rate, start, end)
                samples = samples[first:last]
                pts += Fraction(first, self.rate)
            self._push(samples, pts, epoch)

    def _push(self, samples: np.ndarray, pts: Fraction | None, epoch: int) -> None:
        done = 0
        while done < len(samples) and not self._interrupted():
            target = self._target
            if target is None or target.closed:
                self._target = None  # the audio output went away: keep decoding video
                return
            done += target.push(samples[done:], pts=float(pts) if pts is not None and done == 0 else None,
                                epoch=epoch, timeout=PUSH_WAIT_S)

    def end(self) -> None:
        """No more audio for this epoch: the silence after it counts as time."""
        if self._target is not None:
            self._target.end_of_stream()
