"""Typed, frozen records that travel between the stages: stream facts and per-frame metadata.

Pixel data itself lives in preallocated ring slots (``pipeline/ring.py``); these records carry
what describes it. Timestamps are exact: ``fractions.Fraction`` seconds, never accumulated floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from rife_live.colorinfo import ColorInfo


class FrameKind(str, Enum):
    """How an output frame was made (``FrameMeta.kind``; counted in the stats under these names)."""

    SOURCE = "source"  # a source frame itself (t = 0, or interpolation off)
    INTERP = "interp"  # made by the network
    COPY = "copy"  # a static pair: the earlier frame, no network
    CUT = "cut"  # a scene cut: the earlier frame held, no ghosting across shots
    MISS = "miss"  # live: the network could not make the deadline; the source frame stands in

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class VideoInfo:
    """What the source tells about its video stream, after rotation is applied to the size."""

    width: int
    height: int
    fps: Fraction | None  # nominal rate; None when the container does not say (live, VFR)
    duration: Fraction | None  # seconds; None for live sources or when unknown
    codec: str
    pix_fmt: str
    rotation: int = 0  # degrees clockwise the decoded picture is turned to display upright
    colorspace: str = "bt709"  # matrix used for YUV->RGB ("bt709" or "bt601"; the same as color.matrix)
    frame_count: int | None = None  # container's count when it gives one (not trusted for timing)
    color: ColorInfo = field(default_factory=ColorInfo)  # what the code values mean (DESIGN.md §11)


@dataclass(frozen=True)
class AudioInfo:
    """The source's audio stream, if any."""

    sample_rate: int
    channels: int
    codec: str


@dataclass(frozen=True)
class FrameMeta:
    """Describes one video frame in a ring slot.

    ``pts`` is in seconds from the source's time origin. ``epoch`` increases on every seek or
    reconnect; consumers drop slots of an older epoch. ``source_index`` counts decoded source frames
    within an epoch. ``kind`` says how an output frame was made. ``color`` says what the slot's code
    values mean (None: 8-bit BT.709 SDR, as frames made outside a pipeline).
    """

    pts: Fraction
    epoch: int = 0
    source_index: int = 0
    duration: Fraction | None = None
    kind: FrameKind = FrameKind.SOURCE
    t: Fraction = Fraction(0)  # position inside its source pair (0 for source frames)
    color: ColorInfo | None = None
