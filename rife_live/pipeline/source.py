"""Sources: open any input and hand its decoded frames to the decode thread, behind one interface
(DESIGN.md §2). Drivers stand behind a table, as mpv's demuxers do:

- ``source_av.ContainerSource``: everything PyAV opens as a container: files, ``http(s)://``,
  live URLs (``rtsp://`` over TCP unless ``--rtsp-transport`` says otherwise, ``udp://``,
  ``rtp://``, ``srt://``, ``tcp://``, ``rtmp://``), webcams (``/dev/videoN``, ``v4l2:/dev/videoN``)
  and ``lavfi:GRAPH`` (a live-paced synthetic source for tests and demos);
- ``source_images.ImageFolderSource``: a folder of numbered PNG/JPEG images (as RIFE's ``--img``),
  sorted by the number in each name (``2.png`` before ``10.png``), timed at ``--mf-fps``.

``drivers.open_source(target, options)`` classifies the target (``classify``) and opens it with
its driver (``drivers.SOURCE_DRIVERS``); ``drivers.reconnect`` reopens a live one after a drop.
Opening decodes the first video frame: a zero-frame file, an undecodable stream and the display
rotation are known before anything else starts; every failure is one ``InputError`` line.

Time origin. ``Source.relative_time`` gives a frame's or packet's pts in seconds from the first
video frame (0), whatever the container's start time (MPEG-TS starts near 1.4 s, edit lists can
start below 0). ``seek(t)`` and ``--start/--end`` use the same timeline.

Colour: the matrix is the stream's tag when it has one (bt709, bt601, bt2020, ...); untagged HD
(coded height >= 720) is BT.709, untagged SD BT.601, as players commonly assume. The rest of the
colour description (``VideoInfo.color``: primaries, transfer, range, bit depth, HDR10 metadata) is
read from the first frame, the stream's tags where the frame has none (``describe_color``). Rotation:
``VideoInfo.rotation`` is clockwise degrees and ``width`` x ``height`` the upright size.

A source is read by one thread (the decode thread) once opened; it is not thread-safe.
"""

from __future__ import annotations

import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import Union

import av

from rife_live.colorinfo import MATRICES, ColorInfo, from_tags, light_from_side_data, mastering_from_side_data
from rife_live.errors import InputError
from rife_live.frames import AudioInfo, VideoInfo
from rife_live.options import check_fields, choice, in_range, number, option, parse_rate

DEFAULT_TIMEOUT_S = 10.0  # network open/read timeout: never hang on an unreachable URL
NETWORK_TIMEOUT_RANGE = (0.5, 600.0)  # seconds
DEFAULT_IMAGE_FPS = Fraction(25)  # image folders carry no timing; RIFE's --img default output rate
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
HD_MIN_HEIGHT = 720  # untagged streams this tall or taller are taken as BT.709
RTSP_TRANSPORTS = ("tcp", "udp", "udp_multicast", "http", "https")
HWDEC_MODES = ("auto", "no")  # mpv's --hwdec: auto = NVDEC when the network runs on CUDA
HWDEC_DEVICE = "cuda"  # the FFmpeg hardware device type hwdec=auto uses (NVDEC)
RTSP_SCHEMES = ("rtsp", "rtsps")
LIVE_SCHEMES = (*RTSP_SCHEMES, "rtmp", "rtmps", "udp", "rtp", "srt", "tcp")
HTTP_SCHEMES = ("http", "https")
V4L2_PREFIX = "v4l2:"
LAVFI_PREFIX = "lavfi:"
WEBCAM_PATTERN = re.compile(r"^/dev/video\d+$")
UNSPECIFIED_TAG = 2  # AVCOL_PRI/TRC/SPC_UNSPECIFIED: look at the stream's tag instead

SourceItem = Union[av.VideoFrame, av.AudioFrame]


class InputKind(str, Enum):
    """What a target names (``classify``); options may apply to some kinds only."""

    FILE = "file"
    IMAGES = "images"
    NETWORK = "network"
    WEBCAM = "webcam"
    LAVFI = "lavfi"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class SourceOptions:
    """How to open an input (the ``[input]`` options)."""

    rtsp_transport: str = option("tcp", choice(RTSP_TRANSPORTS), "tcp (default), udp, udp_multicast, http or "
                                 "https, for rtsp:// inputs", inputs=RTSP_SCHEMES, metavar="MODE")
    network_timeout: float = option(DEFAULT_TIMEOUT_S, in_range(number, *NETWORK_TIMEOUT_RANGE),
                                    "seconds before opening or reading a URL gives up (default 10); live inputs then "
                                    "reconnect", inputs=(InputKind.NETWORK,), metavar="SECONDS")
    mf_fps: Fraction = option(DEFAULT_IMAGE_FPS, parse_rate, "frame rate of an image-folder input (default 25)",
                              inputs=(InputKind.IMAGES,), metavar="FPS")
    hwdec: str = option("auto", choice(HWDEC_MODES), "hardware video decoding of a file: auto (NVDEC when the "
                        "network runs on CUDA and FFmpeg has it, default) or no", inputs=(InputKind.FILE,),
                        metavar="MODE")
    device_options: Mapping[str, str] = field(default_factory=dict)  # v4l2/lavfi: video_size, framerate ...
    hw_device: str | None = None  # an FFmpeg hardware device type to decode files on (set from hwdec by the caller)

    def __post_init__(self) -> None:
        check_fields(self)


# --- pure helpers -------------------------------------------------------------------------------


def hardware_options(options: SourceOptions, engine_device: str) -> SourceOptions:
    """``options`` with the hardware decoder ``hwdec`` calls for when the network runs on
    ``engine_device`` ("cuda" or "cpu"): NVDEC for ``auto`` on CUDA, software otherwise."""
    wanted = HWDEC_DEVICE if options.hwdec == "auto" and engine_device == HWDEC_DEVICE else None
    return replace(options, hw_device=wanted)


def url_scheme(target: str) -> str:
    """The lower-case scheme of a URL (``rtsp``), empty for paths."""
    return target.split("://", 1)[0].lower() if "://" in target else ""


def classify(target: str) -> InputKind:
    """The kind of input ``target`` names."""
    if target.startswith(LAVFI_PREFIX):
        return InputKind.LAVFI
    if target.startswith(V4L2_PREFIX) or WEBCAM_PATTERN.match(target):
        return InputKind.WEBCAM
    scheme = url_scheme(target)
    if scheme in LIVE_SCHEMES or scheme in HTTP_SCHEMES:
        return InputKind.NETWORK
    if scheme == "file":
        return InputKind.FILE
    if scheme:
        raise InputError(f"unsupported input URL scheme '{scheme}://' in {target}")
    return InputKind.IMAGES if os.path.isdir(target) else InputKind.FILE


def is_http(target: str) -> bool:
    """True for ``http://`` and ``https://`` URLs (a file over http unless it has no duration)."""
    return url_scheme(target) in HTTP_SCHEMES


def is_rtsp(target: str) -> bool:
    return url_scheme(target) in RTSP_SCHEMES


def local_path(target: str) -> Path | None:
    """The file or folder a target names on this machine (``file://`` stripped), None for URLs
    and devices."""
    kind = classify(target)
    if kind is InputKind.FILE:
        return Path(target[len("file://"):] if target.startswith("file://") else target)
    return Path(target) if kind is InputKind.IMAGES else None


def pick_colorspace(tag: int | None, coded_height: int) -> str:
    """The YUV matrix to convert with: the stream's tag, else BT.709 for HD and BT.601 for SD."""
    if tag is not None and int(tag) in MATRICES:
        return MATRICES[int(tag)]
    return "bt709" if coded_height >= HD_MIN_HEIGHT else "bt601"


def _tag(frame_value: int | None, stream_value: int | None) -> int | None:
    """A frame's colour tag, else the stream's (decoders leave some frames unspecified)."""
    return frame_value if frame_value not in (None, 0, UNSPECIFIED_TAG) else stream_value


def describe_color(frame: av.VideoFrame, matrix: str, stream: av.video.codeccontext.VideoCodecContext | None = None
                   ) -> ColorInfo:
    """The colour description of a stream from its first decoded frame (tags, bit depth, HDR10 side
    data), the stream's tags where the frame has none; ``matrix``: what ``pick_colorspace`` chose."""
    mastering = light = None
    for data in frame.side_data:
        kind = getattr(data.type, "name", "")
        if kind == "MASTERING_DISPLAY_METADATA":
            mastering = mastering_from_side_data(bytes(data))
        elif kind == "CONTENT_LIGHT_LEVEL":
            light = light_from_side_data(bytes(data))
    return from_tags(
        primaries=_tag(frame.color_primaries, getattr(stream, "color_primaries", None)),
        transfer=_tag(frame.color_trc, getattr(stream, "color_trc", None)),
        matrix=matrix,
        color_range=_tag(frame.color_range, getattr(stream, "color_range", None)),
        bit_depth=max((c.bits for c in frame.format.components), default=8),
        mastering=mastering,
        light=light,
    )


def clockwise_rotation(display_rotation: int) -> int:
    """Clockwise degrees (0, 90, 180, 270) from PyAV's counter-clockwise ``frame.rotation``."""
    return (-round(display_rotation / 90) * 90) % 360


def upright_size(width: int, height: int, rotation_cw: int) -> tuple[int, int]:
    """(width, height) after turning a width x height picture by ``rotation_cw`` degrees."""
    return (height, width) if rotation_cw in (90, 270) else (width, height)


def seconds(pts: int | None, time_base: Fraction | None) -> Fraction | None:
    """Exact seconds of a pts in ``time_base``; None when either is missing."""
    if pts is None or time_base is None:
        return None
    return pts * Fraction(time_base)


# --- the interface ------------------------------------------------------------------------------


class Source(ABC):
    """An open input (see the module text). Read by one thread after opening.

    ``video``/``audio``: the stream facts (``audio`` is None when there is no decodable audio).
    ``is_live``: no duration, no seeking, paced by the outside world or a generator.
    ``realtime``: paced by the outside world (network, webcam; not lavfi): it does not wait for
    a slow reader, so the reader must skip stale frames rather than queue them.
    ``corrupt_packets``: packets (or images) skipped because they did not decode.
    ``decoder``: where the video is decoded ("software", or the hardware device type);
    ``hwdec_note``: why hardware decoding that was asked for is off (one line), else None.
    """

    target: str
    kind: InputKind
    options: SourceOptions
    video: VideoInfo
    audio: AudioInfo | None = None
    is_live: bool = False
    corrupt_packets: int = 0
    decoder: str = "software"
    hwdec_note: str | None = None

    @property
    def realtime(self) -> bool:
        return self.is_live and self.kind is not InputKind.LAVFI

    @abstractmethod
    def items(self) -> Iterator[SourceItem]:
        """Decoded items in demux order: ``av.VideoFrame`` and, with audio, ``av.AudioFrame``.
        Undecodable packets are skipped and counted; ends at the end of the input; other errors
        propagate (a live drop, a read error). Call again after ``seek``."""

    @abstractmethod
    def seek(self, position: float | Fraction) -> None:
        """Go to ``position`` seconds: ``items()`` then starts at the frame on screen at that
        time (the last one with pts <= position). Not for live sources."""

    @abstractmethod
    def relative_time(self, item: SourceItem) -> Fraction | None:
        """An item's pts in seconds from the first video frame (None if it has none)."""

    @abstractmethod
    def stop_video(self) -> None:
        """Decode no more video (past ``--end``: only audio is still wanted)."""

    @abstractmethod
    def close(self) -> None:
        """Release the input (safe to call twice)."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
