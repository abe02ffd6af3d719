"""Renderer: pure layout functions, the vo table, and real drawing under Xvfb (llvmpipe)."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rife_live.errors import ConfigError
from rife_live.frames import FrameMeta
from rife_live.present import GpuVideoOutput, NullVideoOutput, WindowConfig, open_video_output
from rife_live.font import CELL_H, CELL_W, glyph_bits
from rife_live.present.renderer import OSD_FLOATS_PER_VERTEX, VERTICES_PER_QUAD, Rect, letterbox, osd_box, osd_vertices


BBB = Path(__file__).resolve().parent / "data" / "bigbuckbunny.mp4"
BBB_FRAME_INDEX = 40  # a frame with detail and colour


# ---------------------------------------------------------------- helpers

def av_frame(index: int = BBB_FRAME_INDEX):
    av = pytest.importorskip("av")
    if not BBB.exists():
        pytest.skip(f"{BBB} is missing")
    with av.open(str(BBB)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame
    raise AssertionError("bigbuckbunny has fewer frames than expected")


# ---------------------------------------------------------------- letterbox (pure)

FRAME_SIZES = [(1, 1), (2, 1), (1, 3), (4, 3), (16, 9), (9, 16), (7, 5), (321, 241), (1280, 720)]


def test_letterbox_exhaustive_small_windows():
    for frame_w, frame_h in FRAME_SIZES:
        for window_w in range(1, 61):
            for window_h in range(1, 61):
                rect = letterbox(window_w, window_h, frame_w, frame_h)
                assert 0 <= rect.x and 0 <= rect.y
                assert rect.x + rect.width <= window_w and rect.y + rect.height <= window_h
                assert rect.width >= 1 and rect.height >= 1
                assert rect.width == window_w or rect.height == window_h  # one side fills
                # centred: the two bars differ by at most one pixel, the extra one right/bottom
                assert 0 <= (window_w - rect.x - rect.width) - rect.x <= 1
                assert 0 <= (window_h - rect.y - rect.height) - rect.y <= 1
                # aspect kept: the side computed from the other is off by at most half a pixel
                error = abs(rect.height * frame_w - rect.width * frame_h) * 2
                if min(rect.width, rect.height) > 1:
                    assert error <= frame_w or error <= frame_h
                    if rect.width < window_w:
                        assert error <= frame_h
                    if rect.height < window_h:
                        assert error <= frame_w


def test_letterbox_known_cases():
    assert letterbox(1280, 720, 1280, 720) == Rect(0, 0, 1280, 720)
    assert letterbox(800, 600, 1280, 720) == Rect(0, 75, 800, 450)
    assert letterbox(1920, 1080, 640, 480) == Rect(240, 0, 1440, 1080)
    assert letterbox(801, 600, 1280, 720) == Rect(0, 74, 801, 451)  # 450.56 rounds up; 149 = 74 + 75
    assert letterbox(0, 600, 1280, 720) == Rect(0, 0, 0, 0)
    assert letterbox(800, 600, 0, 0) == Rect(0, 0, 0, 0)


# ---------------------------------------------------------------- OSD layout (pure)

def test_osd_layout():
    assert osd_box([], 2) == Rect(0, 0, 0, 0) and len(osd_vertices([], 2)) == 0
    lines = ["Interpolation: on", "x"]
    box = osd_box(lines, 2)
    assert box.width == 2 * (6 + 17 * CELL_W) and box.height == 2 * (6 + 2 * CELL_H)
    vertices = osd_vertices(lines, 2)
    visible_chars = sum(1 for line in lines for c in line if c != " ")
    assert vertices.shape == ((1 + visible_chars) * VERTICES_PER_QUAD, OSD_FLOATS_PER_VERTEX)
    xs, ys = vertices[:, 0], vertices[:, 1]
    assert xs.min() == box.x and xs.max() == box.x + box.width
    assert ys.min() == box.y and ys.max() == box.y + box.height


# ---------------------------------------------------------------- null vo and table

def test_null_vo_counts_frames_and_wakes():
    vo = open_video_output("null")
    assert isinstance(vo, NullVideoOutput)
    picture = np.zeros((4, 4, 3), np.uint8)
    for i in range(5):
        vo.show(picture, FrameMeta(pts=Fraction(i, 25), kind="interp" if i % 2 else "source"))
    vo.show(None)  # a redraw is not a new frame
    assert vo.frames_shown == 5 and vo.kinds == {"source": 3, "interp": 2}
    assert vo.poll_events() == [] and vo.read_back() is None and vo.refresh_rate() is None
    waker = threading.Timer(0.05, vo.wake)
    waker.start()
    assert vo.wait_events(30.0) == []  # returns on wake, long before the timeout
    waker.join()
    vo.close()


def test_unknown_vo_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown video output 'vdpau'"):
        open_video_output("vdpau")


# ---------------------------------------------------------------- GL under Xvfb


@pytest.fixture
def vo(display):
    output = GpuVideoOutput(WindowConfig(width=1280, height=720, swap_interval=0), osd_scale=2)
    try:
        assert output.window.wait_for_size(1280, 720)
        yield output
    finally:
        output.close()


@pytest.mark.gl
def test_rgb_frame_is_drawn_exactly(vo):
    rgb = av_frame().to_ndarray(format="rgb24")
    vo.show(rgb)
    assert np.array_equal(vo.read_back(), rgb)


@pytest.mark.gl
def test_odd_width_and_padded_rows(vo):
    vo.window.set_size(321, 241)
    assert vo.window.wait_for_size(321, 241)
    rgb = av_frame().to_ndarray(format="rgb24")
    odd = rgb[100:341, 200:521]  # 321x241 view with 1280-pixel rows: uploaded without a copy
    assert not odd.flags.c_contiguous
    vo.show(odd)
    assert np.array_equal(vo.read_back(), odd)


@pytest.mark.gl
def test_textures_allocated_once_per_size(vo):
    rgb = av_frame().to_ndarray(format="rgb24")
    vo.show(rgb)
    first = vo.renderer.texture_allocations
    for _ in range(3):
        vo.show(rgb)
    assert vo.renderer.texture_allocations == first
    vo.show(np.ascontiguousarray(rgb[:360, :640]))
    assert vo.renderer.texture_allocations == first + 1


@pytest.mark.gl
def test_letterbox_after_resize(vo):
    rgb = av_frame().to_ndarray(format="rgb24")
    rgb = np.maximum(rgb, 8)  # never black, so the image area is visible everywhere
    for size in ((800, 600), (1000, 300), (999, 333)):
        vo.window.set_size(*size)
        assert vo.window.wait_for_size(*size)
        vo.show(rgb)
        got = vo.read_back()
        assert got.shape == (size[1], size[0], 3)
        rect = letterbox(size[0], size[1], 1280, 720)
        inside = np.zeros(got.shape[:2], bool)
        inside[rect.y:rect.y + rect.height, rect.x:rect.x + rect.width] = True
        assert not got[~inside].any()  # bars are black
        assert got[inside].max(axis=-1).min() > 0  # the picture fills its rectangle
    events = vo.poll_events()
    assert any(getattr(e, "width", None) == 999 for e in events)


@pytest.mark.gl
def test_osd_text_draws_only_in_its_box(vo):
    lines = ["Interpolation: on", "fps 59.94 drop 0", "~{}|@#"]
    box = osd_box(lines, 2)
    black = np.zeros((720, 1280, 3), np.uint8)
    vo.set_osd(lines)
    vo.show(black)
    got = vo.read_back()
    white = (got == 255).all(axis=-1)
    set_bits = sum(int(glyph_bits(c).sum()) for line in lines for c in line)
    assert white.sum() == set_bits * 2 * 2  # every font pixel is 2x2 screen pixels
    lit = got.any(axis=-1)
    ys, xs = np.nonzero(lit)
    assert ys.min() >= box.y and ys.max() < box.y + box.height
    assert xs.min() >= box.x and xs.max() < box.x + box.width
    # over real footage: outside the box untouched, inside darkened or lettered
    rgb = av_frame().to_ndarray(format="rgb24")
    vo.set_osd([])
    vo.show(rgb)
    plain = vo.read_back()
    vo.set_osd(lines)
    vo.show(None)
    with_osd = vo.read_back()
    outside = np.ones((720, 1280), bool)
    outside[box.y:box.y + box.height, box.x:box.x + box.width] = False
    assert np.array_equal(with_osd[outside], plain[outside])
    assert (with_osd[~outside] != plain[~outside]).any(axis=-1).mean() > 0.9


@pytest.mark.gl
def test_show_none_redraws_and_read_back_needs_a_picture(vo):
    assert vo.read_back() is None
    rgb = av_frame().to_ndarray(format="rgb24")
    vo.show(rgb)
    vo.show(None)
    assert vo.frames_shown == 1
    assert np.array_equal(vo.read_back(), rgb)


