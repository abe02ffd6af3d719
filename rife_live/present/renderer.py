"""Draws frames with OpenGL 3.3 core: an RGB24 texture (or a CUDA frame through interop), letterboxed,
plus an OSD. Frames of sources deeper than 8 bits go up as 16-bit textures (RGB16).

Colour: the RGB program maps the source's code values to the SDR window (``shaders/color.glsl``,
the formulas of ``rife_live.color.to_sdr``): 8-bit and BT.709 SDR frames pass through untouched;
PQ and HLG are linearized, tone-mapped (``--tone-mapping``) and re-encoded with BT.1886, and other
primaries (BT.2020) are converted to BT.709 in linear light. ``color_uniforms`` says what the shader
gets for a ``ColorInfo``; the shader's constants come from Python (``shader_defines``), declared once.

Needs a current GL context (``present.window``). ``OpenGL.GL`` is imported when a ``Renderer``
is made, never when this module is imported, so the window can choose PyOpenGL's platform first.

Textures are allocated once per size (``glTexImage2D``) and refilled per frame
(``glTexSubImage2D``). Rows may be padded (numpy views): ``GL_UNPACK_ROW_LENGTH``
follows the array's row stride, so no copy is made; ``GL_UNPACK_ALIGNMENT`` is 1 for any width.

The OSD uses a built-in 5x8 bitmap font (printable ASCII) drawn from one R8 atlas texture as
alpha-blended quads over a translucent box; no font library is needed.
"""

from __future__ import annotations

import ctypes
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np

from rife_live import color as colormath
from rife_live.colorinfo import HLG, PQ, REFERENCE_WHITE_NITS, ColorInfo
from rife_live.font import (ATLAS_COLS, ATLAS_ROWS, CELL_H, CELL_W, FALLBACK_CHAR, FIRST_CHAR, LAST_CHAR,
                            SOLID_CELL, font_atlas, scale_for_height)

SHADER_DIR = Path(__file__).resolve().parent / "shaders"  # package data; the repo's top-level shaders/ links here

# ---------------------------------------------------------------- records


_log = logging.getLogger(__name__)
Picture = Union[np.ndarray, Any]  # an RGB24 HxWx3 uint8 (or RGB48 uint16) array, or a HxWx3 CUDA tensor


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle in window coordinates, origin top-left."""

    x: int
    y: int
    width: int
    height: int


# ---------------------------------------------------------------- pure functions

def letterbox(window_w: int, window_h: int, frame_w: int, frame_h: int) -> Rect:
    """The largest centred rectangle of the frame's aspect that fits the window.

    One side fills the window; the other is rounded to the nearest pixel (at least 1); when the
    leftover is odd the extra pixel goes to the right/bottom bar. An empty window or frame gives an
    empty rectangle.
    """
    if min(window_w, window_h, frame_w, frame_h) <= 0:
        return Rect(0, 0, 0, 0)
    if window_w * frame_h <= window_h * frame_w:  # window is narrower: bars top and bottom
        width = window_w
        height = max(1, (2 * window_w * frame_h + frame_w) // (2 * frame_w))
    else:  # window is wider: bars left and right
        height = window_h
        width = max(1, (2 * window_h * frame_w + frame_h) // (2 * frame_h))
    return Rect((window_w - width) // 2, (window_h - height) // 2, width, height)


# ---------------------------------------------------------------- colour mapping (pure)

SHADER_TRANSFERS = {"TRANSFER_NONE": 0, "TRANSFER_SDR": 1, "TRANSFER_PQ": 2, "TRANSFER_HLG": 3}
INCLUDE_MARK = "#pragma rife_include color"  # where rgb_frag.glsl takes color.glsl


@dataclass(frozen=True)
class ColorUniforms:
    """What the RGB program's colour mapping gets for one picture (``color_uniforms``)."""

    transfer: int = SHADER_TRANSFERS["TRANSFER_NONE"]
    curve: int = colormath.TONE_CURVE_IDS[colormath.DEFAULT_TONE_CURVE]
    gamut: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    luma: tuple[float, float, float] = (0.2126, 0.7152, 0.0722)
    source_peak: float = REFERENCE_WHITE_NITS
    target_peak: float = REFERENCE_WHITE_NITS
    hlg_gamma: float = colormath.HLG_GAMMA_BASE


def color_uniforms(color: ColorInfo | None, curve: str = colormath.DEFAULT_TONE_CURVE) -> ColorUniforms:
    """The shader's parameters for pictures of ``color`` (None: 8-bit BT.709, passed through)."""
    if color is None or not colormath.needs_mapping(color):
        return ColorUniforms()
    transfer = {PQ: "TRANSFER_PQ", HLG: "TRANSFER_HLG"}.get(color.transfer, "TRANSFER_SDR")
    gamut = colormath.gamut_matrix(color.primaries)
    return ColorUniforms(
        transfer=SHADER_TRANSFERS[transfer], curve=colormath.TONE_CURVE_IDS[curve],
        gamut=tuple(tuple(float(v) for v in row) for row in gamut),
        luma=tuple(float(v) for v in colormath.luminance_weights(color.primaries)),  # type: ignore[arg-type]
        source_peak=color.peak_nits, target_peak=REFERENCE_WHITE_NITS,
        hlg_gamma=colormath.hlg_system_gamma(color.peak_nits))


def shader_defines() -> str:
    """``#define`` lines of every constant color.glsl uses, from their Python declarations."""
    values: dict[str, object] = dict(SHADER_TRANSFERS)
    values.update({f"CURVE_{name.upper().replace('.', '')}": index
                   for name, index in colormath.TONE_CURVE_IDS.items()})
    values.update({"PQ_M1": colormath.PQ_M1, "PQ_M2": colormath.PQ_M2, "PQ_C1": colormath.PQ_C1,
                   "PQ_C2": colormath.PQ_C2, "PQ_C3": colormath.PQ_C3, "PQ_MAX_NITS": colormath.PQ_MAX_NITS,
                   "HLG_A": colormath.HLG_A, "HLG_B": colormath.HLG_B, "HLG_C": colormath.HLG_C,
                   "SDR_GAMMA": colormath.SDR_GAMMA, "SIGNAL_FLOOR": colormath.SIGNAL_FLOOR})
    values.update({f"HABLE_{letter}": value for letter, value in zip("ABCDEF", colormath.HABLE)})
    return "".join(f"#define {name} {float(v)!r}\n" if isinstance(v, float) else f"#define {name} {v}\n"
                   for name, v in values.items())


def rgb_fragment_source(shader_dir: Path) -> str:
    """rgb_frag.glsl with color.glsl and its constants in place of ``INCLUDE_MARK``."""
    main = (shader_dir / "rgb_frag.glsl").read_text()
    if INCLUDE_MARK not in main:
        raise RuntimeError(f"rgb_frag.glsl lacks the line {INCLUDE_MARK!r}")
    return main.replace(INCLUDE_MARK, shader_defines() + (shader_dir / "color.glsl").read_text())


# ---------------------------------------------------------------- OSD layout

OSD_MARGIN = 4  # font pixels from the window's top-left corner to the box
OSD_PADDING = 3  # font pixels between the box edge and the text
OSD_BOX_RGBA = (0.0, 0.0, 0.0, 0.6)
OSD_TEXT_RGBA = (1.0, 1.0, 1.0, 1.0)
OSD_FLOATS_PER_VERTEX = 8  # x, y, u, v, r, g, b, a
VERTICES_PER_QUAD = 6


def osd_box(lines: Sequence[str], scale: int) -> Rect:
    """Where the OSD box goes (window pixels, top-left origin); empty when there is no text."""
    columns = max((len(line) for line in lines), default=0)
    if columns == 0:
        return Rect(0, 0, 0, 0)
    return Rect(OSD_MARGIN * scale, OSD_MARGIN * scale,
                (2 * OSD_PADDING + columns * CELL_W) * scale,
                (2 * OSD_PADDING + len(lines) * CELL_H) * scale)


def _cell_uv(index: int) -> tuple[float, float, float, float]:
    row, col = divmod(index, ATLAS_COLS)
    atlas_w, atlas_h = ATLAS_COLS * CELL_W, ATLAS_ROWS * CELL_H
    return (col * CELL_W / atlas_w, row * CELL_H / atlas_h,
            (col + 1) * CELL_W / atlas_w, (row + 1) * CELL_H / atlas_h)


def _quad(rect: tuple[float, float, float, float], uv: tuple[float, float, float, float],
          rgba: tuple[float, ...]) -> list[list[float]]:
    x0, y0, x1, y1 = rect
    u0, v0, u1, v1 = uv
    corners = [(x0, y0, u0, v0), (x1, y0, u1, v0), (x0, y1, u0, v1),
               (x0, y1, u0, v1), (x1, y0, u1, v0), (x1, y1, u1, v1)]
    return [[*corner, *rgba] for corner in corners]


def osd_vertices(lines: Sequence[str], scale: int) -> np.ndarray:
    """Triangles (N x 8 float32: x, y, u, v, rgba) for the box and every non-blank character."""
    box = osd_box(lines, scale)
    if box.width == 0:
        return np.zeros((0, OSD_FLOATS_PER_VERTEX), np.float32)
    rows = _quad((box.x, box.y, box.x + box.width, box.y + box.height), _cell_uv(SOLID_CELL),
                 OSD_BOX_RGBA)
    origin_x, origin_y = box.x + OSD_PADDING * scale, box.y + OSD_PADDING * scale
    for line_no, line in enumerate(lines):
        for col, char in enumerate(line):
            if char == " ":
                continue
            code = ord(char) if FIRST_CHAR <= ord(char) <= LAST_CHAR else ord(FALLBACK_CHAR)
            x = origin_x + col * CELL_W * scale
            y = origin_y + line_no * CELL_H * scale
            rows += _quad((x, y, x + CELL_W * scale, y + CELL_H * scale),
                          _cell_uv(code - FIRST_CHAR), OSD_TEXT_RGBA)
    return np.asarray(rows, np.float32)


# ---------------------------------------------------------------- GL objects

def _load_gl() -> Any:
    from OpenGL import GL  # deferred: PyOpenGL fixes its platform on this import

    return GL


def _compile_program(gl: Any, vertex_src: str, fragment_src: str, name: str) -> int:
    shaders = []
    for kind, src in ((gl.GL_VERTEX_SHADER, vertex_src), (gl.GL_FRAGMENT_SHADER, fragment_src)):
        shader = gl.glCreateShader(kind)
        gl.glShaderSource(shader, src)
        gl.glCompileShader(shader)
        if not gl.glGetShaderiv(shader, gl.GL_COMPILE_STATUS):
            log = gl.glGetShaderInfoLog(shader)
            raise RuntimeError(f"shader {name} does not compile: {log!r}")
        shaders.append(shader)
    program = gl.glCreateProgram()
    for shader in shaders:
        gl.glAttachShader(program, shader)
    gl.glLinkProgram(program)
    for shader in shaders:
        gl.glDeleteShader(shader)
    if not gl.glGetProgramiv(program, gl.GL_LINK_STATUS):
        raise RuntimeError(f"shader program {name} does not link: {gl.glGetProgramInfoLog(program)!r}")
    return program


def _uploadable(array: np.ndarray, channels: int, dtype: np.dtype = np.dtype(np.uint8)) -> tuple[np.ndarray, int]:
    """The array (or a contiguous copy when its layout can't be described) and its row length
    in pixels for GL_UNPACK_ROW_LENGTH."""
    if array.dtype != dtype:
        raise ValueError(f"expected {np.dtype(dtype).name} pixels, got {array.dtype}")
    item = array.itemsize
    pixel = channels * item
    pixel_stride = array.strides[1]
    rows_ok = (pixel_stride == pixel and (array.ndim == 2 or array.strides[2] == item)
               and array.strides[0] >= array.shape[1] * pixel
               and array.strides[0] % pixel == 0)
    if not rows_ok:
        array = np.ascontiguousarray(array)
    return array, array.strides[0] // pixel


class _Texture:
    """A 2-D texture reallocated only when the picture size changes."""

    def __init__(self, gl: Any, internal_format: int, pixel_format: int, channels: int,
                 filtering: int, pixel_type: int | None = None, dtype: np.dtype = np.dtype(np.uint8)) -> None:
        self._gl = gl
        self.id = gl.glGenTextures(1)
        self.size: tuple[int, int] | None = None  # (width, height)
        self.allocations = 0
        self._internal_format, self._format, self._channels = internal_format, pixel_format, channels
        self._type = gl.GL_UNSIGNED_BYTE if pixel_type is None else pixel_type
        self.dtype = np.dtype(dtype)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        for param, value in ((gl.GL_TEXTURE_MIN_FILTER, filtering),
                             (gl.GL_TEXTURE_MAG_FILTER, filtering),
                             (gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE),
                             (gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, param, value)

    def upload(self, pixels: np.ndarray) -> None:
        gl = self._gl
        expected_ndim = 2 if self._channels == 1 else 3
        if pixels.ndim != expected_ndim or (expected_ndim == 3 and pixels.shape[2] != self._channels):
            raise ValueError(f"expected {self._channels}-channel pixels, got shape {pixels.shape}")
        pixels, row_length = _uploadable(pixels, self._channels, self.dtype)
        height, width = pixels.shape[:2]
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, row_length)
        if self.size != (width, height):
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, self._internal_format, width, height, 0,
                            self._format, self._type, None)
            self.size = (width, height)
            self.allocations += 1
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, width, height, self._format,
                           self._type, ctypes.c_void_p(pixels.ctypes.data))
        gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, 0)

    def delete(self) -> None:
        self._gl.glDeleteTextures([self.id])


class Renderer:
    """Uploads pictures and draws the latest one letterboxed with the OSD on top.

    Create and use it on the thread whose GL context is current (the main thread).
    """

    def __init__(self, shader_dir: Path = SHADER_DIR, osd_scale: int | None = None,
                 tone_mapping: str = colormath.DEFAULT_TONE_CURVE) -> None:
        gl = self._gl = _load_gl()
        self.osd_scale = osd_scale  # None: follow the window height (font.scale_for_height)
        self.tone_mapping = tone_mapping
        source = {name: (shader_dir / f"{name}.glsl").read_text() for name in ("video_vert", "osd_vert", "osd_frag")}
        source["rgb_frag"] = rgb_fragment_source(shader_dir)
        self._rgb_program = _compile_program(gl, source["video_vert"], source["rgb_frag"], "rgb")
        self._osd_program = _compile_program(gl, source["osd_vert"], source["osd_frag"], "osd")
        self._video_vao = gl.glGenVertexArrays(1)  # core profile needs one bound to draw
        self._rgb = _Texture(gl, gl.GL_RGB8, gl.GL_RGB, 3, gl.GL_LINEAR)
        self._rgb16 = _Texture(gl, gl.GL_RGB16, gl.GL_RGB, 3, gl.GL_LINEAR, gl.GL_UNSIGNED_SHORT, np.dtype(np.uint16))
        self._uniforms = ColorUniforms()  # the colour mapping of the picture to draw
        self._atlas = _Texture(gl, gl.GL_R8, gl.GL_RED, 1, gl.GL_NEAREST)
        self._atlas.upload(font_atlas())
        self._osd_vao = gl.glGenVertexArrays(1)
        self._osd_vbo = gl.glGenBuffers(1)
        self._setup_osd_layout()
        self._set_sampler_units()
        self._picture: tuple[int, int] | None = None  # (width, height) of the picture to draw
        self._osd_lines: tuple[str, ...] = ()
        self._osd_key: tuple[tuple[str, ...], int] | None = None
        self._osd_count = 0
        # CUDA-GL interop for frames already on the GPU: opened on the first such frame; when it is
        # not available (reason logged once), those frames go through host memory instead.
        self._interop: Any = None
        self._interop_tried = False
        self._rgb_source = self._rgb.id  # the texture the RGB program samples

    def _setup_osd_layout(self) -> None:
        gl = self._gl
        gl.glBindVertexArray(self._osd_vao)
        gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self._osd_vbo)
        stride = OSD_FLOATS_PER_VERTEX * 4
        for location, (size, offset) in enumerate(((2, 0), (2, 2), (4, 4))):
            gl.glEnableVertexAttribArray(location)
            gl.glVertexAttribPointer(location, size, gl.GL_FLOAT, gl.GL_FALSE, stride,
                                     ctypes.c_void_p(offset * 4))
        gl.glBindVertexArray(0)

    def _set_sampler_units(self) -> None:
        gl = self._gl
        for program, names in ((self._rgb_program, ("u_rgb",)),
                               (self._osd_program, ("u_atlas",))):
            gl.glUseProgram(program)
            for unit, name in enumerate(names):
                gl.glUniform1i(gl.glGetUniformLocation(program, name), unit)
        gl.glUseProgram(0)

    # -- frames
    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the current picture, or None before the first upload."""
        return self._picture

    @property
    def texture_allocations(self) -> int:
        """How many times a video texture was (re)allocated: once per size and format."""
        return self._rgb.allocations + self._rgb16.allocations

    def upload(self, picture: Picture, color: ColorInfo | None = None) -> None:
        """Make ``picture`` the one to draw: RGB24 (H x W x 3 uint8), RGB48 (uint16) or a CUDA
        tensor; ``color`` says what its code values mean (None: BT.709 SDR)."""
        self._uniforms = color_uniforms(color, self.tone_mapping)
        if getattr(picture, "is_cuda", False):
            if picture.element_size() == 1 and self._upload_cuda(picture):  # interop takes uint8 frames
                return
            picture = picture.cpu().numpy()
        texture = self._rgb16 if picture.dtype == np.uint16 else self._rgb
        texture.upload(picture)
        self._rgb_source = texture.id
        self._picture = (int(picture.shape[1]), int(picture.shape[0]))

    def _upload_cuda(self, picture: Any) -> bool:
        """Copy a CUDA frame into a GL texture on the GPU; False when interop is not available."""
        from rife_live.present.interop import InteropError, open_interop

        if not self._interop_tried:
            self._interop_tried = True
            self._interop = open_interop(self._gl, _log.info)
        if self._interop is None:
            return False
        try:
            self._interop.upload(picture)
        except InteropError as exc:
            _log.info("CUDA-GL interop off: %s; frames are uploaded from host memory", exc)
            self._interop.close()
            self._interop = None
            return False
        self._rgb_source = self._interop.texture
        self._picture = (int(picture.shape[1]), int(picture.shape[0]))
        return True

    def set_osd(self, lines: Sequence[str]) -> None:
        """Text lines drawn top-left over the video from the next draw on; () hides the OSD."""
        self._osd_lines = tuple(lines)

    def draw(self, window_w: int, window_h: int) -> Rect:
        """Clear to black, draw the picture letterboxed and the OSD; return the picture's rect."""
        gl = self._gl
        gl.glViewport(0, 0, window_w, window_h)
        gl.glDisable(gl.GL_BLEND)
        gl.glClearColor(0.0, 0.0, 0.0, 1.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        rect = Rect(0, 0, 0, 0)
        size = self.frame_size
        if size is not None:
            rect = letterbox(window_w, window_h, *size)
            if rect.width > 0:
                self._draw_picture(rect, window_h)
        self._draw_osd(window_w, window_h)
        return rect

    def _draw_picture(self, rect: Rect, window_h: int) -> None:
        gl = self._gl
        gl.glViewport(rect.x, window_h - rect.y - rect.height, rect.width, rect.height)
        gl.glUseProgram(self._rgb_program)
        self._set_color_uniforms()
        textures = [self._rgb_source]
        for unit, tex in enumerate(textures):
            gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
            gl.glBindTexture(gl.GL_TEXTURE_2D, tex)
        gl.glBindVertexArray(self._video_vao)
        gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)
        gl.glBindVertexArray(0)
        gl.glActiveTexture(gl.GL_TEXTURE0)

    def _set_color_uniforms(self) -> None:
        gl, program, u = self._gl, self._rgb_program, self._uniforms

        def at(name: str) -> int:
            return gl.glGetUniformLocation(program, name)

        gl.glUniform1i(at("u_transfer"), u.transfer)
        gl.glUniform1i(at("u_curve"), u.curve)
        gl.glUniformMatrix3fv(at("u_gamut"), 1, gl.GL_TRUE, np.asarray(u.gamut, np.float32))  # row-major
        gl.glUniform3f(at("u_luma"), *u.luma)
        gl.glUniform1f(at("u_source_peak"), u.source_peak)
        gl.glUniform1f(at("u_target_peak"), u.target_peak)
        gl.glUniform1f(at("u_hlg_gamma"), u.hlg_gamma)

    def _draw_osd(self, window_w: int, window_h: int) -> None:
        if not self._osd_lines or window_w <= 0 or window_h <= 0:
            return
        gl = self._gl
        scale = self.osd_scale or scale_for_height(window_h)
        gl.glBindBuffer(gl.GL_ARRAY_BUFFER, self._osd_vbo)
        if self._osd_key != (self._osd_lines, scale):
            vertices = osd_vertices(self._osd_lines, scale)
            gl.glBufferData(gl.GL_ARRAY_BUFFER, vertices.nbytes, vertices, gl.GL_DYNAMIC_DRAW)
            self._osd_key, self._osd_count = (self._osd_lines, scale), len(vertices)
        gl.glViewport(0, 0, window_w, window_h)
        gl.glEnable(gl.GL_BLEND)
        gl.glBlendFunc(gl.GL_SRC_ALPHA, gl.GL_ONE_MINUS_SRC_ALPHA)
        gl.glUseProgram(self._osd_program)
        gl.glUniform2f(gl.glGetUniformLocation(self._osd_program, "u_viewport"),
                       float(window_w), float(window_h))
        gl.glActiveTexture(gl.GL_TEXTURE0)
        gl.glBindTexture(gl.GL_TEXTURE_2D, self._atlas.id)
        gl.glBindVertexArray(self._osd_vao)
        gl.glDrawArrays(gl.GL_TRIANGLES, 0, self._osd_count)
        gl.glBindVertexArray(0)
        gl.glDisable(gl.GL_BLEND)

    def read_back(self, window_w: int, window_h: int) -> np.ndarray:
        """The drawn (back) buffer as H x W x 3 uint8, top row first. Call before swapping."""
        gl = self._gl
        out = np.empty((window_h, window_w, 3), np.uint8)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        gl.glReadBuffer(gl.GL_BACK)
        gl.glReadPixels(0, 0, window_w, window_h, gl.GL_RGB, gl.GL_UNSIGNED_BYTE,
                        ctypes.c_void_p(out.ctypes.data))
        return out[::-1].copy()

    def close(self) -> None:
        """Free the GL objects (the context must still be current)."""
        gl = self._gl
        if self._interop is not None:
            self._interop.close()
            self._interop = None
        for tex in (self._rgb, self._rgb16, self._atlas):
            tex.delete()
        gl.glDeleteBuffers(1, [self._osd_vbo])
        gl.glDeleteVertexArrays(2, [self._video_vao, self._osd_vao])
        for program in (self._rgb_program, self._osd_program):
            gl.glDeleteProgram(program)
