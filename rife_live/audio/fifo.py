"""The audio FIFO between the decode thread and the audio device: bounded, thread-safe, with epochs."""

from __future__ import annotations

import threading
import time

import numpy as np

DEFAULT_CHANNELS = 2
DEFAULT_CAPACITY_FRAMES = 48000  # one second at the default device rate


class AudioFifo:
    """A bounded, thread-safe FIFO of float32 sample frames: one producer (decode), one consumer
    (the audio callback). The producer blocks while it is full; the consumer never blocks.

    Each flush starts a new *epoch*; pushes tagged with an older epoch are dropped, and a push
    blocked on a full FIFO returns as soon as the FIFO is flushed or closed.
    """

    def __init__(self, channels: int = DEFAULT_CHANNELS, capacity_frames: int = DEFAULT_CAPACITY_FRAMES) -> None:
        if channels < 1 or capacity_frames < 1:
            raise ValueError("an AudioFifo needs at least one channel and one frame of capacity")
        self.channels = channels
        self.capacity = capacity_frames
        self._buf = np.zeros((capacity_frames, channels), dtype=np.float32)
        self._cond = threading.Condition()
        self._start = 0  # index of the oldest frame
        self._fill = 0
        self._epoch = 0
        self._closed = False
        self._eof = False
        self._first_pts: float | None = None  # pts of the epoch's first sample, once pushed
        self._started = False  # whether the consumer has read anything in this epoch

    # -- producer side ------------------------------------------------------------------------
    def push(self, samples: np.ndarray, *, pts: float | None = None, epoch: int | None = None,
             timeout: float | None = None) -> int:
        """Append ``samples`` ((frames, channels) or interleaved 1-D), blocking while full.

        ``pts`` is the media time of the first sample; the first push of an epoch that gives one
        sets the clock's origin (later ones are taken as contiguous). ``epoch`` defaults to the
        current one; an older epoch is dropped. Returns the frames accepted: fewer than given only
        when ``timeout`` seconds passed without room, the FIFO was flushed to a newer epoch, or it
        was closed (push the rest, ``samples[accepted:]``, to retry).
        """
        frames = self._as_frames(samples)
        deadline = None if timeout is None else time.monotonic() + timeout
        written = 0
        with self._cond:
            if epoch is None:
                epoch = self._epoch
            if epoch > self._epoch:
                raise ValueError(f"audio pushed for epoch {epoch} before the output was flushed to it")
            if epoch < self._epoch or self._closed:
                return 0
            if pts is not None and self._first_pts is None and self._fill == 0 and not self._started:
                self._first_pts = float(pts)
            self._eof = False
            while written < len(frames):
                while self._fill == self.capacity:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return written
                    self._cond.wait(remaining)
                    if self._closed or epoch != self._epoch:
                        return written
                count = min(self.capacity - self._fill, len(frames) - written)
                self._write(frames[written:written + count])
                written += count
        return written

    def end_of_stream(self) -> None:
        """The producer has no more audio for this epoch: silence after it counts as time."""
        with self._cond:
            self._eof = True

    # -- consumer side ------------------------------------------------------------------------
    def read_into(self, out: np.ndarray) -> tuple[int, float | None]:
        """Move up to ``len(out)`` frames into ``out`` without blocking.

        Returns (frames read, the epoch's first pts if this read is the epoch's first, else None).
        """
        with self._cond:
            count = min(len(out), self._fill)
            first = self._start
            head = min(count, self.capacity - first)
            out[:head] = self._buf[first:first + head]
            out[head:count] = self._buf[:count - head]
            self._start = (first + count) % self.capacity
            self._fill -= count
            first_pts = None
            if count and not self._started:
                self._started = True
                first_pts = self._first_pts
            if count:
                self._cond.notify_all()
            return count, first_pts

    # -- control ------------------------------------------------------------------------------
    def clear(self, epoch: int | None = None) -> None:
        """Drop every buffered frame and start a new epoch (``epoch``, or the current one + 1)."""
        with self._cond:
            new_epoch = self._epoch + 1 if epoch is None else epoch
            if new_epoch < self._epoch:
                raise ValueError(f"cannot flush back to epoch {new_epoch} from {self._epoch}")
            self._epoch = new_epoch
            self._start = 0
            self._fill = 0
            self._eof = False
            self._first_pts = None
            self._started = False
            self._cond.notify_all()

    def close(self) -> None:
        """Wake a blocked producer; later pushes are refused."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def fill(self) -> int:
        with self._cond:
            return self._fill

    @property
    def epoch(self) -> int:
        with self._cond:
            return self._epoch

    @property
    def eof(self) -> bool:
        with self._cond:
            return self._eof

    @property
    def closed(self) -> bool:
        with self._cond:
            return self._closed

    def _as_frames(self, samples: np.ndarray) -> np.ndarray:
        frames = np.asarray(samples, dtype=np.float32)
        if frames.ndim == 1:
            if frames.size % self.channels:
                raise ValueError(f"{frames.size} interleaved samples are not whole {self.channels}-channel frames")
            frames = frames.reshape(-1, self.channels)
        if frames.ndim != 2 or frames.shape[1] != self.channels:
            raise ValueError(f"audio samples of shape {frames.shape} do not have {self.channels} channels")
        return frames

    def _write(self, frames: np.ndarray) -> None:
        end = (self._start + self._fill) % self.capacity
        head = min(len(frames), self.capacity - end)
        self._buf[end:end + head] = frames[:head]
        self._buf[:len(frames) - head] = frames[head:]
        self._fill += len(frames)
