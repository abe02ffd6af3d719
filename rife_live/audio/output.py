"""Audio output: a bounded sample FIFO, a miniaudio playback device (or the null device), and the
played position that is the player's master clock (DESIGN.md §2, §4).

Data path: the decode thread ``push``es float32 samples (device rate, interleaved channels) into an
``AudioFifo``; miniaudio's audio thread pulls them through a generator, applies the software gain and
counts what it supplied. ``AudioOutput.position()`` turns that count into seconds of media time.

Position model. ``position = base_pts + (frames supplied - latency) / rate``, interpolated with the
wall clock between two device callbacks (a callback supplies a whole period, 20 ms by default: too
coarse to time 60 fps video by itself) and capped at what was supplied, so it never runs ahead of
the data. It is accurate to about one device period; ``latency_s`` tunes the constant part (the
miniaudio bindings do not report a device's latency, so the default estimate is one period, which is
what the null device buffers).

Underrun (the FIFO is empty while the stream has not ended): the device plays silence and the clock
stops at the end of the data it has played. A video player needs this: the presenter shows frames
due on this clock, so when decoding stalls the picture waits for the sound instead of drifting away
from it, and A/V sync is intact when data comes back (mpv likewise lets its audio position drive
video and does not count silence it inserts). After ``AudioFifo.end_of_stream()`` the silence counts
as time, so a video that outlasts its audio track keeps playing on the same clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator

import miniaudio
import numpy as np

from rife_live.audio.fifo import AudioFifo
from rife_live.audio.volume import MAX_VOLUME, apply_gain, volume_gain
from rife_live.errors import OutputError

DEFAULT_SAMPLE_RATE = 48000
DEFAULT_CHANNELS = 2
DEFAULT_PERIOD_MS = 20  # one device callback; also the default latency estimate
DEFAULT_FIFO_SECONDS = 1.0  # FIFO capacity: how far decoding may run ahead of the speakers
MS_PER_SECOND = 1000
AO_CHOICES = ("auto", "null")

Log = Callable[[str], None]


def _default_log(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def open_device(ao: str, sample_rate: int, channels: int, period_ms: int,
                log: Log = _default_log) -> miniaudio.PlaybackDevice:
    """A float32 playback device: the system's (``ao="auto"``), else miniaudio's null device,
    which plays at real-time pace. Falling back is said in one ``log`` line."""
    if ao not in AO_CHOICES:
        raise OutputError(f"--ao must be one of {', '.join(AO_CHOICES)}, not '{ao}'")

    def make(backends: list[miniaudio.Backend] | None) -> miniaudio.PlaybackDevice:
        return miniaudio.PlaybackDevice(output_format=miniaudio.SampleFormat.FLOAT32, nchannels=channels,
                                        sample_rate=sample_rate, buffersize_msec=period_ms,
                                        backends=backends, app_name="rife-live")

    if ao == "auto":
        try:
            return make(None)
        except miniaudio.MiniaudioError as exc:
            log(f"audio: no output device opened ({exc.args[0] if exc.args else exc}); "
                "playing to the null output (silent, real-time pace)")
    try:
        return make([miniaudio.Backend.NULL])
    except miniaudio.MiniaudioError as exc:
        raise OutputError(f"audio: even the null output failed to open: {exc}") from exc


class AudioOutput:
    """Plays float32 samples from its ``fifo`` and reports the played position (seconds).

    Owner: the player. ``start()`` begins pulling (miniaudio's thread calls back), ``close()`` stops
    the device (miniaudio joins its thread) and wakes a producer blocked on the FIFO. An error inside
    the callback is stored and re-raised (as ``OutputError``) by ``position()`` and ``check()``.
    """

    def __init__(self, sample_rate: int = DEFAULT_SAMPLE_RATE, channels: int = DEFAULT_CHANNELS, *,
                 ao: str = "auto", period_ms: int = DEFAULT_PERIOD_MS,
                 fifo_seconds: float = DEFAULT_FIFO_SECONDS, volume: float = MAX_VOLUME, mute: bool = False,
                 latency_s: float | None = None, start_pts: float = 0.0, log: Log = _default_log) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.fifo = AudioFifo(channels, max(1, round(fifo_seconds * sample_rate)))
        self._device = open_device(ao, sample_rate, channels, period_ms, log)
        self.backend: str = self._device.backend
        latency = period_ms / MS_PER_SECOND if latency_s is None else latency_s
        self._latency_frames = round(latency * sample_rate)
        self._lock = threading.Lock()
        self._out = np.zeros((0, channels), dtype=np.float32)
        self._volume = min(max(float(volume), 0.0), MAX_VOLUME)
        self._muted = mute
        self._gain = volume_gain(self._volume, mute)
        self._running = False
        self._paused = False
        self._error: BaseException | None = None
        self._underruns = 0
        self._starved = True
        self._callbacks = 0
        self._reset_position(float(start_pts), time.perf_counter())

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start the device: the clock runs from here (frozen until the first samples play)."""
        with self._lock:
            if self._device is None:
                raise OutputError("audio: the output was closed and cannot be started again")
            if self._running:
                return
            self._running = True
            self._anchor_t = time.perf_counter()
        generator = self._generate()
        next(generator)
        self._device.start(generator)

    def close(self) -> None:
        """Stop and release the device (joins miniaudio's thread) and close the FIFO. Idempotent."""
        self.fifo.close()
        with self._lock:
            if self._running:
                self._frozen = self._position_locked(time.perf_counter())
            self._running = False
        if self._device is not None:
            self._device.close()
            self._device = None

    def __enter__(self) -> AudioOutput:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- commands -----------------------------------------------------------------------------
    def pause(self) -> None:
        """Output silence and freeze the position (the device keeps running: resuming is instant)."""
        with self._lock:
            if not self._paused:
                self._frozen = self._position_locked(time.perf_counter())
                self._paused = True

    def resume(self) -> None:
        with self._lock:
            if self._paused:
                self._paused = False
                self._anchor_pos = self._last = self._frozen
                self._anchor_t = time.perf_counter()

    def flush(self, pts: float, epoch: int | None = None) -> None:
        """On seek: drop buffered audio and restart the position at ``pts`` (or at the pts of the
        first sample pushed for the new epoch, when that push gives one)."""
        with self._lock:
            self.fifo.clear(epoch)
            self._reset_position(float(pts), time.perf_counter())
            self._starved = True

    def set_volume(self, volume: float) -> float:
        """Set the software volume (clamped to 0-100 percent); returns the value in effect."""
        with self._lock:
            self._volume = min(max(float(volume), 0.0), MAX_VOLUME)
            self._gain = volume_gain(self._volume, self._muted)
            return self._volume

    def set_mute(self, muted: bool) -> None:
        with self._lock:
            self._muted = bool(muted)
            self._gain = volume_gain(self._volume, self._muted)

    # -- queries ------------------------------------------------------------------------------
    def position(self) -> float:
        """Seconds of media time played: monotonic while playing, frozen while paused."""
        self.check()
        with self._lock:
            return self._position_locked(time.perf_counter())

    def check(self) -> None:
        """Re-raise an error that happened in the audio callback."""
        if self._error is not None:
            raise OutputError(f"audio output failed: {self._error}") from self._error

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def volume(self) -> float:
        return self._volume

    @property
    def muted(self) -> bool:
        return self._muted

    @property
    def gain(self) -> float:
        """The linear gain applied to samples now (volume curve and mute)."""
        return self._gain

    @property
    def underruns(self) -> int:
        """How many times playback ran out of data before the end of the stream."""
        return self._underruns

    @property
    def callbacks(self) -> int:
        """Device callbacks served so far (a liveness counter for tests and stats)."""
        return self._callbacks

    # -- internals ----------------------------------------------------------------------------
    def _reset_position(self, pts: float, now: float) -> None:
        self._base = pts
        self._frames = 0
        self._anchor_pos = pts
        self._anchor_t = now
        self._cap = pts
        self._last = pts
        self._frozen = pts

    def _position_locked(self, now: float) -> float:
        if self._paused or not self._running:
            return self._frozen
        position = min(self._anchor_pos + (now - self._anchor_t), self._cap)
        self._last = max(position, self._last)
        return self._last

    def _advance_locked(self, frames: int, now: float) -> None:
        """Count ``frames`` supplied at ``now`` (counted data, or post-EOF silence) and move the
        interpolation anchor and its cap."""
        if frames == 0:
            # Starved: the device asks for more, so what it held is being heard now. The clock keeps
            # interpolating up to the end of the data supplied, and stops there.
            self._cap = self._base + self._frames / self.sample_rate
            return
        current = self._position_locked(now)
        heard_before = self._base + (self._frames - self._latency_frames) / self.sample_rate
        self._frames += frames
        self._cap = self._base + max(0, self._frames - self._latency_frames) / self.sample_rate
        self._anchor_pos = min(max(current, heard_before), self._cap)
        self._anchor_t = now

    def _buffer(self, frames: int) -> np.ndarray:
        if len(self._out) < frames:
            self._out = np.zeros((frames, self.channels), dtype=np.float32)
        return self._out[:frames]

    def _fill(self, frames: int) -> np.ndarray:
        out = self._buffer(frames)
        now = time.perf_counter()
        with self._lock:
            self._callbacks += 1
            if self._paused:
                out[:] = 0.0
                return out
            got, first_pts = self.fifo.read_into(out)
            if first_pts is not None and self._frames == 0:
                self._reset_position(first_pts, now)
            out[got:] = 0.0
            counted = got
            if got < frames:
                if self.fifo.eof:
                    counted = frames
                elif not self._starved:
                    self._underruns += 1
            self._starved = got < frames and not self.fifo.eof
            self._advance_locked(counted, now)
            gain = self._gain
        apply_gain(out[:got], gain)
        return out

    def _generate(self) -> Generator[np.ndarray | bytes, int, None]:
        frames = yield b""
        while True:
            try:
                samples = self._fill(frames)
            except Exception as exc:  # reaches the consumer through check()/position()
                self._error = exc
                samples = self._buffer(frames)
                samples[:] = 0.0
            frames = yield samples
