"""present/interop.py: why interop is off (cuda-python missing, no CUDA device, a GL that is not
NVIDIA's), the one-line fallback notice, and a real GL context under Xvfb; on a GPU (skipped with
"no CUDA device" elsewhere) frames copied into the registered texture read back exactly, through
CUDA and through GL (GLX under Xvfb with ``__GLX_VENDOR_LIBRARY_NAME=nvidia``)."""

from __future__ import annotations

import ctypes
import sys

import numpy as np
import pytest
import torch

from rife_live.present.interop import (FALLBACK_NOTE, INSTALL_HINT, available, cuda_reason, gl_vendor_reason,
                                       open_interop, read_gl_vendor)
from rife_live.present.window import WindowConfig, open_window

from test_engine import bbb_frames

NO_CUDA = "no CUDA device"
GLX_VENDOR_VAR = "__GLX_VENDOR_LIBRARY_NAME"


def cuda_python_importable() -> bool:
    try:
        from cuda.bindings import runtime  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_interop_possible() -> bool:
    return torch.cuda.is_available() and cuda_reason() is None


# ---------------------------------------------------------------- reasons (no GL needed)

def test_reason_when_cuda_python_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)  # makes the import fail, as when not installed
    ok, reason = available(None)
    assert not ok and reason == f"cuda-python is not installed ({INSTALL_HINT})"


@pytest.mark.skipif(not cuda_python_importable(), reason="cuda-python is not installed")
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_reason_with_cuda_python_but_no_device():
    ok, reason = available(None)
    assert not ok and reason.startswith("no CUDA device") and "\n" not in reason
    if reason != "no CUDA device":  # the runtime's error, named: e.g. cudaErrorNoDevice, ...InsufficientDriver
        assert reason.startswith("no CUDA device (cudaError")


def test_gl_vendor_reasons():
    assert gl_vendor_reason(None) == "no current OpenGL context"
    assert gl_vendor_reason("Mesa") == "the OpenGL vendor is 'Mesa', not NVIDIA"
    assert gl_vendor_reason("Intel") is not None
    assert gl_vendor_reason("NVIDIA Corporation") is None


def test_fallback_is_logged_once_as_one_line():
    lines: list[str] = []
    if cuda_interop_possible():
        pytest.skip("CUDA is usable here: the fallback comes from the GL vendor (see the Xvfb test)")
    assert open_interop(None, lines.append) is None
    ok, reason = available(None)
    assert lines == [f"CUDA-GL interop off: {reason}; {FALLBACK_NOTE}"]
    assert "\n" not in lines[0]


# ---------------------------------------------------------------- a real GL context



@pytest.mark.gl
def test_mesa_context_gives_one_fallback_line(display):
    with open_window(WindowConfig(width=64, height=64, visible=False, swap_interval=0)):
        from OpenGL import GL

        vendor = read_gl_vendor(GL)
        assert vendor  # the context answers
        lines: list[str] = []
        assert open_interop(GL, lines.append) is None
        assert len(lines) == 1 and "\n" not in lines[0] and lines[0].startswith("CUDA-GL interop off: ")
        if cuda_interop_possible():  # a GPU machine whose Xvfb GL is Mesa: the vendor is the reason
            assert f"the OpenGL vendor is {vendor!r}" in lines[0]
        if "NVIDIA" not in vendor.upper():
            assert gl_vendor_reason(vendor) == f"the OpenGL vendor is {vendor!r}, not NVIDIA"


# ---------------------------------------------------------------- on a GPU

def gl_texture_pixels(gl, texture: int, width: int, height: int) -> np.ndarray:
    """The texture as GL holds it (glGetTexImage), HxWx4 uint8, row 0 first."""
    out = np.empty((height, width, 4), np.uint8)
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
    gl.glGetTexImage(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, ctypes.c_void_p(out.ctypes.data))
    return out


@pytest.mark.cuda
@pytest.mark.gl
@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_cuda_frames_read_back_from_the_texture(display, monkeypatch):
    if not cuda_python_importable():
        pytest.skip(f"cuda-python is not installed ({INSTALL_HINT})")
    monkeypatch.setenv(GLX_VENDOR_VAR, "nvidia")  # GLX on the NVIDIA driver under Xvfb
    frame = bbb_frames([40])[40]
    with open_window(WindowConfig(width=64, height=64, visible=False, swap_interval=0)):
        from OpenGL import GL

        ok, reason = available(GL)
        assert ok, reason
        interop = open_interop(GL, lambda line: pytest.fail(f"unexpected fallback: {line}"))
        assert interop is not None
        try:
            for rgb in (frame, frame[::-1].copy(), np.ascontiguousarray(frame[:241, :321])):
                height, width = rgb.shape[:2]
                interop.upload(torch.from_numpy(rgb).cuda())
                for pixels in (interop.read_back(), gl_texture_pixels(GL, interop.texture, width, height)):
                    assert np.array_equal(pixels[..., :3], rgb)
                    assert (pixels[..., 3] == 255).all()
            assert interop.registrations == 2  # once per size: the second frame of a size re-registers nothing
        finally:
            interop.close()
