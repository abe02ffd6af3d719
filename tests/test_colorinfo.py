"""rife_live/colorinfo.py: colour descriptions from tags and HDR10 side data, and back to the
encoders' parameter strings."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest

from rife_live.colorinfo import (DEFAULT_HDR_PEAK_NITS, REFERENCE_WHITE_NITS, ColorInfo, ContentLight, from_tags,
                                 light_from_side_data, mastering_from_side_data)
from tests import media
from tests.media import HDR10_MASTERING, mastering_side_data

def test_tags_and_guesses() -> None:
    hdr = from_tags(primaries=9, transfer=16, matrix="bt2020", color_range=1, bit_depth=10)
    assert (hdr.primaries, hdr.transfer, hdr.full_range) == ("bt2020", "smpte2084", False)
    assert hdr.hdr and hdr.deep
    assert from_tags(primaries=9, transfer=18, matrix="bt2020", color_range=2, bit_depth=10).full_range
    untagged = from_tags(primaries=2, transfer=None, matrix="bt2020", color_range=None, bit_depth=10)
    assert (untagged.primaries, untagged.transfer) == ("bt2020", "bt709")  # primaries guessed from the matrix
    assert from_tags(primaries=None, transfer=None, matrix="bt601", color_range=None, bit_depth=8) == \
        ColorInfo(matrix="bt601")
    assert not ColorInfo().keeps_own_output and ColorInfo(bit_depth=10).keeps_own_output
    assert ColorInfo(transfer="arib-std-b67").keeps_own_output  # 8-bit HDR keeps its meaning too


def test_mastering_side_data_round_trips_exactly() -> None:
    assert mastering_from_side_data(mastering_side_data(HDR10_MASTERING)) == HDR10_MASTERING
    assert mastering_from_side_data(mastering_side_data(HDR10_MASTERING, 0, 0)) is None
    assert mastering_from_side_data(b"\0" * 10) is None
    assert light_from_side_data(struct.pack("=2I", 1000, 400)) == ContentLight(1000, 400)
    assert light_from_side_data(struct.pack("=2I", 0, 0)) is None
    assert light_from_side_data(b"\1") is None


def test_encoder_parameter_strings() -> None:
    assert HDR10_MASTERING.x265() == media.HDR10_MASTER_DISPLAY  # x265's own units, G B R order
    assert HDR10_MASTERING.svt() == ("G(0.26500,0.69000)B(0.15000,0.06000)R(0.68000,0.32000)WP(0.31270,0.32900)"
                                     "L(1000.0000,0.0001)")


def test_peak_nits_prefers_maxcll_then_mastering() -> None:
    pq = ColorInfo(primaries="bt2020", transfer="smpte2084", bit_depth=10)
    assert pq.peak_nits == DEFAULT_HDR_PEAK_NITS
    assert replace(pq, mastering=HDR10_MASTERING).peak_nits == 1000.0
    assert replace(pq, mastering=HDR10_MASTERING, light=ContentLight(600, 200)).peak_nits == 600.0
    assert ColorInfo(bit_depth=10).peak_nits == REFERENCE_WHITE_NITS


@pytest.mark.parametrize("info, text", [
    (ColorInfo(), "bt709/bt709 8-bit limited"),
    (ColorInfo(primaries="bt2020", transfer="smpte2084", bit_depth=10, mastering=HDR10_MASTERING,
               light=ContentLight(1000, 400)),
     "bt2020/pq 10-bit limited, mastered 1000 nits, MaxCLL 1000"),
    (ColorInfo(primaries="bt2020", transfer="arib-std-b67", bit_depth=10, full_range=True), "bt2020/hlg 10-bit full"),
])
def test_describe(info: ColorInfo, text: str) -> None:
    assert info.describe() == text
