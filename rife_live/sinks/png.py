"""PNG output: a folder of numbered frames (``00000000.png``, ``00000001.png``, ...) and the
single-image encoder it shares with the still-image helpers. PNGs are made with PyAV's png encoder
(no Pillow). 8-bit RGB by default; 16-bit RGB when asked (uint8 frames are widened by 257 so that
255 maps to 65535; uint16 frames are written as they are).

Deep or HDR sources (``ColorInfo.keeps_own_output``, DESIGN.md §11): 16-bit PNGs keep the code
values, and an HDR or wide-gamut source's PNGs say so in a cICP chunk (primaries and transfer);
8-bit PNGs are BT.709 SDR: an HDR or non-BT.709 source is tone- and gamut-mapped (``color.to_sdr``,
with a notice), a deep BT.709 SDR source rounded to 8 bits.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import av
import numpy as np

from rife_live import signals
from rife_live.color import DEFAULT_TONE_CURVE, narrow_to_uint8, needs_mapping, to_sdr_uint8
from rife_live.colorinfo import PRIMARY_TAGS, TRANSFER_TAGS, WIDEN_8_TO_16, ColorInfo
from rife_live.errors import OutputError
from rife_live.frames import FrameMeta
from rife_live.outputs import remove_frames, write_bytes
from rife_live.sinks.base import SinkBase

FRAME_NAME_DIGITS = 8
PNG_SUFFIX = ".png"
FRAME_PATTERN = re.compile(rf"\d{{{FRAME_NAME_DIGITS}}}{re.escape(PNG_SUFFIX)}")  # what frame_name makes
# The png encoder's row filter. Measured on a 1280x720 bigbuckbunny frame: "up" gave the smallest
# file (1.00 MB vs 1.08 paeth, 1.83 none) and was the fastest of the filters (0.12 s vs 0.17 s).
PNG_PREDICTION = "up"
PIX_FMT_BY_DEPTH = {8: "rgb24", 16: "rgb48be"}  # what the png encoder takes

log = logging.getLogger(__name__)


def frame_name(index: int) -> str:
    """File name of output frame ``index`` in a PNG folder."""
    return f"{index:0{FRAME_NAME_DIGITS}d}{PNG_SUFFIX}"


class PngEncoder:
    """Encodes HxWx3 RGB arrays (uint8, or uint16 for 16-bit) to PNG bytes; one codec per size.
    ``tags``: a colour description written as the PNG's cICP chunk (16-bit only)."""

    def __init__(self, bit_depth: int = 8, tags: ColorInfo | None = None) -> None:
        if bit_depth not in PIX_FMT_BY_DEPTH:
            raise ValueError(f"png bit depth must be 8 or 16, got {bit_depth}")
        self.bit_depth = bit_depth
        self.tags = tags
        self._codec: av.VideoCodecContext | None = None

    def encode(self, image: np.ndarray) -> bytes:
        height, width = image.shape[:2]
        frame = self._to_frame(image)
        codec = self._codec
        if codec is None or codec.width != width or codec.height != height:
            codec = av.CodecContext.create("png", "w")
            codec.width = width
            codec.height = height
            codec.pix_fmt = PIX_FMT_BY_DEPTH[self.bit_depth]
            codec.options = {"pred": PNG_PREDICTION}
            self._codec = codec
        packets = codec.encode(frame)
        return b"".join(bytes(p) for p in packets)

    def _to_frame(self, image: np.ndarray) -> av.VideoFrame:
        if self.bit_depth == 8:
            if image.dtype != np.uint8:
                raise ValueError(f"8-bit PNG needs uint8 pixels, got {image.dtype}")
            return av.VideoFrame.from_ndarray(image, format="rgb24")
        if image.dtype == np.uint8:
            wide = image.astype(np.uint16) * np.uint16(WIDEN_8_TO_16)
        elif image.dtype == np.uint16:
            wide = np.ascontiguousarray(image)
        else:
            raise ValueError(f"16-bit PNG needs uint8 or uint16 pixels, got {image.dtype}")
        frame = av.VideoFrame.from_ndarray(wide, format="rgb48le").reformat(format=PIX_FMT_BY_DEPTH[16])
        if self.tags is not None:  # FFmpeg's png encoder writes the frame's tags as cICP
            frame.color_primaries = PRIMARY_TAGS.get(self.tags.primaries, PRIMARY_TAGS["bt709"])
            frame.color_trc = TRANSFER_TAGS.get(self.tags.transfer, TRANSFER_TAGS["bt709"])
        return frame


class PngFolderSink(SinkBase):
    """Writes frame k as ``<folder>/<k:08d>.png`` (each file written whole, then renamed into
    place); creates the folder (and its parents). ``replace``: the folder's old frames (names of
    the same pattern) are removed first, so the folder holds this run's sequence only. ``color``:
    what the frames' code values mean (the module text says what deep and HDR sources get)."""

    def __init__(self, folder: Path, bit_depth: int = 8, replace: bool = False, color: ColorInfo | None = None,
                 tone_mapping: str = DEFAULT_TONE_CURVE) -> None:
        super().__init__()
        self._color = color if color is not None and color.keeps_own_output else None
        self._tone_mapping = tone_mapping if self._color is not None and bit_depth == 8 and needs_mapping(self._color) \
            else None
        if self._tone_mapping is not None:
            assert self._color is not None
            log.warning("8-bit PNGs of a %s source: tone-mapped to SDR BT.709 with %s (--bit-depth 16 keeps the "
                        "source's values)", self._color.describe(), self._tone_mapping)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot create folder {folder}: {e.strerror or e}") from e
        if replace:
            remove_frames(folder, FRAME_PATTERN)
        self.folder = folder
        tagged = self._color is not None and bit_depth == 16 and needs_mapping(self._color)
        self._encoder = PngEncoder(bit_depth, self._color if tagged else None)
        self._closed = False

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        if self._closed:
            raise ValueError("write on a closed sink")
        image = self._check_image(image, dtypes=(np.uint8, np.uint16))
        if self._encoder.bit_depth == 8 and self._color is not None:
            if self._tone_mapping is not None:
                image = to_sdr_uint8(image, self._color, self._tone_mapping)
            elif image.dtype == np.uint16:
                image = narrow_to_uint8(image)
        data = self._encoder.encode(image)
        with signals.held():  # the file on disk and the count stay in step
            write_bytes(self.folder / frame_name(self._count), data)
            self._count += 1

    def close(self) -> None:
        # Each frame is complete on disk once write() returns: nothing to flush.
        self._closed = True
