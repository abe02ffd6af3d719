"""Renderer: pure layout functions, the vo table, and real drawing under Xvfb (llvmpipe)."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rife_live import color
from rife_live.colorinfo import ColorInfo, ContentLight
from rife_live.errors import ConfigError
from rife_live.frames import FrameMeta
from rife_live.present import GpuVideoOutput, NullVideoOutput, WindowConfig, open_video_output
from rife_live.font import CELL_H, CELL_W, glyph_bits
from rife_live.present.renderer import (INCLUDE_MARK, OSD_FLOATS_PER_VERTEX, SHADER_DIR, SHADER_TRANSFERS,
                                        VERTICES_PER_QUAD, ColorUniforms, Rect, color_uniforms, letterbox, osd_box,
                                        osd_vertices, rgb_fragment_source, shader_defines)


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




# ---------------------------------------------------------------- colour mapping (DESIGN.md §11)

HDR10 = ColorInfo(primaries="bt2020", transfer="smpte2084", matrix="bt2020", bit_depth=10,
                  light=ContentLight(1000, 400))
HLG10 = ColorInfo(primaries="bt2020", transfer="arib-std-b67", matrix="bt2020", bit_depth=10)
PATCH_NITS = (0.5, 5.0, 20.0, 100.0, 203.0, 500.0, 1000.0, 4000.0)  # grey patches, top row
MID_GREY, WHITE, HIGHLIGHT = PATCH_NITS.index(20.0), PATCH_NITS.index(203.0), PATCH_NITS.index(1000.0)
COLOUR_PATCHES = ((0.0, 100.0, 0.0), (203.0, 0.0, 0.0), (0.0, 0.0, 50.0), (300.0, 200.0, 20.0))  # BT.2020 nits
PATCH_W, PATCH_H = 160, 360  # 8 x 2 patches fill the 1280x720 window, no scaling
SHADER_TOLERANCE = 2  # levels: float32 in GL against float64 in numpy, then 8-bit rounding


def patch_pattern(transfer: str) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """A 1280x720 uint16 frame of flat patches coded with ``transfer`` (PQ or HLG, BT.2020), and the
    centre of each patch (x, y): grey levels on the top row, colours on the bottom."""
    rows = [[(n, n, n) for n in PATCH_NITS], list(COLOUR_PATCHES)]
    image = np.zeros((2 * PATCH_H, 8 * PATCH_W, 3), np.float64)
    centres = []
    for r, row in enumerate(rows):
        for c, nits in enumerate(row):
            image[r * PATCH_H:(r + 1) * PATCH_H, c * PATCH_W:(c + 1) * PATCH_W] = nits
            centres.append((c * PATCH_W + PATCH_W // 2, r * PATCH_H + PATCH_H // 2))
    if transfer == "smpte2084":
        code = color.pq_inverse_eotf(image)
    else:
        code = color.hlg_oetf(color.hlg_inverse_ootf(image, color.luminance_weights("bt2020"), 1000.0))
    return np.rint(code * 65535).astype(np.uint16), centres


def patch_values(image: np.ndarray, centres: list[tuple[int, int]]) -> np.ndarray:
    return np.array([image[y, x].astype(int) for x, y in centres])


@pytest.mark.gl
@pytest.mark.parametrize("source", [HDR10, HLG10], ids=["pq", "hlg"])
def test_hdr_is_tone_mapped_like_the_reference(vo, source):
    frame, centres = patch_pattern(source.transfer)
    vo.show(frame, FrameMeta(pts=Fraction(0), color=source))
    shown = patch_values(vo.read_back(), centres)
    reference = patch_values(color.to_sdr_uint8(frame, source), centres)
    naive = patch_values(color.narrow_to_uint8(frame), centres)  # the code values shown as BT.709
    assert np.abs(shown - reference).max() <= SHADER_TOLERANCE
    grey = shown[:len(PATCH_NITS), 0]
    assert np.all(np.diff(grey) >= 0) and grey[-1] == 255  # monotonic; 4000 nits clipped to white
    if source.transfer == "smpte2084":
        # PQ read as SDR puts 1000 nits at 75 % (192): tone-mapped it is the window's white; reference
        # white (203 nits) sits at 58 % (148) naively and near the top (~230) when mapped, while
        # mid-grey (20 nits) stays within a few levels of the naive picture.
        assert naive[HIGHLIGHT, 0] < 200 and grey[HIGHLIGHT] >= 250
        assert grey[WHITE] - naive[WHITE, 0] > 60
        assert abs(int(grey[MID_GREY]) - int(naive[MID_GREY, 0])) < 15
    green = shown[len(PATCH_NITS)]
    assert green[1] > 150 and green[0] == 0 and green[2] == 0  # BT.2020 green clipped into BT.709


@pytest.fixture(params=["hable", "clip"])
def vo_curve(display, request):
    output = GpuVideoOutput(WindowConfig(width=1280, height=720, swap_interval=0, tone_mapping=request.param),
                            osd_scale=2)
    try:
        assert output.window.wait_for_size(1280, 720)
        yield output, request.param
    finally:
        output.close()


@pytest.mark.gl
def test_tone_mapping_curve_is_the_windows_choice(vo_curve):
    vo, curve = vo_curve
    frame, centres = patch_pattern(HDR10.transfer)
    vo.show(frame, FrameMeta(pts=Fraction(0), color=HDR10))
    shown = patch_values(vo.read_back(), centres)
    assert np.abs(shown - patch_values(color.to_sdr_uint8(frame, HDR10, curve), centres)).max() <= SHADER_TOLERANCE
    other = "bt.2390"
    assert np.abs(shown - patch_values(color.to_sdr_uint8(frame, HDR10, other), centres)).max() > 10


@pytest.mark.gl
def test_deep_sdr_frames_pass_through(vo):
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 65536, (720, 1280, 3), dtype=np.uint16)
    frame = np.repeat(np.repeat(frame[::8, ::8], 8, axis=0), 8, axis=1)  # 8x8 blocks: filtering changes nothing
    vo.show(frame, FrameMeta(pts=Fraction(0), color=ColorInfo(bit_depth=10)))
    diff = np.abs(vo.read_back().astype(int) - color.narrow_to_uint8(frame))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99  # the same code values, 16-bit texture to 8-bit screen


def test_color_uniforms():
    assert color_uniforms(None) == ColorUniforms()
    assert color_uniforms(ColorInfo(bit_depth=10)) == ColorUniforms()  # BT.709 SDR: passed through
    pq = color_uniforms(HDR10, "hable")
    assert pq.transfer == SHADER_TRANSFERS["TRANSFER_PQ"] and pq.curve == color.TONE_CURVE_IDS["hable"]
    assert pq.source_peak == 1000.0 and pq.target_peak == 203.0
    np.testing.assert_allclose(pq.gamut, color.gamut_matrix("bt2020"))
    sdr2020 = color_uniforms(ColorInfo(primaries="bt2020", bit_depth=10))
    assert sdr2020.transfer == SHADER_TRANSFERS["TRANSFER_SDR"]


def test_shader_constants_come_from_python():
    defines = shader_defines()
    for name in (*SHADER_TRANSFERS, "CURVE_BT2390", "CURVE_HABLE", "CURVE_CLIP", "PQ_M1", "HLG_C", "HABLE_F"):
        assert f"#define {name} " in defines
    source = rgb_fragment_source(SHADER_DIR)
    assert INCLUDE_MARK not in source and "vec3 map_color(vec3 code)" in source
