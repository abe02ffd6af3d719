"""rife_live/sinks/colorout.py: which encoder, pixel format, tags and HDR10 parameters an export of
each kind of source gets, and what its frames become (the files themselves: tests/test_export.py)."""

from __future__ import annotations

import logging
from dataclasses import replace

import av
import numpy as np
import pytest

from rife_live import color
from rife_live.colorinfo import ColorInfo, ContentLight, mastering_from_side_data
from rife_live.sinks import colorout
from tests.media import HDR10_MASTERING, mastering_side_data

HDR10 = ColorInfo(primaries="bt2020", transfer="smpte2084", matrix="bt2020", bit_depth=10,
                  mastering=mastering_from_side_data(mastering_side_data(HDR10_MASTERING)),
                  light=ContentLight(1000, 400))
SDR10 = ColorInfo(bit_depth=10)
SDR8 = ColorInfo()


@pytest.fixture
def containers(tmp_path):
    opened = {fmt: av.open(str(tmp_path / f"x.{ext}"), "w", format=fmt)
              for fmt, ext in (("matroska", "mkv"), ("mp4", "mp4"), ("webm", "webm"))}
    yield opened
    for container in opened.values():
        container.close()


def test_default_codec_and_pixel_format(containers) -> None:
    mkv, webm = containers["matroska"], containers["webm"]
    assert colorout.default_codec("matroska", None, mkv, "libx264") == "libx264"
    assert colorout.default_codec("matroska", SDR8, mkv, "libx264") == "libx264"  # 8-bit sources: as always
    assert colorout.default_codec("matroska", HDR10, mkv, "libx264") == "libx265"
    assert colorout.default_codec("matroska", SDR10, mkv, "libx264") == "libx265"
    assert colorout.default_codec("matroska", HDR10, mkv, "libx264", "yuv420p") == "libx264"  # 8 bits asked
    if "libsvtav1" in av.codecs_available:
        assert colorout.default_codec("webm", HDR10, webm, "libvpx-vp9") == "libsvtav1"
    x265, x264, vp9 = (av.Codec(n, "w") for n in ("libx265", "libx264", "libvpx-vp9"))
    assert colorout.default_pix_fmt(x265, HDR10) == "yuv420p10le"
    assert colorout.default_pix_fmt(x264, SDR8) == "yuv420p"
    assert colorout.default_pix_fmt(vp9, HDR10) == "yuv420p"  # this libvpx has no 10-bit: then 8 bits


def test_plans(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="rife_live")
    assert colorout.plan(None, "yuv420p") is None and colorout.plan(SDR8, "yuv420p10le") is None
    deep = colorout.plan(HDR10, "yuv420p10le")
    assert deep is not None and deep.tags == HDR10 and deep.depth == 16 and deep.tone_map is None
    assert not caplog.records
    mapped = colorout.plan(HDR10, "yuv420p", "hable")
    assert mapped is not None and mapped.tags == ColorInfo() and mapped.tone_map == "hable" and mapped.depth == 8
    assert len(caplog.records) == 1 and "tone-mapped to SDR BT.709 with hable" in caplog.records[0].getMessage()
    narrow = colorout.plan(replace(SDR10, primaries="bt2020", matrix="bt2020"), "yuv420p")
    assert narrow is not None and narrow.tone_map is None and narrow.tags.primaries == "bt2020"
    assert narrow.tags.bit_depth == 8


def test_frames_for_each_plan() -> None:
    rng = np.random.default_rng(11)
    frame = rng.integers(0, 65536, (6, 8, 3), dtype=np.uint16)
    deep = colorout.plan(HDR10, "yuv420p10le")
    pixels, fmt = deep.frame(frame)
    assert fmt == "rgb48le" and pixels is frame
    pixels, fmt = deep.frame(np.full((2, 2, 3), 255, np.uint8))
    assert fmt == "rgb48le" and (pixels == 65535).all()
    mapped = colorout.plan(HDR10, "yuv420p")
    pixels, fmt = mapped.frame(frame)
    assert fmt == "rgb24"
    np.testing.assert_array_equal(pixels, color.to_sdr_uint8(frame, HDR10))
    narrow = colorout.plan(SDR10, "yuv420p")
    np.testing.assert_array_equal(narrow.frame(frame)[0], color.narrow_to_uint8(frame))


def test_tags_on_an_encoder() -> None:
    ctx = av.CodecContext.create("libx265", "w")
    colorout.plan(HDR10, "yuv420p10le").tag_context(ctx)
    assert (ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range) == (9, 9, 16, 1)
    colorout.plan(HDR10, "yuv420p").tag_context(ctx)
    assert (ctx.colorspace, ctx.color_primaries, ctx.color_trc, ctx.color_range) == (1, 1, 1, 1)


def test_hdr10_parameters(caplog) -> None:
    caplog.set_level(logging.WARNING, logger="rife_live")
    x265 = colorout.hdr_options("libx265", HDR10, {"x265-params": "log-level=error", "crf": "20"})
    params = f"log-level=error:master-display={HDR10_MASTERING.x265()}:max-cll=1000,400"
    assert x265 == {"x265-params": params, "crf": "20"}
    x264 = colorout.hdr_options("libx264", HDR10, {})
    assert x264 == {"x264-params": f"master-display={HDR10_MASTERING.x265()}:cll=1000,400"}
    svt = colorout.hdr_options("libsvtav1", HDR10, {})
    assert svt == {"svtav1-params": f"mastering-display={HDR10_MASTERING.svt()}:content-light=1000,400"}
    assert colorout.hdr_options("libx265", SDR10, {"a": "b"}) == {"a": "b"}  # nothing to carry
    assert not caplog.records
    assert colorout.hdr_options("ffv1", HDR10, {}) == {}
    assert "cannot carry HDR10 metadata" in caplog.records[0].getMessage()
