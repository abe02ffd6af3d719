"""The decode thread: a ``Source`` -> RGB frames in ring A, and audio into the player's FIFO.

Owner: the pipeline (``pipeline.build``) creates a ``DecodeThread`` with an opened ``Source`` and
ring A, calls ``start()``, and at shutdown ``stop()`` + ``join()``. The thread owns the source from
``start()`` on and closes it when it ends; it closes ring A when the input ends (the consumer
drains it, then gets ``RingClosed``) or with the error that ended it (re-raised in the consumer's
thread by ``Ring.peek``).

The work is in units, each its own module: ``convert.FrameConverter`` (a decoded picture -> an
upright RGB slot), ``timeline.Timeline`` (exact increasing pts, live continuity across drops and
jumps) and ``pcm.PcmFeed`` (audio for playback). This module is the loop around them: items from
the source, the play range, seeks, reconnects and epochs.

Range (``--start`` / ``--end`` seconds): the thread seeks to ``start`` and delivers every frame on
screen at some time in [start, end): from the last frame with pts <= start up to the last one with
pts < end. Playback audio is cut to the same range, to the sample.

Errors. Packets that fail to decode are skipped and counted (``stats.corrupt_packets``): live
sources join mid-stream and the first packets always fail. Any other error ends the thread and
closes ring A with it; FFmpeg/OS errors become a one-line ``InputError``. A live source that drops
(read error or end of stream) is reopened with backoff (``drivers.reconnect``); each reconnect
starts a new epoch, as does a live pts jump (``Timeline``).

Live latency. A realtime source (``Source.realtime``: network, webcam) does not wait for a slow
reader: blocking the demuxer would only move the backlog into socket buffers (stale frames shown
ever later, then a burst of losses). With ``DecodeOptions.drop_stale`` (default: on for realtime
sources) a frame that finds ring A full is decoded (later frames reference it) but not converted
or queued: it is skipped and counted in ``stats.dropped_stale``.

Seeking (``request_seek``, any thread): handled between frames by the thread itself: new epoch,
ring A ``reset``, the audio FIFO cleared, ``Source.seek``. ``epoch`` is the epoch now decoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from typing import Union

import av
import av.error
import numpy as np

from rife_live.errors import InputError, RifeError
from rife_live.frames import FrameMeta
from rife_live.pipeline import drivers
from rife_live.pipeline.convert import FrameConverter
from rife_live.pipeline.pcm import DEFAULT_PCM_CHANNELS, DEFAULT_PCM_RATE, PcmFeed, PcmTarget
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.source import Source, seconds
from rife_live.pipeline.timeline import Timeline

POLL_S = 0.1  # a blocked producer re-checks stop and seek requests this often (a timed wait, no spin)
DEFAULT_JOIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class DecodeOptions:
    """``start``/``end``: seconds from the source origin (None: from the beginning / to the end).
    ``drop_stale``: skip (and count) frames that find ring A full instead of waiting for a slot;
    None: on for realtime sources (``Source.realtime``), off otherwise."""

    start: float | Fraction | None = None
    end: float | Fraction | None = None
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

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


Reconnector = Callable[[Source, threading.Event], Union[Source, None]]


def default_reconnect(old: Source, stop: threading.Event) -> Source | None:
    """Reopen ``old``'s target with backoff (``drivers.reconnect``); None when stopped."""
    return drivers.reconnect(old.target, old.options, stop)


class Outcome(Enum):
    """How one run over the source's items ended."""

    STOP = "stop"  # stop() was called
    SEEK = "seek"  # a seek is waiting
    END = "end"  # past --end for video and audio
    EOF = "eof"  # the input ended (or dropped, when live)


@dataclass
class _Range:
    """The play range and how far each stream got in it."""

    start: Fraction | None
    end: Fraction | None
    video_done: bool = False
    audio_done: bool = False


class DecodeThread:
    """Decodes ``source`` into ``ring`` (and playback audio into ``pcm``) on its own thread."""

    def __init__(self, source: Source, ring: Ring[np.ndarray], options: DecodeOptions | None = None, *,
                 pcm: PcmTarget | None = None, reconnect: Reconnector = default_reconnect,
                 name: str = "rife-decode") -> None:
        self.options = options or DecodeOptions()
        self.stats = DecodeStats()
        self.error: BaseException | None = None
        self.consumer_closed = False  # the consumer closed ring A before the input ended
        self._source = source
        self._ring = ring
        self._pcm = (PcmFeed(pcm, self._interrupted, self.options.pcm_rate, self.options.pcm_channels)
                     if pcm is not None and source.audio is not None else None)
        self._reconnect = reconnect
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._seek_to: Fraction | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._epoch = ring.epoch
        self._index = 0  # source frames delivered in this epoch
        self._range = _Range(_fraction(self.options.start), _fraction(self.options.end))
        self._timeline = Timeline(source.video.fps, source.is_live)
        self._converter = FrameConverter(source.video)
        drop = self.options.drop_stale
        self._drop_stale = source.realtime if drop is None else drop
        self._corrupt_before = 0  # corrupt packets counted by the sources closed on reconnects

    # -- control (any thread) ------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self._epoch

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end soon (it closes ring A on its way out)."""
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
            self._seek_to = _fraction(position)

    # -- the thread ----------------------------------------------------------------------------

    def _interrupted(self) -> bool:
        return self._stop.is_set() or self._seek_to is not None

    def _run(self) -> None:
        error: BaseException | None = None
        try:
            if self._range.start is not None and self._range.start > 0:
                self._source.seek(self._range.start)
            self._range.audio_done = self._pcm is None
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
            if outcome is Outcome.SEEK:
                self._do_seek()
            elif outcome is Outcome.EOF and self._source.is_live:
                if not self._reopen():
                    return
            else:
                return  # stopped, past --end, or the end of a file

    def _pump(self) -> Outcome:
        """Run the source's items until stop, a seek request, the end of the range, or the input's
        end. A live source's read errors count as its end (the caller reconnects)."""
        try:
            for item in self._source.items():
                if self._stop.is_set():
                    return Outcome.STOP
                if self._seek_to is not None:
                    return Outcome.SEEK
                if isinstance(item, av.VideoFrame):
                    self._on_video(item)
                else:
                    self._on_audio(item)
                if self._range.video_done and self._range.audio_done:
                    return Outcome.END
        except (av.error.FFmpegError, OSError):
            if not self._source.is_live:
                raise
        self._count_corrupt()
        if self._stop.is_set():
            return Outcome.STOP
        return Outcome.SEEK if self._seek_to is not None else Outcome.EOF

    def _count_corrupt(self) -> None:
        self.stats.corrupt_packets = self._corrupt_before + self._source.corrupt_packets

    def _on_video(self, frame: av.VideoFrame) -> None:
        self._count_corrupt()
        if self._range.video_done:
            return
        place = self._timeline.place(self._source.relative_time(frame))
        if place.jumped:
            self._new_epoch()  # as after a reconnect: the timeline continues one frame on
            self.stats.discontinuities += 1
        self.stats.pts_repaired += place.repaired
        end = self._range.end
        if end is not None and place.pts >= end:
            self._range.video_done = True
            self._source.stop_video()
            return
        slot = self._ring.claim(timeout=0) if self._drop_stale else self._claim()
        if slot is None:
            if self._drop_stale:
                self.stats.dropped_stale += 1  # the consumer is behind: this frame would be stale
            return  # otherwise stopping or seeking: this frame is not wanted any more
        self._converter.convert(frame, slot)
        self.stats.resized = self._converter.resized
        duration = seconds(frame.duration, frame.time_base) if frame.duration else None
        self._ring.publish(FrameMeta(pts=place.pts, epoch=self._epoch, source_index=self._index, duration=duration,
                                     color=self._source.video.color))
        self._timeline.published(place.pts)
        self._index += 1
        self.stats.frames += 1

    def _claim(self) -> np.ndarray | None:
        while not self._interrupted():
            slot = self._ring.claim(timeout=POLL_S)
            if slot is not None:
                return slot
        return None

    def _on_audio(self, frame: av.AudioFrame) -> None:
        if self._range.audio_done or self._pcm is None:
            return
        pts = self._timeline.shifted(self._source.relative_time(frame))
        if self._range.end is not None and pts is not None and pts >= self._range.end:
            self._range.audio_done = True
            return
        self._pcm.feed(frame, lambda out: self._timeline.shifted(self._source.relative_time(out)), self._epoch,
                       self._range.start, self._range.end)
        self.stats.audio_items += 1

    # -- seek, reconnect, end ------------------------------------------------------------------

    def _new_epoch(self) -> None:
        self._epoch += 1
        self._ring.reset(self._epoch)
        if self._pcm is not None:
            self._pcm.new_epoch(self._epoch)
        self._index = 0

    def _do_seek(self) -> None:
        with self._lock:
            target, self._seek_to = self._seek_to, None
        assert target is not None
        self._new_epoch()
        self._source.seek(target)
        self._timeline.after_seek()
        self._range = _Range(start=target, end=self._range.end, audio_done=self._pcm is None)

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
        self._timeline.after_reconnect()
        return True

    def _finish(self, error: BaseException | None) -> None:
        self._ring.close(error)
        if self._pcm is not None and error is None:
            self._pcm.end()
        self._pcm = None  # it holds self._interrupted: without this cycle the thread's frames go when it does
        self._source.close()


# --- helpers ------------------------------------------------------------------------------------


def _fraction(value: float | Fraction | None) -> Fraction | None:
    if value is None:
        return None
    if isinstance(value, float):
        return Fraction(value).limit_denominator(10**9)
    return Fraction(value)


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
