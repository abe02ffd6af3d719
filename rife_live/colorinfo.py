"""Colour descriptions: what the code values of a stream mean (DESIGN.md §11).

``ColorInfo`` says it once per stream: primaries, transfer, YUV matrix, range, bit depth, and the
HDR10 metadata (mastering display, content light level). Sources fill it from PyAV's frame and
stream properties (``from_tags``, ``mastering_from_side_data``, ``light_from_side_data``); it
travels on ``VideoInfo.color`` and on every ``FrameMeta.color``; the encoder writes it back as
tags and encoder parameters; the window and the 8-bit outputs read it to tone-map.

Names are FFmpeg's (``av_color_primaries_name`` etc.); the integer tables are libavutil's
``AVColorPrimaries``, ``AVColorTransferCharacteristic`` and ``AVColorSpace`` values. Pure: no
PyAV objects are kept, only numbers and names.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from fractions import Fraction

# -- the tag tables (libavutil/pixfmt.h) ----------------------------------------------------------
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
             10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213"}
TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear",
             13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12", 16: "smpte2084", 18: "arib-std-b67"}
# AVColorSpace -> the matrix names of VideoInfo.colorspace (BT.601's two tags are one matrix; BT.2020's
# constant-luminance matrix is converted as the non-constant one, as swscale does).
MATRICES = {1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
# ... and back to libavutil's tag, and to swscale's name of the matrix (PyAV's Colorspace enum).
MATRIX_TAGS = {"bt709": 1, "fcc": 4, "bt601": 6, "smpte240m": 7, "bt2020": 9}  # written on output
SWS_MATRICES = {"bt709": "itu709", "bt601": "itu601", "bt2020": "bt2020", "smpte240m": "smpte240m", "fcc": "fcc"}
PRIMARY_TAGS = {name: tag for tag, name in PRIMARIES.items()}
TRANSFER_TAGS = {name: tag for tag, name in TRANSFERS.items()}
RANGE_LIMITED, RANGE_FULL = 1, 2  # AVCOL_RANGE_MPEG, AVCOL_RANGE_JPEG

PQ = "smpte2084"
HLG = "arib-std-b67"
HDR_TRANSFERS = (PQ, HLG)
SDR_TRANSFER = "bt709"
SDR_PRIMARIES = "bt709"
SHORT_NAMES = {PQ: "pq", HLG: "hlg", "iec61966-2-1": "srgb"}  # how the OSD names a transfer

WIDEN_8_TO_16 = 257  # an 8-bit code value as 16 bits: 255 * 257 == 65535
REFERENCE_WHITE_NITS = 203.0  # ITU-R BT.2408: diffuse white of HDR, and SDR's 1.0 when HDR is shown as SDR
DEFAULT_HDR_PEAK_NITS = 1000.0  # PQ without metadata (the usual mastering peak), and HLG's nominal peak

# HDR10 side data as libavutil lays it out (libavutil/mastering_display_metadata.h):
# AVMasteringDisplayMetadata: AVRational display_primaries[3][2] (R, G, B), white_point[2],
# min_luminance, max_luminance; int has_primaries, has_luminance. AVContentLightMetadata: unsigned
# MaxCLL, MaxFALL.
_MASTERING = struct.Struct("=20i2i")
_LIGHT = struct.Struct("=2I")
CHROMATICITY_UNIT = Fraction(1, 50000)  # HEVC/x265 units of the mastering primaries
LUMINANCE_UNIT = Fraction(1, 10000)  # HEVC/x265 units of the mastering luminance (cd/m2)


@dataclass(frozen=True)
class MasteringDisplay:
    """SMPTE ST 2086: the display the content was graded on. Chromaticities are CIE 1931 (x, y);
    luminances in cd/m2 (nits). Exact fractions, so values survive a round trip unchanged."""

    red: tuple[Fraction, Fraction]
    green: tuple[Fraction, Fraction]
    blue: tuple[Fraction, Fraction]
    white: tuple[Fraction, Fraction]
    min_luminance: Fraction
    max_luminance: Fraction

    def x265(self) -> str:
        """libx265's ``master-display`` value: G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min) in its units."""
        def xy(point: tuple[Fraction, Fraction]) -> str:
            return ",".join(str(round(v / CHROMATICITY_UNIT)) for v in point)

        lum = f"{round(self.max_luminance / LUMINANCE_UNIT)},{round(self.min_luminance / LUMINANCE_UNIT)}"
        return f"G({xy(self.green)})B({xy(self.blue)})R({xy(self.red)})WP({xy(self.white)})L({lum})"

    def svt(self) -> str:
        """SVT-AV1's ``mastering-display`` value: the same order, in decimal units."""
        def xy(point: tuple[Fraction, Fraction]) -> str:
            return ",".join(f"{float(v):.5f}" for v in point)

        lum = f"{float(self.max_luminance):.4f},{float(self.min_luminance):.4f}"
        return f"G({xy(self.green)})B({xy(self.blue)})R({xy(self.red)})WP({xy(self.white)})L({lum})"


@dataclass(frozen=True)
class ContentLight:
    """CTA-861.3: the brightest pixel (MaxCLL) and brightest frame average (MaxFALL), in nits."""

    max_cll: int
    max_fall: int


@dataclass(frozen=True)
class ColorInfo:
    """What a stream's code values mean. The default is today's assumption for 8-bit video:
    BT.709 primaries, transfer and matrix, limited range."""

    primaries: str = SDR_PRIMARIES
    transfer: str = SDR_TRANSFER
    matrix: str = "bt709"  # the YUV matrix the source is converted with (= VideoInfo.colorspace)
    full_range: bool = False
    bit_depth: int = 8
    mastering: MasteringDisplay | None = None
    light: ContentLight | None = None

    @property
    def hdr(self) -> bool:
        """PQ or HLG: the code values are HDR and need tone mapping on an SDR output."""
        return self.transfer in HDR_TRANSFERS

    @property
    def deep(self) -> bool:
        """More than 8 bits per component: the pipeline keeps 16-bit frames (DESIGN.md §11)."""
        return self.bit_depth > 8

    @property
    def keeps_own_output(self) -> bool:
        """Whether an export should keep this colour description (10-bit, the same tags) by default
        instead of today's 8-bit BT.709 output: deep or HDR sources."""
        return self.deep or self.hdr

    @property
    def peak_nits(self) -> float:
        """The brightest level the content reaches, for tone mapping: MaxCLL when given, else the
        mastering display's peak, else 1000 nits (HDR) or reference white (SDR)."""
        if not self.hdr:
            return REFERENCE_WHITE_NITS
        if self.light is not None and self.light.max_cll > 0:
            return float(self.light.max_cll)
        if self.mastering is not None and self.mastering.max_luminance > 0:
            return float(self.mastering.max_luminance)
        return DEFAULT_HDR_PEAK_NITS

    def describe(self) -> str:
        """One line for the OSD and the start-up line: ``bt2020/pq 10-bit limited, 1000 nits``."""
        transfer = SHORT_NAMES.get(self.transfer, self.transfer)
        text = f"{self.primaries}/{transfer} {self.bit_depth}-bit {'full' if self.full_range else 'limited'}"
        if self.mastering is not None:
            text += f", mastered {float(self.mastering.max_luminance):g} nits"
        if self.light is not None:
            text += f", MaxCLL {self.light.max_cll}"
        return text


# -- from PyAV's properties --------------------------------------------------------------------------

def guess_primaries(matrix: str) -> str:
    """Untagged primaries, as players guess them: BT.2020 with the BT.2020 matrix, else BT.709."""
    return "bt2020" if matrix == "bt2020" else SDR_PRIMARIES


def from_tags(*, primaries: int | None, transfer: int | None, matrix: str, color_range: int | None,
              bit_depth: int, mastering: MasteringDisplay | None = None,
              light: ContentLight | None = None) -> ColorInfo:
    """A ``ColorInfo`` from libavutil's tag values (unknown or unspecified ones guessed: primaries
    from the matrix, transfer BT.709, range limited)."""
    return ColorInfo(
        primaries=PRIMARIES.get(int(primaries or 0), guess_primaries(matrix)),
        transfer=TRANSFERS.get(int(transfer or 0), SDR_TRANSFER),
        matrix=matrix,
        full_range=color_range == RANGE_FULL,
        bit_depth=bit_depth,
        mastering=mastering,
        light=light,
    )


def mastering_from_side_data(data: bytes) -> MasteringDisplay | None:
    """Parse libavutil's ``AVMasteringDisplayMetadata`` bytes; None when it is short or says it
    carries neither primaries nor luminance."""
    if len(data) < _MASTERING.size:
        return None
    values = _MASTERING.unpack_from(data)
    rationals = [Fraction(values[i], values[i + 1]) if values[i + 1] else Fraction(0) for i in range(0, 20, 2)]
    has_primaries, has_luminance = values[20], values[21]
    if not has_primaries and not has_luminance:
        return None
    red, green, blue, white = (tuple(rationals[i:i + 2]) for i in range(0, 8, 2))
    return MasteringDisplay(red=red, green=green, blue=blue, white=white,  # type: ignore[arg-type]
                            min_luminance=rationals[8], max_luminance=rationals[9])


def light_from_side_data(data: bytes) -> ContentLight | None:
    """Parse libavutil's ``AVContentLightMetadata`` bytes; None when short or empty."""
    if len(data) < _LIGHT.size:
        return None
    max_cll, max_fall = _LIGHT.unpack_from(data)
    return ContentLight(max_cll, max_fall) if max_cll or max_fall else None
