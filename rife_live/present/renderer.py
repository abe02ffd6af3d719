"""Draws frames with OpenGL 3.3 core: RGB24 or Y/U/V 4:2:0 textures, letterboxed, plus an OSD.

Needs a current GL context (``present.window``). ``OpenGL.GL`` is imported when a ``Renderer``
is made, never when this module is imported, so the window can choose PyOpenGL's platform first.

Textures are allocated once per size (``glTexImage2D``) and refilled per frame
(``glTexSubImage2D``). Rows may be padded (PyAV planes, numpy views): ``GL_UNPACK_ROW_LENGTH``
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

from rife_live.font import (ATLAS_COLS, ATLAS_ROWS, CELL_H, CELL_W, FALLBACK_CHAR, FIRST_CHAR, LAST_CHAR,
                            SOLID_CELL, font_atlas, scale_for_height)

SHADER_DIR = Path(__file__).resolve().parent / "shaders"  # package data; the repo's top-level shaders/ links here

# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class YuvPlanes:
    """One 8-bit 4:2:0 picture as three 2-D uint8 planes (rows may be padded views).

    ``colorspace`` is the matrix ("bt709" or "bt601"); ``full_range`` False means limited range
    (Y 16..235, Cb/Cr 16..240), the norm for video.
    """

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    colorspace: str = "bt709"
    full_range: bool = False

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])


_log = logging.getLogger(__name__)
Picture = Union[np.ndarray, YuvPlanes, Any]  # an RGB24 HxWx3 uint8 array, planes, or a HxWx3 uint8 CUDA tensor


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


# Luma coefficients (Kr, Kb) of the colour matrices
COLOR_MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114)}
HD_MIN_HEIGHT = 720  # BT.709 from this height up (or HD_MIN_WIDTH wide), BT.601 below
HD_MIN_WIDTH = 1280
LIMITED_Y = (16, 219)  # 8-bit offset and span
LIMITED_C = (128, 224)
FULL_C = (128, 255)
BYTE_MAX = 255


def colorspace_for_size(width: int, height: int) -> str:
    """The usual matrix of an untagged stream: BT.709 for HD, BT.601 for SD."""
    return "bt709" if height >= HD_MIN_HEIGHT or width >= HD_MIN_WIDTH else "bt601"


def yuv_to_rgb_affine(colorspace: str, full_range: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(M, b)`` with ``rgb = M @ (y, u, v) + b`` for code values scaled to 0..1 (byte / 255)."""
    if colorspace not in COLOR_MATRICES:
        raise ValueError(f"unknown colour matrix {colorspace!r}")
    kr, kb = COLOR_MATRICES[colorspace]
    kg = 1.0 - kr - kb
    # (Y', Pb, Pr) -> R'G'B'
    to_rgb = np.array([
        [1.0, 0.0, 2.0 * (1.0 - kr)],
        [1.0, -2.0 * kb * (1.0 - kb) / kg, -2.0 * kr * (1.0 - kr) / kg],
        [1.0, 2.0 * (1.0 - kb), 0.0],
    ])
    if full_range:
        scale = np.array([1.0, BYTE_MAX / FULL_C[1], BYTE_MAX / FULL_C[1]])
        shift = np.array([0.0, -FULL_C[0] / FULL_C[1], -FULL_C[0] / FULL_C[1]])
    else:
        scale = np.array([BYTE_MAX / LIMITED_Y[1], BYTE_MAX / LIMITED_C[1], BYTE_MAX / LIMITED_C[1]])
        shift = np.array([-LIMITED_Y[0] / LIMITED_Y[1], -LIMITED_C[0] / LIMITED_C[1],
                          -LIMITED_C[0] / LIMITED_C[1]])
    return to_rgb @ np.diag(scale), to_rgb @ shift


def planes_from_av_frame(frame: Any, colorspace: str, full_range: bool = False) -> YuvPlanes:
    """Zero-copy plane views of a PyAV ``yuv420p``/``yuvj420p`` VideoFrame (padded rows kept)."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        raise ValueError(f"expected a yuv420p frame, got {frame.format.name}")
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
        views.append(rows.reshape(plane.height, plane.line_size)[:, :plane.width])
    return YuvPlanes(*views, colorspace=colorspace,
                     full_range=full_range or frame.format.name == "yuvj420p")


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


def _uploadable(array: np.ndarray, channels: int) -> tuple[np.ndarray, int]:
    """The array (or a contiguous copy when its layout can't be described) and its row length
    in pixels for GL_UNPACK_ROW_LENGTH."""
    if array.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {array.dtype}")
    pixel_stride = array.strides[1]
    rows_ok = (pixel_stride == channels and (array.ndim == 2 or array.strides[2] == 1)
               and array.strides[0] >= array.shape[1] * channels
               and array.strides[0] % channels == 0)
    if not rows_ok:
        array = np.ascontiguousarray(array)
    return array, array.strides[0] // channels


class _Texture:
    """A 2-D texture reallocated only when the picture size changes."""

    def __init__(self, gl: Any, internal_format: int, pixel_format: int, channels: int,
                 filtering: int) -> None:
        self._gl = gl
        self.id = gl.glGenTextures(1)
        self.size: tuple[int, int] | None = None  # (width, height)
        self.allocations = 0
        self._internal_format, self._format, self._channels = internal_format, pixel_format, channels
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
        pixels, row_length = _uploadable(pixels, self._channels)
        height, width = pixels.shape[:2]
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)
        gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, row_length)
        if self.size != (width, height):
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, self._internal_format, width, height, 0,
                            self._format, gl.GL_UNSIGNED_BYTE, None)
            self.size = (width, height)
            self.allocations += 1
        gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, width, height, self._format,
                           gl.GL_UNSIGNED_BYTE, ctypes.c_void_p(pixels.ctypes.data))
        gl.glPixelStorei(gl.GL_UNPACK_ROW_LENGTH, 0)

    def delete(self) -> None:
        self._gl.glDeleteTextures([self.id])


class Renderer:
    """Uploads pictures and draws the latest one letterboxed with the OSD on top.

    Create and use it on the thread whose GL context is current (the main thread).
    """

    def __init__(self, shader_dir: Path = SHADER_DIR, osd_scale: int | None = None) -> None:
        gl = self._gl = _load_gl()
        self.osd_scale = osd_scale  # None: follow the window height (font.scale_for_height)
        source = {name: (shader_dir / f"{name}.glsl").read_text()
                  for name in ("video_vert", "rgb_frag", "yuv_frag", "osd_vert", "osd_frag")}
        self._rgb_program = _compile_program(gl, source["video_vert"], source["rgb_frag"], "rgb")
        self._yuv_program = _compile_program(gl, source["video_vert"], source["yuv_frag"], "yuv")
        self._osd_program = _compile_program(gl, source["osd_vert"], source["osd_frag"], "osd")
        self._video_vao = gl.glGenVertexArrays(1)  # core profile needs one bound to draw
        self._rgb = _Texture(gl, gl.GL_RGB8, gl.GL_RGB, 3, gl.GL_LINEAR)
        self._planes = [_Texture(gl, gl.GL_R8, gl.GL_RED, 1, gl.GL_LINEAR) for _ in range(3)]
        self._atlas = _Texture(gl, gl.GL_R8, gl.GL_RED, 1, gl.GL_NEAREST)
        self._atlas.upload(font_atlas())
        self._osd_vao = gl.glGenVertexArrays(1)
        self._osd_vbo = gl.glGenBuffers(1)
        self._setup_osd_layout()
        self._set_sampler_units()
        self._picture: YuvPlanes | tuple[int, int] | None = None  # planes, or RGB (w, h)
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
                               (self._yuv_program, ("u_y", "u_u", "u_v")),
                               (self._osd_program, ("u_atlas",))):
            gl.glUseProgram(program)
            for unit, name in enumerate(names):
                gl.glUniform1i(gl.glGetUniformLocation(program, name), unit)
        gl.glUseProgram(0)

    # -- frames
    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the current picture, or None before the first upload."""
        if self._picture is None:
            return None
        if isinstance(self._picture, YuvPlanes):
            return self._picture.width, self._picture.height
        return self._picture

    @property
    def texture_allocations(self) -> int:
        """How many times a video texture was (re)allocated: once per size and format."""
        return self._rgb.allocations + sum(t.allocations for t in self._planes)

    def upload(self, picture: Picture) -> None:
        """Make ``picture`` the one to draw: RGB24 (H x W x 3 uint8), YuvPlanes, or a CUDA tensor."""
        if getattr(picture, "is_cuda", False):
            if self._upload_cuda(picture):
                return
            picture = picture.cpu().numpy()
        if isinstance(picture, YuvPlanes):
            width, height = picture.width, picture.height
            chroma = ((width + 1) // 2, (height + 1) // 2)
            for plane, tex, size in ((picture.y, self._planes[0], (width, height)),
                                     (picture.u, self._planes[1], chroma),
                                     (picture.v, self._planes[2], chroma)):
                if plane.shape[:2] != size[::-1]:
                    raise ValueError(f"plane of shape {plane.shape} does not fit a "
                                     f"{width}x{height} 4:2:0 picture")
                tex.upload(plane)
            yuv_to_rgb_affine(picture.colorspace, picture.full_range)  # fail early on bad names
            self._picture = picture
        else:
            self._rgb.upload(picture)
            self._rgb_source = self._rgb.id
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
        if isinstance(self._picture, YuvPlanes):
            planes = self._picture
            program = self._yuv_program
            gl.glUseProgram(program)
            matrix, offset = yuv_to_rgb_affine(planes.colorspace, planes.full_range)
            gl.glUniformMatrix3fv(gl.glGetUniformLocation(program, "u_matrix"), 1, gl.GL_TRUE,
                                  matrix.astype(np.float32))
            gl.glUniform3f(gl.glGetUniformLocation(program, "u_offset"), *offset)
            gl.glUniform2f(gl.glGetUniformLocation(program, "u_chroma_scale"),
                           planes.width / (2 * self._planes[1].size[0]),
                           planes.height / (2 * self._planes[1].size[1]))
            textures = [t.id for t in self._planes]
        else:
            gl.glUseProgram(self._rgb_program)
            textures = [self._rgb_source]
        for unit, tex in enumerate(textures):
            gl.glActiveTexture(gl.GL_TEXTURE0 + unit)
            gl.glBindTexture(gl.GL_TEXTURE_2D, tex)
        gl.glBindVertexArray(self._video_vao)
        gl.glDrawArrays(gl.GL_TRIANGLE_STRIP, 0, 4)
        gl.glBindVertexArray(0)
        gl.glActiveTexture(gl.GL_TEXTURE0)

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
        for tex in (self._rgb, *self._planes, self._atlas):
            tex.delete()
        gl.glDeleteBuffers(1, [self._osd_vbo])
        gl.glDeleteVertexArrays(2, [self._video_vao, self._osd_vao])
        for program in (self._rgb_program, self._yuv_program, self._osd_program):
            gl.glDeleteProgram(program)
