"""Open any input with PyAV and describe it: file, image folder, network URL, webcam (DESIGN §1).

``open_source(target)`` returns a ``Source``: the stream facts (``video: VideoInfo``, ``audio:
AudioInfo | None``, ``is_live``), the PyAV container and streams, and ``items()``, the decoded
video frames (and audio frames or packets) in demux order for the decode thread. Opening decodes
the first video frame (kept and handed out first by ``items()``): that is how a zero-frame file,
an undecodable stream and the display rotation are known before anything else starts.

Inputs (``classify``):
- a file path; a folder of numbered PNG/JPEG images (as RIFE's ``--img``), sorted by the number in
  each name (``2.png`` before ``10.png``), timed at ``SourceOptions.image_fps``;
- ``rtsp://`` (TCP unless ``rtsp_transport`` says otherwise), ``udp://``, ``rtp://``, ``srt://``,
  ``tcp://``, ``rtmp://`` (live), ``http(s)://`` (live when the server gives no duration);
- a webcam ``/dev/videoN`` or ``v4l2:/dev/videoN``; ``lavfi:GRAPH`` (e.g. ``lavfi:testsrc2``), a
  live-paced synthetic source for tests and demos.

Time origin. ``Source.origin`` is the raw pts (seconds) of the first video frame. ``relative_time``
turns a frame's or packet's pts into seconds from that origin, so the first frame is at 0 whatever
the container's start time (MPEG-TS starts near 1.4 s, edit lists can start below 0). ``seek(t)``
and ``--start/--end`` use the same timeline.

Colour: the matrix is the stream's tag when it has one (bt709, bt601, bt2020, ...); untagged HD
(coded height >= 720) is BT.709, untagged SD BT.601, as players commonly assume. Rotation: the
display matrix of the first frame; ``VideoInfo.rotation`` is clockwise degrees and ``width`` x
``height`` the upright size.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Union

import av
import av.error

from rife_live.errors import InputError
from rife_live.frames import AudioInfo, VideoInfo

# --- named constants ----------------------------------------------------------------------------

DEFAULT_TIMEOUT_S = 10.0  # network open/read timeout: never hang on an unreachable URL
DEFAULT_IMAGE_FPS = Fraction(25)  # image folders carry no timing; RIFE's --img default output rate
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
HD_MIN_HEIGHT = 720  # untagged streams this tall or taller are taken as BT.709
PROBE_MAX_PACKETS = 4096  # packets read while looking for the first video frame before giving up
RTSP_TRANSPORTS = ("tcp", "udp", "udp_multicast", "http", "https")
LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "rtp", "srt", "tcp")
HTTP_SCHEMES = ("http", "https")
V4L2_PREFIX = "v4l2:"
LAVFI_PREFIX = "lavfi:"
WEBCAM_PATTERN = re.compile(r"^/dev/video\d+$")
AV_CODEC_FLAG_LOW_DELAY = 1 << 19  # libavcodec's AV_CODEC_FLAG_LOW_DELAY
LIVE_ANALYZE_US = 500_000  # stream probing of a live input: halves an RTSP (re)connect (2.2 s -> 1.1 s)
LIVE_FORMAT_OPTIONS = {
    "fflags": "nobuffer",  # do not buffer (and replay) the first second
    "analyzeduration": str(LIVE_ANALYZE_US),
}

# Reconnect backoff for live sources: FIRST, then x FACTOR per attempt, capped at MAX.
RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_BACKOFF_FACTOR = 2.0
RECONNECT_MAX_DELAY_S = 1.0  # a server that comes back is found again within this (+ the open)
RECONNECT_MAX_ATTEMPTS = 60  # then the source is reported lost (about a minute of trying)

# AVColorSpace values (libavutil/pixfmt.h) -> the matrix names used in VideoInfo.colorspace.
_TAGGED_MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}

KIND_FILE = "file"
KIND_IMAGES = "images"
KIND_NETWORK = "network"
KIND_WEBCAM = "webcam"
KIND_LAVFI = "lavfi"

SourceItem = Union[av.VideoFrame, av.AudioFrame, av.Packet]


@dataclass(frozen=True)
class SourceOptions:
    """How to open an input. ``timeout_s`` bounds network opens and reads."""

    rtsp_transport: str = "tcp"
    timeout_s: float = DEFAULT_TIMEOUT_S
    image_fps: Fraction = DEFAULT_IMAGE_FPS
    device_options: Mapping[str, str] = field(default_factory=dict)  # v4l2/lavfi: video_size, framerate...


# --- pure helpers -------------------------------------------------------------------------------


def classify(target: str) -> str:
    """The kind of input ``target`` names: file, images (a folder), network, webcam or lavfi."""
    if target.startswith(LAVFI_PREFIX):
        return KIND_LAVFI
    if target.startswith(V4L2_PREFIX) or WEBCAM_PATTERN.match(target):
        return KIND_WEBCAM
    scheme = target.split("://", 1)[0].lower() if "://" in target else ""
    if scheme in LIVE_SCHEMES or scheme in HTTP_SCHEMES:
        return KIND_NETWORK
    if scheme == "file":
        return KIND_FILE
    if scheme:
        raise InputError(f"unsupported input URL scheme '{scheme}://' in {target}")
    return KIND_IMAGES if os.path.isdir(target) else KIND_FILE


def is_http(target: str) -> bool:
    """True for ``http://`` and ``https://`` URLs (a file over http unless it has no duration)."""
    return "://" in target and target.split("://", 1)[0].lower() in HTTP_SCHEMES


def pick_colorspace(tag: int | None, coded_height: int) -> str:
    """The YUV matrix to convert with: the stream's tag, else BT.709 for HD and BT.601 for SD."""
    if tag is not None and int(tag) in _TAGGED_MATRICES:
        return _TAGGED_MATRICES[int(tag)]
    return "bt709" if coded_height >= HD_MIN_HEIGHT else "bt601"


def clockwise_rotation(display_rotation: int) -> int:
    """Clockwise degrees (0, 90, 180, 270) from PyAV's counter-clockwise ``frame.rotation``."""
    return (-round(display_rotation / 90) * 90) % 360


def upright_size(width: int, height: int, rotation_cw: int) -> tuple[int, int]:
    """(width, height) after turning a width x height picture by ``rotation_cw`` degrees."""
    return (height, width) if rotation_cw in (90, 270) else (width, height)


def image_number(name: str) -> int | None:
    """The last run of digits in a file's stem (``frame_0012.png`` -> 12), or None."""
    found = re.findall(r"\d+", Path(name).stem)
    return int(found[-1]) if found else None


def list_images(folder: Path) -> list[Path]:
    """Numbered PNG/JPEG files of ``folder``, sorted by their number (then name)."""
    numbered = [
        (number, path.name, path)
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_EXTENSIONS and (number := image_number(path.name)) is not None
    ]
    return [path for _, _, path in sorted(numbered)]


def backoff_delay(attempt: int, *, first: float = RECONNECT_FIRST_DELAY_S,
                  factor: float = RECONNECT_BACKOFF_FACTOR, cap: float = RECONNECT_MAX_DELAY_S) -> float:
    """Seconds to wait before reconnect ``attempt`` (0-based): first * factor**attempt, capped."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return min(cap, first * factor**attempt)


def seconds(pts: int | None, time_base: Fraction | None) -> Fraction | None:
    """Exact seconds of a pts in ``time_base``; None when either is missing."""
    if pts is None or time_base is None:
        return None
    return pts * Fraction(time_base)


# --- the source ---------------------------------------------------------------------------------


class Source:
    """An open input. Not thread-safe: one thread (the decode thread) reads it after opening.

    Attributes: ``target``, ``kind``, ``video``, ``audio``, ``is_live``, ``container`` (None for
    image folders), ``video_stream``, ``audio_stream`` (None when there is none or it cannot be
    decoded), ``origin`` (raw seconds of the first frame), ``corrupt_packets`` (skipped so far).
    ``realtime``: a live input paced by the outside world (network, webcam; not lavfi): it does
    not wait for a slow reader, so the reader must skip stale frames rather than queue them.
    ``decode_video`` may be set False to skip video decoding (audio only, e.g. after ``--end``).
    """

    def __init__(self, target: str, kind: str, options: SourceOptions) -> None:
        self.target = target
        self.kind = kind
        self.options = options
        self.is_live = kind in (KIND_WEBCAM, KIND_LAVFI) or (kind == KIND_NETWORK and not is_http(target))
        self.container: av.container.InputContainer | None = None
        self.video_stream: av.video.stream.VideoStream | None = None
        self.audio_stream: av.audio.stream.AudioStream | None = None
        self.video: VideoInfo
        self.audio: AudioInfo | None = None
        self.origin = Fraction(0)
        self.corrupt_packets = 0
        self.decode_video = True
        self._images: list[Path] = []
        self._image_next = 0
        self._pending: deque[SourceItem] = deque()
        self._packets: Iterator[av.Packet] | None = None
        self._seek_target: Fraction | None = None  # raw seconds: drop video before the frame shown then
        self._held: av.VideoFrame | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def realtime(self) -> bool:
        return self.is_live and self.kind != KIND_LAVFI

    def close(self) -> None:
        """Release the container (safe to call twice)."""
        self._pending.clear()
        self._held = None
        if self.container is not None:
            self.container.close()
            self.container = None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- time ----------------------------------------------------------------------------------

    def raw_time(self, item: SourceItem) -> Fraction | None:
        """A frame's or packet's pts in raw stream seconds (None if it has none)."""
        time_base = item.time_base
        if time_base is None and isinstance(item, av.Packet) and item.stream is not None:
            time_base = item.stream.time_base
        return seconds(item.pts, time_base)

    def relative_time(self, item: SourceItem) -> Fraction | None:
        """A frame's or packet's pts in seconds from ``origin`` (the first video frame)."""
        raw = self.raw_time(item)
        return None if raw is None else raw - self.origin

    # -- reading -------------------------------------------------------------------------------

    def items(self, *, audio_packets: bool = False) -> Iterator[SourceItem]:
        """Decoded items in demux order: ``av.VideoFrame`` and, with an audio stream, decoded
        ``av.AudioFrame`` (or the raw audio ``av.Packet`` with ``audio_packets=True``, for stream
        copy). Packets that fail to decode are skipped and counted in ``corrupt_packets``. Ends at
        the end of the input; errors other than corrupt packets propagate (a live drop, a read
        error). Call again after ``seek``."""
        if self.kind == KIND_IMAGES:
            yield from self._image_items()
            return
        while True:
            if self._pending:
                entry = self._pending.popleft()
                if isinstance(entry, av.Packet):
                    yield from self._from_packet(entry, audio_packets)
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
            yield from self._from_packet(packet, audio_packets)

    def seek(self, position: float | Fraction) -> None:
        """Go to ``position`` seconds (from ``origin``): the container seeks to the keyframe at or
        before it, and ``items()`` then decodes forward and starts at the exact frame on screen at
        ``position`` (the last one with pts <= position). Files and image folders only."""
        if self.is_live:
            raise InputError(f"cannot seek in a live source ({self.target})")
        target = Fraction(position).limit_denominator(10**9) if isinstance(position, float) else Fraction(position)
        target = max(Fraction(0), target)
        self._pending.clear()
        self._held = None
        if self.kind == KIND_IMAGES:
            self._image_next = min(int(target * self.options.image_fps), max(0, len(self._images) - 1))
            return
        assert self.container is not None and self.video_stream is not None
        raw = target + self.origin
        time_base = Fraction(self.video_stream.time_base)
        self.container.seek(int(raw / time_base), stream=self.video_stream, backward=True, any_frame=False)
        self._seek_target = raw
        self._packets = self.container.demux(*self._streams())

    def _streams(self) -> list:
        return [s for s in (self.video_stream, self.audio_stream) if s is not None]

    def _from_packet(self, packet: av.Packet, audio_packets: bool) -> Iterator[SourceItem]:
        is_video = packet.stream is self.video_stream
        if is_video and not self.decode_video:
            return
        if not is_video and audio_packets:
            if packet.size and not self._before_seek_target(packet):
                yield packet
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

    def _before_seek_target(self, item: av.AudioFrame | av.Packet) -> bool:
        """Audio that ends before the seek target (still being skipped to)."""
        if self._seek_target is None:
            return False
        start = self.raw_time(item)
        if start is None:
            return False
        if isinstance(item, av.AudioFrame):
            length = Fraction(item.samples, item.sample_rate)
        else:
            length = seconds(item.duration, item.time_base) or Fraction(0)
        return start + length <= self._seek_target

    def _after_seek_filter(self, frame: av.VideoFrame) -> Iterator[av.VideoFrame]:
        """After a seek: hold back frames before the target, hand out the one on screen at it."""
        target = self._seek_target
        if target is None:
            yield frame
            return
        raw = self.raw_time(frame)
        if raw is not None and raw < target:
            self._held = frame
            return
        held, self._held = self._held, None
        self._seek_target = None
        if held is not None and (raw is None or raw > target):
            yield held
        yield frame

    def _image_items(self) -> Iterator[av.VideoFrame]:
        while self._image_next < len(self._images):
            index = self._image_next
            self._image_next += 1
            if self._pending:
                yield self._pending.popleft()  # the first image, decoded while opening
                continue
            frame = _decode_image(self._images[index])
            if frame is None:
                self.corrupt_packets += 1
                continue
            frame.pts = index
            frame.time_base = Fraction(1) / self.options.image_fps
            yield frame


# --- opening ------------------------------------------------------------------------------------


def open_source(target: str | os.PathLike, options: SourceOptions | None = None) -> Source:
    """Open ``target`` (path, image folder, URL, webcam) and describe it; InputError if it can't be."""
    options = options or SourceOptions()
    target = os.fspath(target)
    kind = classify(target)
    source = Source(target, kind, options)
    try:
        if kind == KIND_IMAGES:
            _open_images(source)
        else:
            _open_container(source)
    except BaseException:
        source.close()
        raise
    return source


def _open_images(source: Source) -> None:
    folder = Path(source.target)
    source._images = list_images(folder)
    if not source._images:
        raise InputError(f"no numbered PNG/JPEG images in folder {folder}")
    first = _decode_image(source._images[0])
    if first is None:
        raise InputError(f"cannot decode image {source._images[0]}")
    first.pts = 0
    first.time_base = Fraction(1) / source.options.image_fps
    source._pending.append(first)
    fps = source.options.image_fps
    count = len(source._images)
    source.video = VideoInfo(
        width=first.width,
        height=first.height,
        fps=fps,
        duration=count / fps,
        codec=Path(source._images[0]).suffix.lower().lstrip("."),
        pix_fmt=first.format.name,
        rotation=0,
        colorspace=pick_colorspace(first.colorspace, first.height),
        frame_count=count,
    )


def _decode_image(path: Path) -> av.VideoFrame | None:
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return frame
    except (av.error.InvalidDataError, av.error.EOFError):
        return None
    return None


def _open_container(source: Source) -> None:
    container = _av_open(source)
    source.container = container
    video_stream = container.streams.best("video")
    if video_stream is None:
        what = "audio only" if container.streams.audio else "no streams PyAV can read"
        raise InputError(f"no video stream in {source.target} ({what})")
    if video_stream.codec_context is None:
        raise InputError(f"unsupported video codec in {source.target}: no decoder for it in this FFmpeg build")
    source.video_stream = video_stream
    audio_stream = container.streams.best("audio")
    if audio_stream is not None and audio_stream.codec_context is not None:
        source.audio_stream = audio_stream
    if source.kind == KIND_NETWORK and container.duration is None and not source.is_live:
        source.is_live = True  # http(s) without a duration: a live stream, not a file
    codec_context = video_stream.codec_context
    if source.is_live:
        codec_context.thread_type = "SLICE"  # frame threading adds frames of delay
        codec_context.flags |= AV_CODEC_FLAG_LOW_DELAY
    else:
        codec_context.thread_type = "AUTO"
    source._packets = container.demux(*source._streams())
    first = _probe_first_frame(source)
    source.origin = source.raw_time(first) or Fraction(0)
    _describe(source, first)


def _av_open(source: Source) -> av.container.InputContainer:
    target, kind, options = source.target, source.kind, source.options
    try:
        if kind == KIND_WEBCAM:
            device = target[len(V4L2_PREFIX):] if target.startswith(V4L2_PREFIX) else target
            if not os.path.exists(device):
                raise InputError(f"no webcam at {device} (device does not exist)")
            return av.open(device, format="v4l2", options=dict(options.device_options),
                           timeout=options.timeout_s)
        if kind == KIND_LAVFI:
            return av.open(target[len(LAVFI_PREFIX):], format="lavfi", options=dict(options.device_options))
        if kind == KIND_NETWORK:
            return av.open(target, options=_network_options(target, options), timeout=options.timeout_s)
        path = target[len("file://"):] if target.startswith("file://") else target
        if not os.path.exists(path):
            raise InputError(f"input not found: {path}")
        if os.path.getsize(path) == 0:
            raise InputError(f"input is empty (0 bytes): {path}")
        return av.open(path)
    except InputError:
        raise
    except av.error.ExitError as exc:  # PyAV's timeout interrupts the open
        raise InputError(f"cannot reach {target}: no answer within {options.timeout_s:g} s") from exc
    except (av.error.InvalidDataError, av.error.EOFError) as exc:
        if kind == KIND_NETWORK:
            raise InputError(f"cannot reach {target}: the server sent nothing usable ({_reason(exc)})") from exc
        raise InputError(f"not a media file (or damaged beyond reading): {target}") from exc
    except (av.error.FFmpegError, OSError) as exc:
        if kind == KIND_NETWORK:
            raise InputError(f"cannot reach {target}: {_reason(exc)}") from exc
        raise InputError(f"cannot open {target}: {_reason(exc)}") from exc


def _network_options(target: str, options: SourceOptions) -> dict[str, str]:
    if is_http(target):
        return {}  # a file over http until it proves live (no duration): read it as a file
    opts = dict(LIVE_FORMAT_OPTIONS)
    if target.lower().startswith(("rtsp://", "rtsps://")):
        if options.rtsp_transport not in RTSP_TRANSPORTS:
            raise InputError(f"rtsp_transport must be one of {', '.join(RTSP_TRANSPORTS)}, "
                             f"not '{options.rtsp_transport}'")
        opts["rtsp_transport"] = options.rtsp_transport
    return opts


def _reason(exc: BaseException) -> str:
    """The human part of an FFmpeg error: its strerror without the errno and file name."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip()


def _probe_first_frame(source: Source) -> av.VideoFrame:
    """Decode up to the first video frame; packets of other streams are kept for ``items()``."""
    assert source._packets is not None
    try:
        for count, packet in enumerate(source._packets):
            if count >= PROBE_MAX_PACKETS:
                break
            if packet.stream is not source.video_stream:
                source._pending.append(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                source.corrupt_packets += 1
                continue
            if frames:
                source._pending.extend(frames)  # items() hands them out, the first one first
                return frames[0]
    except av.error.ExitError as exc:
        raise InputError(f"no video from {source.target} within {source.options.timeout_s:g} s") from exc
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot decode the video of {source.target}: {_reason(exc)}") from exc
    raise InputError(f"no video frames in {source.target} (the video stream is empty or undecodable)")


def _describe(source: Source, first: av.VideoFrame) -> None:
    stream = source.video_stream
    assert stream is not None and source.container is not None
    rotation = clockwise_rotation(first.rotation)
    width, height = upright_size(first.width, first.height, rotation)
    fps = stream.average_rate or stream.guessed_rate
    duration: Fraction | None = None
    if not source.is_live:
        duration = seconds(stream.duration, stream.time_base)
        if duration is None and source.container.duration is not None:
            duration = Fraction(source.container.duration, av.time_base)
    tag = first.colorspace if first.colorspace not in (None, 2) else stream.codec_context.colorspace
    source.video = VideoInfo(
        width=width,
        height=height,
        fps=Fraction(fps) if fps else None,
        duration=duration,
        codec=stream.codec_context.name,
        pix_fmt=first.format.name,
        rotation=rotation,
        colorspace=pick_colorspace(tag, first.height),
        frame_count=stream.frames or None,
    )
    if source.audio_stream is not None:
        ctx = source.audio_stream.codec_context
        source.audio = AudioInfo(sample_rate=ctx.sample_rate, channels=ctx.channels, codec=ctx.name)


# --- reconnecting -------------------------------------------------------------------------------


def reconnect(
    target: str,
    options: SourceOptions,
    stop: threading.Event,
    *,
    max_attempts: int = RECONNECT_MAX_ATTEMPTS,
    wait: Callable[[float], bool] | None = None,
    on_attempt: Callable[[int, float, InputError | None], None] | None = None,
) -> Source | None:
    """Reopen a live source after a drop, waiting ``backoff_delay(attempt)`` before each try.

    ``wait(seconds)`` returns True to abandon (defaults to ``stop.wait``, so ``stop`` cuts a wait
    short). Returns the new Source, None when stopped, or raises InputError after
    ``max_attempts`` failed tries. ``on_attempt(attempt, delay, error)`` reports each failed try.
    """
    waiter = wait or stop.wait
    last: InputError | None = None
    for attempt in range(max_attempts):
        delay = backoff_delay(attempt)
        if waiter(delay) or stop.is_set():
            return None
        try:
            return open_source(target, options)
        except InputError as exc:
            last = exc
            if on_attempt is not None:
                on_attempt(attempt, delay, exc)
    raise InputError(f"lost {target}: gave up after {max_attempts} reconnect attempts ({last})")
