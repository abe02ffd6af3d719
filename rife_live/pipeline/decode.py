"""The decode thread: a ``Source`` -> RGB frames in ring A (+ audio for playback or export).

Owner: the player (or the export pipeline) creates a ``DecodeThread`` with an opened ``Source``
and ring A (``make_frame_ring``), calls ``start()``, and at shutdown ``stop()`` + ``join()``. The
thread owns the source from ``start()`` on and closes it when it ends; it closes ring A when the
input ends (the consumer drains it, then gets ``RingClosed``) or with the error that ended it
(re-raised in the consumer's thread by ``Ring.peek``).

Video. Every frame is converted to RGB24 uint8 (H, W, 3) with the stream's matrix
(``VideoInfo.colorspace``), 10-bit sources included, turned upright (``VideoInfo.rotation``) and
written into the slot that ``Ring.claim`` hands out; a mid-stream size change is scaled to the
slot's size. ``FrameMeta.pts`` is exact seconds (``Fraction``) from the source's time origin: the
first video frame of the input is 0 (``Source.origin``; kept across seeks, so a seek to 2 s gives
frames at 2 s). A frame without pts gets the previous pts + 1/fps (0 for the first), as does a pts
that does not increase (counted in ``stats.pts_repaired``), so the consumer always sees strictly
increasing times.

Range (``--start`` / ``--end`` seconds): the thread seeks to ``start`` and delivers every frame on
screen at some time in [start, end): from the last frame with pts <= start up to the last one with
pts < end. Audio is cut to the same range (sample-exact for playback PCM; whole frames/packets
that overlap it for export, which carry their pts so the sink can trim).

Audio, two ways (either, both or neither):
- playback: ``pcm=`` an object with ``AudioFifo``'s producer interface (``rife_live.audio.output``):
  frames are resampled to float32 interleaved at ``pcm_rate`` / ``pcm_channels`` and pushed with
  their pts and the current epoch; ``end_of_stream()`` at the end. The audio output pulls.
- export: ``audio_queue=`` an ``AudioQueue``: decoded ``av.AudioFrame``s (to re-encode), or with
  ``DecodeOptions.audio_packets`` the demuxed ``av.Packet``s (to copy the stream: less work and
  no generation loss), each wrapped in an ``AudioItem`` with its pts from the same origin.

Errors. Packets that fail to decode are skipped and counted (``stats.corrupt_packets``): live
sources join mid-stream and the first packets always fail. Any other error ends the thread and
closes ring A (and the audio queue) with it; FFmpeg/OS errors become a one-line ``InputError``.
A live source that drops (read error or end of stream) is reopened with backoff
(``source.reconnect``); each reconnect starts a new epoch and the timeline continues one frame
after the last decoded one (delivered, or skipped as stale). A live stream whose pts jump by more than ``LIVE_MAX_JUMP_S`` (a
UDP sender restarted within the read timeout, an encoder's clock reset) is handled the same way
without reopening: new epoch, timeline continued, counted in ``stats.discontinuities``.

Live latency. A realtime source (``Source.realtime``: network, webcam) does not wait for a slow
reader: blocking the demuxer would only move the backlog into socket buffers (stale frames shown
ever later, then a burst of losses). With ``DecodeOptions.drop_stale`` (default: on for realtime
sources) a frame that finds ring A full is decoded (later frames reference it) but not converted
or queued: it is skipped and counted in ``stats.dropped_stale``. The decode side's backlog is then
at most ring A's capacity; the frames kept are the oldest (only the consumer may free slots).

Seeking (``request_seek``): handled between frames by the thread itself: new epoch, ring A
``reset``, PCM target and audio queue cleared, ``Source.seek``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, Union

import av
import av.error
import numpy as np
from av.video.reformatter import VideoReformatter

from rife_live.errors import InputError, RifeError
from rife_live.frames import FrameMeta, VideoInfo
from rife_live.pipeline import source as source_mod
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.source import Source

POLL_S = 0.1  # a blocked producer re-checks stop and seek requests this often (a timed wait, no spin)
DEFAULT_JOIN_TIMEOUT_S = 5.0
DEFAULT_AUDIO_QUEUE_ITEMS = 256  # ~5 s of AAC frames: room for the demuxer's audio/video interleave
DEFAULT_PCM_RATE = 48000
DEFAULT_PCM_CHANNELS = 2
FALLBACK_FPS = Fraction(25)  # for pts repair when the stream states no rate
LIVE_MAX_JUMP_S = Fraction(1)  # a live pts jump larger than this (either way) is a discontinuity

# VideoInfo.colorspace -> swscale's name for the matrix (PyAV's Colorspace enum).
SWS_MATRICES = {"bt709": "itu709", "bt601": "itu601", "bt2020": "bt2020", "smpte240m": "smpte240m", "fcc": "fcc"}
PCM_LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}

AudioPayload = Union[av.AudioFrame, av.Packet]


# --- frame conversion ---------------------------------------------------------------------------


def make_frame_ring(video: VideoInfo, capacity: int) -> Ring[np.ndarray]:
    """Ring A for ``video``: ``capacity`` preallocated uint8 (height, width, 3) slots."""
    return Ring(capacity, lambda _i: np.zeros((video.height, video.width, 3), np.uint8))


def convert_frame(frame: av.VideoFrame, out: np.ndarray, *, colorspace: str, rotation: int,
                  reformatter: VideoReformatter | None = None) -> None:
    """Write ``frame`` as upright RGB24 into ``out`` (H, W, 3 uint8, the upright size).

    YUV is converted with ``colorspace``'s matrix (the frame's own range: limited or full);
    ``rotation`` is clockwise degrees; a stored size that does not match ``out`` is scaled to it.
    """
    height, width = out.shape[:2]
    stored_w, stored_h = (height, width) if rotation in (90, 270) else (width, height)
    scale = frame.width != stored_w or frame.height != stored_h
    rgb = (reformatter or VideoReformatter()).reformat(
        frame,
        width=stored_w if scale else None,
        height=stored_h if scale else None,
        format="rgb24",
        src_colorspace=SWS_MATRICES.get(colorspace),
    ).to_ndarray()
    if rotation:
        rgb = np.rot90(rgb, k=-(rotation // 90))
    np.copyto(out, rgb)


def next_pts(pts: Fraction | None, previous: Fraction | None, step: Fraction) -> tuple[Fraction, bool]:
    """The pts to publish: ``pts`` itself when it increases, else previous + step (0 for the first
    frame without pts). Returns (pts, repaired)."""
    if pts is not None and (previous is None or pts > previous):
        return pts, False
    if previous is None:
        return Fraction(0), pts is not None and pts != 0
    return previous + step, True


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


# --- audio for export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AudioItem:
    """One decoded audio frame or demuxed packet, with its pts (seconds from the source origin)."""

    pts: Fraction | None
    epoch: int
    payload: AudioPayload


class AudioQueueClosed(Exception):
    """The audio queue is closed and drained."""


class AudioQueue:
    """A bounded FIFO of ``AudioItem`` from the decode thread to an export sink.

    ``put`` blocks while full (up to ``timeout``); ``get`` blocks while empty (up to ``timeout``,
    None on timeout) and, once the queue is closed and drained, raises the error given to
    ``close`` or ``AudioQueueClosed``. ``clear(epoch)`` drops everything older than ``epoch``.
    """

    def __init__(self, capacity: int = DEFAULT_AUDIO_QUEUE_ITEMS) -> None:
        if capacity < 1:
            raise ValueError(f"audio queue capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._items: deque[AudioItem] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None
        self._epoch = 0

    def put(self, item: AudioItem, timeout: float | None = None) -> bool:
        """Append ``item``; False if no room came within ``timeout``. Dropped if stale; raises
        ``AudioQueueClosed`` once closed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed and len(self._items) >= self.capacity:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
            if self._closed:
                raise AudioQueueClosed("audio queue closed")
            if item.epoch >= self._epoch:
                self._items.append(item)
                self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> AudioItem | None:
        """The oldest item (None on timeout); raises after close once drained."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._items:
                if self._closed:
                    if self._error is not None:
                        raise self._error
                    raise AudioQueueClosed("audio queue closed")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining)
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def clear(self, epoch: int) -> None:
        """Start ``epoch``: drop queued items and later puts of older epochs."""
        with self._cond:
            self._epoch = max(self._epoch, epoch)
            self._items = deque(i for i in self._items if i.epoch >= self._epoch)
            self._cond.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """End of audio (or ``error``): wakes both sides. The first error is kept."""
        with self._cond:
            self._closed = True
            if error is not None and self._error is None:
                self._error = error
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class PcmTarget(Protocol):
    """The producer side of ``rife_live.audio.output.AudioFifo``."""

    def push(self, samples: np.ndarray, *, pts: float | None = None, epoch: int | None = None,
             timeout: float | None = None) -> int: ...

    def end_of_stream(self) -> None: ...

    def clear(self, epoch: int | None = None) -> None: ...

    @property
    def closed(self) -> bool: ...


# --- the thread ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecodeOptions:
    """``start``/``end``: seconds from the source origin (None: from the beginning / to the end).
    ``audio_packets``: the audio queue gets demuxed packets (stream copy) instead of frames.
    ``drop_stale``: skip (and count) frames that find ring A full instead of waiting for a slot;
    None: on for realtime sources (``Source.realtime``), off otherwise."""

    start: float | Fraction | None = None
    end: float | Fraction | None = None
    audio_packets: bool = False
    pcm_rate: int = DEFAULT_PCM_RATE
    pcm_channels: int = DEFAULT_PCM_CHANNELS
    drop_stale: bool | None = None


@dataclass
class DecodeStats:
    """Counters written by the decode thread only (others may read them at any time)."""

    frames: int = 0
    corrupt_packets: int = 0
    pts_repaired: int = 0
    resized: int = 0
    audio_items: int = 0
    reconnects: int = 0
    dropped_stale: int = 0  # live frames skipped because ring A was full (the consumer fell behind)
    discontinuities: int = 0  # live pts jumps handled as a new epoch (without a reconnect)


Reconnector = Callable[[Source, threading.Event], Union[Source, None]]


def default_reconnect(old: Source, stop: threading.Event) -> Source | None:
    """Reopen ``old``'s target with backoff (``source.reconnect``); None when stopped."""
    return source_mod.reconnect(old.target, old.options, stop)


_STOP, _SEEK, _END, _EOF = "stop", "seek", "end", "eof"


class DecodeThread:
    """Decodes ``source`` into ``ring`` (and audio into ``pcm`` / ``audio_queue``) on its own thread."""

    def __init__(self, source: Source, ring: Ring[np.ndarray], options: DecodeOptions | None = None, *,
                 pcm: PcmTarget | None = None, audio_queue: AudioQueue | None = None,
                 reconnect: Reconnector = default_reconnect, name: str = "rife-decode") -> None:
        self.options = options or DecodeOptions()
        self.stats = DecodeStats()
        self._source = source
        self._ring = ring
        self._pcm = pcm if source.audio_stream is not None else None
        self._queue = audio_queue
        self._reconnect = reconnect
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seek_to: Fraction | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._epoch = ring.epoch
        self._video = source.video
        self._start = _fraction(self.options.start)
        self._end = _fraction(self.options.end)
        self._step = Fraction(1) / (source.video.fps or FALLBACK_FPS)
        self._last_pts: Fraction | None = None
        self._last_seen: Fraction | None = None  # live: the last decoded frame's pts, delivered or not
        self._time_shift = Fraction(0)  # added to pts after a live reconnect (continuous timeline)
        self._corrupt_before = 0  # corrupt packets counted by the sources closed on reconnects
        drop = self.options.drop_stale
        self._drop_stale = source.realtime if drop is None else drop
        self._index = 0
        self._reformatter = VideoReformatter()
        self._resampler: av.AudioResampler | None = None
        self._video_done = False
        self._audio_done = False
        self.error: BaseException | None = None
        self.consumer_closed = False

    # -- control (any thread) ------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self._epoch

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end soon (it closes ring A and the audio queue on its way out)."""
        self._stop.set()

    def join(self, timeout: float | None = DEFAULT_JOIN_TIMEOUT_S) -> bool:
        """Wait for the thread; True once it has ended."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def request_seek(self, position: float | Fraction) -> None:
        """Seek to ``position`` seconds (files and image folders); handled by the thread."""
        if self._source.is_live:
            raise InputError("cannot seek in a live source")
        with self._lock:
            self._seek_to = Fraction(position) if not isinstance(position, float) else _fraction(position)

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            if self._start is not None and self._start > 0:
                self._source.seek(self._start)
            if self._source.audio_stream is None or (self._pcm is None and self._queue is None):
                self._audio_done = True
            self._loop()
        except RingClosed:
            self.consumer_closed = True  # the consumer closed ring A: nothing more is wanted
        except BaseException as exc:  # reaches the consumer through the ring (re-raised there)
            error = _user_error(exc, self._source.target)
            self.error = error
        finally:
            self._finish(error)

    def _loop(self) -> None:
        while True:
            outcome = self._pump()
            if outcome == _STOP:
                return
            if outcome == _SEEK:
                self._do_seek()
                continue
            if outcome == _END:
                return
            if not self._source.is_live:
                return  # end of file
            if not self._reopen():
                return

    def _pump(self) -> str:
        """Run the source's items until stop, a seek request, the end of the range, or the input's
        end. A live source's read errors count as its end (the caller reconnects)."""
        try:
            for item in self._source.items(audio_packets=self.options.audio_packets):
                if self._stop.is_set():
                    return _STOP
                if self._seek_to is not None:
                    return _SEEK
                if isinstance(item, av.VideoFrame):
                    self._on_video(item)
                else:
                    self._on_audio(item)
                if self._video_done and self._audio_done:
                    return _END
        except (av.error.FFmpegError, OSError):
            if not self._source.is_live:
                raise
        self.stats.corrupt_packets = self._corrupt_before + self._source.corrupt_packets
        if self._stop.is_set():
            return _STOP
        return _SEEK if self._seek_to is not None else _EOF

    def _on_video(self, frame: av.VideoFrame) -> None:
        self.stats.corrupt_packets = self._corrupt_before + self._source.corrupt_packets
        if self._video_done:
            return
        raw = self._source.relative_time(frame)
        if raw is not None and self._source.is_live:
            if self._last_seen is not None and abs(raw + self._time_shift - self._last_seen) > LIVE_MAX_JUMP_S:
                self._new_epoch()  # as after a reconnect: the timeline continues one frame on
                self._time_shift = self._last_seen + self._step - raw
                self.stats.discontinuities += 1
            self._last_seen = raw + self._time_shift  # dropped frames too: a drop is no jump
        pts, repaired = next_pts(None if raw is None else raw + self._time_shift, self._last_pts, self._step)
        self.stats.pts_repaired += repaired
        if self._end is not None and pts >= self._end:
            self._video_done = True
            self._source.decode_video = False
            return
        if self._drop_stale:
            slot = self._ring.claim(timeout=0)
            if slot is None:
                self.stats.dropped_stale += 1  # the consumer is behind: this frame would be stale
                return
        else:
            slot = self._claim()
            if slot is None:
                return  # stopping or seeking: this frame is not wanted any more
        if (frame.width, frame.height) != _stored_size(self._video):
            self.stats.resized += 1
        convert_frame(frame, slot, colorspace=self._video.colorspace, rotation=self._video.rotation,
                      reformatter=self._reformatter)
        duration = source_mod.seconds(frame.duration, frame.time_base) if frame.duration else None
        self._ring.publish(FrameMeta(pts=pts, epoch=self._epoch, source_index=self._index, duration=duration))
        self._last_pts = pts
        self._index += 1
        self.stats.frames += 1

    def _claim(self) -> np.ndarray | None:
        while not self._stop.is_set() and self._seek_to is None:
            slot = self._ring.claim(timeout=POLL_S)
            if slot is not None:
                return slot
        return None

    # -- audio ---------------------------------------------------------------------------------

    def _on_audio(self, item: AudioPayload) -> None:
        if self._audio_done:
            return
        pts = self._source.relative_time(item)
        if pts is not None:
            pts += self._time_shift
        if self._end is not None and pts is not None and pts >= self._end:
            self._audio_done = True
            return
        if self._queue is not None:
            self._queue_put(AudioItem(pts, self._epoch, item))
        if self._pcm is not None and isinstance(item, av.AudioFrame):
            self._push_pcm(item)
        self.stats.audio_items += 1

    def _queue_put(self, item: AudioItem) -> None:
        assert self._queue is not None
        while not self._stop.is_set() and self._seek_to is None:
            if self._queue.put(item, timeout=POLL_S):
                return

    def _push_pcm(self, frame: av.AudioFrame) -> None:
        assert self._pcm is not None
        if self._resampler is None:
            layout = PCM_LAYOUTS.get(self.options.pcm_channels, f"{self.options.pcm_channels}c")
            self._resampler = av.AudioResampler(format="flt", layout=layout, rate=self.options.pcm_rate)
        for out in self._resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1, self.options.pcm_channels)
            pts = self._source.relative_time(out)
            if pts is not None:
                pts += self._time_shift
                first, last = sample_window(pts, len(samples), self.options.pcm_rate, self._start, self._end)
                samples = samples[first:last]
                pts += Fraction(first, self.options.pcm_rate)
            self._push_samples(samples, pts)

    def _push_samples(self, samples: np.ndarray, pts: Fraction | None) -> None:
        assert self._pcm is not None
        done = 0
        while done < len(samples) and not self._stop.is_set() and self._seek_to is None:
            if self._pcm.closed:
                self._pcm = None  # the audio output went away: keep decoding video
                return
            done += self._pcm.push(samples[done:], pts=float(pts) if pts is not None and done == 0 else None,
                                   epoch=self._epoch, timeout=POLL_S)

    # -- seek, reconnect, end ------------------------------------------------------------------

    def _new_epoch(self) -> None:
        self._epoch += 1
        self._ring.reset(self._epoch)
        if self._pcm is not None:
            self._pcm.clear(self._epoch)
        if self._queue is not None:
            self._queue.clear(self._epoch)
        self._index = 0
        self._resampler = None

    def _do_seek(self) -> None:
        with self._lock:
            target, self._seek_to = self._seek_to, None
        assert target is not None
        self._new_epoch()
        self._source.seek(target)
        self._source.decode_video = True
        self._last_pts = None
        self._start = target
        self._video_done = False
        self._audio_done = self._source.audio_stream is None or (self._pcm is None and self._queue is None)

    def _reopen(self) -> bool:
        """Reconnect a dropped live source; False when stopped while trying."""
        old = self._source
        self._corrupt_before += old.corrupt_packets
        old.close()
        new = self._reconnect(old, self._stop)
        if new is None:
            return False
        self._source = new
        self.stats.reconnects += 1
        self._new_epoch()
        # Continue the timeline one frame after the last decoded frame (delivered or skipped).
        last = self._last_seen if self._last_seen is not None else self._last_pts  # skipped frames count
        self._time_shift = Fraction(0) if last is None else last + self._step
        return True

    def _finish(self, error: BaseException | None) -> None:
        self._ring.close(error)
        if self._queue is not None:
            self._queue.close(error)
        if self._pcm is not None and error is None:
            self._pcm.end_of_stream()
        self._source.close()


# --- helpers ------------------------------------------------------------------------------------


def _fraction(value: float | Fraction | None) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    return Fraction(value)


def _stored_size(video: VideoInfo) -> tuple[int, int]:
    return (video.height, video.width) if video.rotation in (90, 270) else (video.width, video.height)


def _user_error(exc: BaseException, target: str) -> BaseException:
    """The error the consumer sees: RifeErrors as they are, FFmpeg/OS errors as one InputError line,
    anything else (a bug) untouched so its traceback survives."""
    if isinstance(exc, (RifeError, RingClosed)):
        return exc
    if isinstance(exc, (av.error.FFmpegError, OSError)):
        reason = getattr(exc, "strerror", None) or str(exc)
        wrapped = InputError(f"decoding {target} failed: {reason}")
        wrapped.__cause__ = exc
        return wrapped
    return exc
