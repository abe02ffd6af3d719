"""The container driver: inputs PyAV opens as a container (files, URLs, webcams, lavfi graphs).

Opening demuxes up to the first video frame (``PROBE_MAX_PACKETS`` at most); packets of other
streams met on the way are kept and handed out first by ``items()``. Live inputs are opened for
low latency (``LIVE_FORMAT_OPTIONS``, slice threading, libavcodec's low-delay flag); files with
frame threading. An ``http(s)://`` URL with a duration is read as a file; without one it is live.

After a ``seek`` the container goes to the keyframe at or before the target and ``items()``
decodes forward, holding back frames before the target so that it starts with the frame on screen
at the target time; audio that ends before the target is dropped.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from fractions import Fraction

import av
import av.error

from rife_live.avinput import HWAccel, open_input, reason
from rife_live.errors import InputError
from rife_live.frames import AudioInfo, VideoInfo
from rife_live.pipeline.source import (LAVFI_PREFIX, UNSPECIFIED_TAG, V4L2_PREFIX, InputKind, Source, SourceItem,
                                       SourceOptions, clockwise_rotation, describe_color, is_http, is_rtsp,
                                       pick_colorspace, seconds, upright_size)

PROBE_MAX_PACKETS = 4096  # packets read while looking for the first video frame before giving up
AV_CODEC_FLAG_LOW_DELAY = 1 << 19  # libavcodec's AV_CODEC_FLAG_LOW_DELAY
LIVE_ANALYZE_US = 500_000  # stream probing of a live input: halves an RTSP (re)connect (2.2 s -> 1.1 s)
LIVE_FORMAT_OPTIONS = {
    "fflags": "nobuffer",  # do not buffer (and replay) the first second
    "analyzeduration": str(LIVE_ANALYZE_US),
}


class ContainerSource(Source):
    """One opened PyAV input container; see the module text."""

    def __init__(self, target: str, kind: InputKind, options: SourceOptions) -> None:
        self.target = target
        self.kind = kind
        self.options = options
        self.is_live = kind in (InputKind.WEBCAM, InputKind.LAVFI) or (kind is InputKind.NETWORK and not is_http(target))
        self.audio = None
        self.corrupt_packets = 0
        self.container: av.container.InputContainer | None = None
        self.video_stream: av.video.stream.VideoStream | None = None
        self.audio_stream: av.audio.stream.AudioStream | None = None
        self.origin = Fraction(0)  # raw seconds of the first video frame
        self._pending: deque[av.Packet | av.VideoFrame] = deque()  # met while probing, handed out first
        self._packets: Iterator[av.Packet] | None = None
        self._seek_target: Fraction | None = None  # raw seconds: drop video before the frame shown then
        self._held: av.VideoFrame | None = None  # the latest frame before the seek target
        self._decode_video = True

    @classmethod
    def open(cls, target: str, kind: InputKind, options: SourceOptions) -> ContainerSource:
        source = cls(target, kind, options)
        try:
            source._open()
        except BaseException:
            source.close()
            raise
        return source

    # -- the interface -------------------------------------------------------------------------
    def close(self) -> None:
        self._pending.clear()
        self._held = None
        # a stream keeps its decoder (and FFmpeg's decoding threads) alive while anything refers to
        # this source, even with the container closed: let go of every PyAV object here
        self._packets = None
        self.video_stream = self.audio_stream = None
        if self.container is not None:
            self.container.close()
            self.container = None

    def stop_video(self) -> None:
        self._decode_video = False

    def relative_time(self, item: SourceItem) -> Fraction | None:
        raw = self._raw_time(item)
        return None if raw is None else raw - self.origin

    def items(self) -> Iterator[SourceItem]:
        while True:
            if self._pending:
                entry = self._pending.popleft()
                if isinstance(entry, av.Packet):
                    yield from self._from_packet(entry)
                else:
                    yield from self._after_seek_filter(entry)
                continue
            assert self._packets is not None
            packet = next(self._packets, None)
            if packet is None:
                if self._held is not None:  # the seek target lies past the last frame
                    held, self._held, self._seek_target = self._held, None, None
                    yield held
                return
            yield from self._from_packet(packet)

    def seek(self, position: float | Fraction) -> None:
        if self.is_live:
            raise InputError(f"cannot seek in a live source ({self.target})")
        target = max(Fraction(0), _exact(position))
        self._pending.clear()
        self._held = None
        self._decode_video = True
        assert self.container is not None and self.video_stream is not None
        raw = target + self.origin
        time_base = Fraction(self.video_stream.time_base)
        self.container.seek(int(raw / time_base), stream=self.video_stream, backward=True, any_frame=False)
        self._seek_target = raw
        self._packets = self.container.demux(*self._streams())

    # -- reading -------------------------------------------------------------------------------
    def _raw_time(self, item: SourceItem | av.Packet) -> Fraction | None:
        time_base = item.time_base
        if time_base is None and isinstance(item, av.Packet) and item.stream is not None:
            time_base = item.stream.time_base
        return seconds(item.pts, time_base)

    def _streams(self) -> list:
        return [s for s in (self.video_stream, self.audio_stream) if s is not None]

    def _from_packet(self, packet: av.Packet) -> Iterator[SourceItem]:
        is_video = packet.stream is self.video_stream
        if is_video and not self._decode_video:
            return
        try:
            frames = packet.decode()
        except av.error.InvalidDataError:
            self.corrupt_packets += 1  # live joins mid-stream; damaged files: skip, keep going
            return
        for frame in frames:
            if is_video:
                yield from self._after_seek_filter(frame)
            elif not self._before_seek_target(frame):
                yield frame

    def _before_seek_target(self, frame: av.AudioFrame) -> bool:
        """Audio that ends before the seek target (still being skipped to)."""
        if self._seek_target is None:
            return False
        start = self._raw_time(frame)
        if start is None:
            return False
        return start + Fraction(frame.samples, frame.sample_rate) <= self._seek_target

    def _after_seek_filter(self, frame: av.VideoFrame) -> Iterator[av.VideoFrame]:
        """After a seek: hold back frames before the target, hand out the one on screen at it."""
        target = self._seek_target
        if target is None:
            yield frame
            return
        raw = self._raw_time(frame)
        if raw is not None and raw < target:
            self._held = frame
            return
        held, self._held = self._held, None
        self._seek_target = None
        if held is not None and (raw is None or raw > target):
            yield held
        yield frame

    # -- opening -------------------------------------------------------------------------------
    def _open(self) -> None:
        container = self.container = self._av_open()
        video_stream = container.streams.best("video")
        if video_stream is None:
            what = "audio only" if container.streams.audio else "no streams PyAV can read"
            raise InputError(f"no video stream in {self.target} ({what})")
        if video_stream.codec_context is None:
            raise InputError(f"unsupported video codec in {self.target}: no decoder for it in this FFmpeg build")
        self.video_stream = video_stream
        audio_stream = container.streams.best("audio")
        if audio_stream is not None and audio_stream.codec_context is not None:
            self.audio_stream = audio_stream
        if self.kind is InputKind.NETWORK and container.duration is None and not self.is_live:
            self.is_live = True  # http(s) without a duration: a live stream, not a file
        codec_context = video_stream.codec_context
        if self.is_live:
            codec_context.thread_type = "SLICE"  # frame threading adds frames of delay
            codec_context.flags |= AV_CODEC_FLAG_LOW_DELAY
        else:
            codec_context.thread_type = "AUTO"
        self._packets = container.demux(*self._streams())
        first = self._probe_first_frame()
        self.origin = self._raw_time(first) or Fraction(0)
        self._describe(first)
        device = self.options.hw_device
        if device is not None and self.hwdec_note is None:
            if codec_context.is_hwaccel:
                self.decoder = device
            else:
                self.hwdec_note = (f"hardware decoding off ({device} does not decode {self.video.codec} "
                                   f"{self.video.pix_fmt}); decoding in software")

    def _av_open(self) -> av.container.InputContainer:
        target, kind, options = self.target, self.kind, self.options
        try:
            if kind is InputKind.WEBCAM:
                device = target[len(V4L2_PREFIX):] if target.startswith(V4L2_PREFIX) else target
                if not os.path.exists(device):
                    raise InputError(f"no webcam at {device} (device does not exist)")
                return open_input(device, format="v4l2", options=dict(options.device_options),
                                  timeout=options.network_timeout)
            if kind is InputKind.LAVFI:
                return open_input(target[len(LAVFI_PREFIX):], format="lavfi", options=dict(options.device_options))
            if kind is InputKind.NETWORK:
                return open_input(target, options=self._network_options(), timeout=options.network_timeout)
            path = target[len("file://"):] if target.startswith("file://") else target
            if not os.path.exists(path):
                raise InputError(f"input not found: {path}")
            if os.path.getsize(path) == 0:
                raise InputError(f"input is empty (0 bytes): {path}")
            return self._open_file(path)
        except InputError:
            raise
        except av.error.ExitError as exc:  # PyAV's timeout interrupts the open
            raise InputError(f"cannot reach {target}: no answer within {options.network_timeout:g} s") from exc
        except (av.error.InvalidDataError, av.error.EOFError) as exc:
            if kind is InputKind.NETWORK:
                raise InputError(f"cannot reach {target}: the server sent nothing usable ({reason(exc)})") from exc
            raise InputError(f"not a media file (or damaged beyond reading): {target}") from exc
        except (av.error.FFmpegError, OSError) as exc:
            if kind is InputKind.NETWORK:
                raise InputError(f"cannot reach {target}: {reason(exc)}") from exc
            raise InputError(f"cannot open {target}: {reason(exc)}") from exc

    def _network_options(self) -> dict[str, str]:
        if is_http(self.target):
            return {}  # a file over http until it proves live (no duration): read it as a file
        opts = dict(LIVE_FORMAT_OPTIONS)
        if is_rtsp(self.target):  # SourceOptions checked the transport's name
            opts["rtsp_transport"] = self.options.rtsp_transport
        return opts

    def _probe_first_frame(self) -> av.VideoFrame:
        """Decode up to the first video frame; packets of other streams are kept for ``items()``."""
        assert self._packets is not None
        try:
            for count, packet in enumerate(self._packets):
                if count >= PROBE_MAX_PACKETS:
                    break
                if packet.stream is not self.video_stream:
                    self._pending.append(packet)
                    continue
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    self.corrupt_packets += 1
                    continue
                if frames:
                    self._pending.extend(frames)  # items() hands them out, the first one first
                    return frames[0]
        except av.error.ExitError as exc:
            raise InputError(f"no video from {self.target} within {self.options.network_timeout:g} s") from exc
        except av.error.FFmpegError as exc:
            raise InputError(f"cannot decode the video of {self.target}: {reason(exc)}") from exc
        raise InputError(f"no video frames in {self.target} (the video stream is empty or undecodable)")

    def _open_file(self, path: str) -> av.container.InputContainer:
        """A local file, decoded on ``options.hw_device`` when one is asked for and it opens
        (FFmpeg falls back to software for a stream that device cannot decode); else software,
        with the reason in ``hwdec_note``."""
        device = self.options.hw_device
        if device is None:
            return open_input(path)
        try:
            return open_input(path, hwaccel=HWAccel(device, allow_software_fallback=True))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self.hwdec_note = f"hardware decoding off ({device}: {reason(exc)}); decoding in software"
            return open_input(path)

    def _describe(self, first: av.VideoFrame) -> None:
        stream = self.video_stream
        assert stream is not None and self.container is not None
        rotation = clockwise_rotation(first.rotation)
        width, height = upright_size(first.width, first.height, rotation)
        fps = stream.average_rate or stream.guessed_rate
        duration: Fraction | None = None
        if not self.is_live:
            duration = seconds(stream.duration, stream.time_base)
            if duration is None and self.container.duration is not None:
                duration = Fraction(self.container.duration, av.time_base)
        tag = first.colorspace if first.colorspace not in (None, UNSPECIFIED_TAG) else stream.codec_context.colorspace
        matrix = pick_colorspace(tag, first.height)
        self.video = VideoInfo(
            width=width,
            height=height,
            fps=Fraction(fps) if fps else None,
            duration=duration,
            codec=stream.codec_context.name,
            pix_fmt=first.format.name,
            rotation=rotation,
            colorspace=matrix,
            frame_count=stream.frames or None,
            color=describe_color(first, matrix, stream.codec_context),
        )
        if self.audio_stream is not None:
            ctx = self.audio_stream.codec_context
            self.audio = AudioInfo(sample_rate=ctx.sample_rate, channels=ctx.channels, codec=ctx.name)


def _exact(position: float | Fraction) -> Fraction:
    return Fraction(position).limit_denominator(10**9) if isinstance(position, float) else Fraction(position)
