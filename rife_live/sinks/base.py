"""The sink interface: one small table of functions that every export driver fills in.

A sink takes every output frame in order and never drops one. Drivers (mpv's ``vo_*`` idea):
``encoder`` (a video file through PyAV), ``png`` (a folder of numbered PNGs), ``null`` (counts
frames, for benchmarks). ``open_sink`` (in ``rife_live.sinks``) picks one from a :class:`SinkSpec`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Protocol, runtime_checkable

import av
import numpy as np

from rife_live.color import DEFAULT_TONE_CURVE, TONE_CURVES
from rife_live.colorinfo import ColorInfo
from rife_live.errors import ConfigError, OutputError
from rife_live.frames import FrameMeta

SINK_KINDS = ("encoder", "png", "null")
PNG_BIT_DEPTHS = (8, 16)
RGB_CHANNELS = 3


@dataclass(frozen=True)
class SinkSpec:
    """What to export and how; the CLI/config build it, ``open_sink`` turns it into a sink.

    ``rate`` is the output frame rate: output frame k is stamped at exactly k / rate seconds.
    ``audio_from`` names the input whose audio goes into an encoded file (a local file path;
    ``None`` for no audio). ``slowmo`` says the export changes the timing (``--fps``): its audio
    is then dropped with a notice. ``vcodec``/``pix_fmt``/``crf``/``preset`` default per
    container, codec and source colour. ``color``: what the frames' code values mean (the source's;
    None: 8-bit BT.709); ``tone_mapping``: the curve when HDR frames must become SDR (DESIGN.md §11).
    """

    kind: str  # one of SINK_KINDS
    path: Path | None = None  # output file (encoder) or folder (png); unused by null
    rate: Fraction = Fraction(60)
    vcodec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None  # None: yuv420p, or yuv420p10le for deep/HDR sources (sinks/colorout.py)
    audio_from: str | Path | None = None
    slowmo: bool = False
    png_bit_depth: int = 8
    overwrite: bool = False
    color: ColorInfo | None = None
    tone_mapping: str = DEFAULT_TONE_CURVE

    def __post_init__(self) -> None:
        if self.kind not in SINK_KINDS:
            raise ConfigError(f"unknown sink kind {self.kind!r} (expected one of {', '.join(SINK_KINDS)})")
        if self.kind != "null" and self.path is None:
            raise ConfigError(f"the {self.kind} sink needs an output path")
        if not isinstance(self.rate, (int, Fraction)) or self.rate <= 0:
            raise ConfigError(f"output rate must be a positive exact number, got {self.rate!r}")
        if self.crf is not None and self.crf < 0:
            raise ConfigError(f"crf must be >= 0, got {self.crf}")
        if self.png_bit_depth not in PNG_BIT_DEPTHS:
            raise ConfigError(f"png bit depth must be 8 or 16, got {self.png_bit_depth}")
        if self.tone_mapping not in TONE_CURVES:
            raise ConfigError(f"tone mapping must be one of {', '.join(TONE_CURVES)}, not {self.tone_mapping!r}")


@runtime_checkable
class Sink(Protocol):
    """The export end of the pipeline."""

    @property
    def frames_written(self) -> int:
        """How many frames ``write`` has accepted so far."""
        ...

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        """Take the next output frame: ``image`` is HxWx3 uint8 RGB (uint16 for sources deeper than
        8 bits; C-contiguous avoids a copy)."""
        ...

    def close(self) -> None:
        """Finalize and keep the output; idempotent; safe after a KeyboardInterrupt."""
        ...

    def abort(self) -> None:
        """The run failed: release everything and keep no new output (an old one stays as it
        was); idempotent. After ``close`` it does nothing."""
        ...


class SinkBase(ABC):
    """Shared plumbing: the frame count, the image check and ``with`` support."""

    def __init__(self) -> None:
        self._count = 0
        self._size: tuple[int, int] | None = None  # (width, height) fixed by the first frame

    @property
    def frames_written(self) -> int:
        return self._count

    @abstractmethod
    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        """Write one HxWx3 uint8 RGB frame."""

    @abstractmethod
    def close(self) -> None:
        """Finalize and keep the output; idempotent."""

    def abort(self) -> None:
        """The run failed: by default the same as ``close`` (frames already written stay)."""
        self.close()

    def __enter__(self) -> SinkBase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None or issubclass(exc_type, KeyboardInterrupt):
            self.close()
        else:
            self.abort()

    def _check_image(self, image: np.ndarray, dtypes: tuple[type, ...] = (np.uint8,)) -> np.ndarray:
        """Refuse images that break the contract (every frame has the first frame's size); return
        the image C-contiguous (a copy only when it is a strided view)."""
        if image.ndim != 3 or image.shape[2] != RGB_CHANNELS or image.dtype.type not in dtypes:
            raise ValueError(f"sink expects HxWx3 {dtypes[0].__name__} RGB, got {image.shape} {image.dtype}")
        size = (image.shape[1], image.shape[0])
        if self._size is None:
            self._size = size
        elif size != self._size:
            raise ValueError(f"frame size changed from {self._size[0]}x{self._size[1]} to {size[0]}x{size[1]}")
        return np.ascontiguousarray(image)


def find_encoder(name: str, kind: str) -> av.Codec:
    """The FFmpeg encoder ``name`` of ``kind`` ("video" or "audio"); OutputError (one line) otherwise."""
    try:
        codec = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError) as e:
        raise OutputError(f"unknown {kind} encoder {name!r} in this FFmpeg build") from e
    if codec.type != kind:
        raise OutputError(f"{name!r} is a {codec.type} encoder, not a {kind} one")
    return codec
