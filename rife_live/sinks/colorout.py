"""How an export writes colour (DESIGN.md §11): the default encoder and pixel format for a source,
the tags and HDR10 parameters of the file, and what happens to the frames' code values.

- **8-bit SDR sources** (``ColorInfo.keeps_own_output`` false, or no colour given): no plan
  (``plan`` returns None); the encoder does what it always did: H.264 yuv420p (VP9 for .webm),
  converted and tagged as BT.709, limited range.
- **Deep or HDR sources**, by default: 10-bit HEVC (libx265; AV1 through libsvtav1 for .webm, or
  where the build has no libx265), ``yuv420p10le``, with the source's primaries, transfer, matrix
  and range, and its HDR10 metadata as encoder parameters (``master-display``/``max-cll`` for
  x264/x265, ``mastering-display``/``content-light`` for SVT-AV1). Frames go in as 16-bit RGB.
- ``--vcodec``/``--pix-fmt`` still choose. A pixel format of 8 bits from an HDR source makes an SDR
  BT.709 file: the frames are tone-mapped (``color.to_sdr``, ``--tone-mapping``), never
  relabelled, and a notice says so. A deep SDR source written at 8 bits keeps its tags (the code
  values rounded to 8 bits).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import av
import numpy as np

from rife_live.color import DEFAULT_TONE_CURVE, narrow_to_uint8, to_sdr_uint8
from rife_live.colorinfo import (MATRIX_TAGS, PRIMARY_TAGS, RANGE_FULL, RANGE_LIMITED, SHORT_NAMES,
                                 SWS_MATRICES, TRANSFER_TAGS, WIDEN_8_TO_16, ColorInfo)

log = logging.getLogger(__name__)

DEEP_PIX_FMT = "yuv420p10le"
SDR_PIX_FMT = "yuv420p"
# Encoders for deep or HDR sources, in order of preference, by container (others: DEEP_VCODECS_OTHER).
DEEP_VCODECS = {"webm": ("libsvtav1",)}
DEEP_VCODECS_OTHER = ("libx265", "libsvtav1")
SDR_OUTPUT = ColorInfo()  # what a tone-mapped file says: BT.709, limited range, 8 bits
RGB_FORMATS = {8: "rgb24", 16: "rgb48le"}  # what the frames are handed to swscale as
# Encoders that take HDR10 metadata as parameters: x264/x265 (its key, the light level's name) in
# units of 0.00002 and 0.0001 nits; SVT-AV1 in decimal units.
X26X_PARAMS = {"libx265": ("x265-params", "max-cll"), "libx264": ("x264-params", "cll")}
SVT_AV1 = "libsvtav1"


@dataclass(frozen=True)
class OutputColor:
    """What one export writes: ``tags`` (the file's colour description), ``depth`` of the frames
    handed to the encoder (8 or 16), ``tone_map`` (the curve, when HDR becomes SDR)."""

    source: ColorInfo
    tags: ColorInfo
    depth: int
    tone_map: str | None = None

    def frame(self, image: np.ndarray) -> tuple[np.ndarray, str]:
        """An output frame (uint8 or uint16 RGB of ``source``) as the encoder gets it: the array
        and its PyAV format (rgb24 or rgb48le)."""
        if self.tone_map is not None:
            return to_sdr_uint8(image, self.source, self.tone_map), RGB_FORMATS[8]
        if self.depth == 8:
            return (narrow_to_uint8(image) if image.dtype == np.uint16 else image), RGB_FORMATS[8]
        if image.dtype == np.uint8:
            image = image.astype(np.uint16) * np.uint16(WIDEN_8_TO_16)
        return image, RGB_FORMATS[16]

    def tag_context(self, ctx: av.video.codeccontext.VideoCodecContext) -> None:
        """Write the tags on an encoder (or a frame: the same attribute names)."""
        ctx.colorspace = MATRIX_TAGS.get(self.tags.matrix, MATRIX_TAGS["bt709"])
        ctx.color_primaries = PRIMARY_TAGS.get(self.tags.primaries, PRIMARY_TAGS["bt709"])
        ctx.color_trc = TRANSFER_TAGS.get(self.tags.transfer, TRANSFER_TAGS["bt709"])
        ctx.color_range = RANGE_FULL if self.tags.full_range else RANGE_LIMITED

    @property
    def sws_matrix(self) -> str:
        return SWS_MATRICES.get(self.tags.matrix, SWS_MATRICES["bt709"])


def pix_fmt_depth(pix_fmt: str) -> int:
    """Bits per component of a pixel format (8 when PyAV does not know it)."""
    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, av.FFmpegError):
        return 8
    return max((c.bits for c in fmt.components), default=8)


def _available(name: str, container: av.container.OutputContainer) -> bool:
    try:
        codec = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        return False
    return codec.canonical_name in container.supported_codecs


def default_codec(fmt: str, source: ColorInfo | None, container: av.container.OutputContainer,
                  sdr_default: str, pix_fmt: str | None = None) -> str:
    """The encoder when ``--vcodec`` is not given: ``sdr_default`` for 8-bit SDR sources, for an
    8-bit ``--pix-fmt`` and when no 10-bit encoder for this container is in the build; else the
    first 10-bit one."""
    if source is None or not source.keeps_own_output or (pix_fmt is not None and pix_fmt_depth(pix_fmt) <= 8):
        return sdr_default
    for name in DEEP_VCODECS.get(fmt, DEEP_VCODECS_OTHER):
        if _available(name, container):
            return name
    return sdr_default


def default_pix_fmt(codec: av.Codec, source: ColorInfo | None) -> str:
    """The pixel format when ``--pix-fmt`` is not given: yuv420p, or yuv420p10le for deep or HDR
    sources when the encoder takes it."""
    formats = [f.name for f in (codec.video_formats or [])]
    if source is not None and source.keeps_own_output and (not formats or DEEP_PIX_FMT in formats):
        return DEEP_PIX_FMT
    return SDR_PIX_FMT


def plan(source: ColorInfo | None, pix_fmt: str, curve: str = DEFAULT_TONE_CURVE) -> OutputColor | None:
    """How frames of ``source`` become a ``pix_fmt`` file; None for 8-bit SDR sources (today's path)."""
    if source is None or not source.keeps_own_output:
        return None
    if pix_fmt_depth(pix_fmt) > 8:
        return OutputColor(source=source, tags=source, depth=16)
    if source.hdr:
        log.warning("%s output of an HDR source (%s): tone-mapped to SDR BT.709 with %s, not relabelled",
                    pix_fmt, source.describe(), curve)
        return OutputColor(source=source, tags=SDR_OUTPUT, depth=8, tone_map=curve)
    log.warning("%s output of a %d-bit source: written at 8 bits", pix_fmt, source.bit_depth)
    return OutputColor(source=source, tags=replace(source, bit_depth=8, mastering=None, light=None), depth=8)


def hdr_options(codec: str, tags: ColorInfo, options: dict[str, str]) -> dict[str, str]:
    """``options`` with the HDR10 metadata of ``tags`` added as the encoder's parameters; a notice
    when the encoder cannot carry it."""
    parts = []
    if tags.mastering is not None:
        parts.append(("mastering", tags.mastering))
    if tags.light is not None:
        parts.append(("light", tags.light))
    if not parts:
        return options
    out = dict(options)
    if codec in X26X_PARAMS:
        key, light_key = X26X_PARAMS[codec]
        values = [f"master-display={m.x265()}" if kind == "mastering" else f"{light_key}={m.max_cll},{m.max_fall}"
                  for kind, m in parts]
    elif codec == SVT_AV1:
        key = "svtav1-params"
        values = [f"mastering-display={m.svt()}" if kind == "mastering" else f"content-light={m.max_cll},{m.max_fall}"
                  for kind, m in parts]
    else:
        log.warning("%s cannot carry HDR10 metadata (mastering display, content light level): the file keeps "
                    "the %s tags only", codec, SHORT_NAMES.get(tags.transfer, tags.transfer).upper())
        return out
    out[key] = ":".join(v for v in (out.get(key, ""), *values) if v)
    return out


