"""pipeline/convert.py: decoded pictures into upright RGB ring slots."""

from __future__ import annotations

import av
import numpy as np

from rife_live.colorinfo import ColorInfo
from rife_live.frames import VideoInfo
from rife_live.pipeline.convert import FrameConverter, convert_frame, frame_dtype, make_frame_ring, stored_size


def test_convert_frame_rotates_into_the_slot() -> None:
    rgb = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    out = np.zeros((6, 4, 3), np.uint8)
    convert_frame(frame, out, colorspace="bt601", rotation=90)
    np.testing.assert_array_equal(out, np.rot90(rgb, k=-1))  # 90 clockwise
    convert_frame(frame, out, colorspace="bt601", rotation=270)
    np.testing.assert_array_equal(out, np.rot90(rgb, k=1))


def test_converter_scales_a_size_change_and_counts_it() -> None:
    video = VideoInfo(width=8, height=6, fps=None, duration=None, codec="h264", pix_fmt="yuv420p")
    converter = FrameConverter(video)
    ring = make_frame_ring(video, 2)
    slot = ring.claim(timeout=0)
    assert slot is not None and slot.shape == (6, 8, 3) and stored_size(video) == (8, 6)
    converter.convert(av.VideoFrame.from_ndarray(np.full((6, 8, 3), 90, np.uint8), format="rgb24"), slot)
    assert converter.resized == 0 and (slot == 90).all()
    converter.convert(av.VideoFrame.from_ndarray(np.full((12, 16, 3), 30, np.uint8), format="rgb24"), slot)
    assert converter.resized == 1 and (slot == 30).all()


def test_deep_sources_get_16bit_slots_and_keep_their_precision() -> None:
    deep = VideoInfo(width=8, height=6, fps=None, duration=None, codec="hevc", pix_fmt="yuv420p10le",
                     colorspace="bt2020", color=ColorInfo(primaries="bt2020", matrix="bt2020", bit_depth=10))
    eight = VideoInfo(width=8, height=6, fps=None, duration=None, codec="h264", pix_fmt="yuv420p")
    assert frame_dtype(deep) == np.uint16 and frame_dtype(eight) == np.uint8
    slot = make_frame_ring(deep, 1).claim(timeout=0)
    assert slot is not None and slot.dtype == np.uint16
    rgb = ((np.arange(6 * 8 * 3).reshape(6, 8, 3) * 1331) % 60000 + 2000).astype(np.uint16)  # not 8-bit values
    source = av.VideoFrame.from_ndarray(rgb, format="rgb48le").reformat(format="yuv444p10le", dst_colorspace="bt2020")
    FrameConverter(deep).convert(source, slot)
    np.testing.assert_array_equal(slot, source.to_ndarray(format="rgb48le", src_colorspace="bt2020"))
    assert np.any(slot % 257)  # values between the 8-bit ones: no 8-bit round trip
