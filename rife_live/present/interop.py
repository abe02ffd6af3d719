"""CUDA-GL interop (cuda-python): show a frame that lives on the GPU without a trip through host memory.

``open_interop(gl, log)`` is what the renderer calls once, with its GL context current: it returns a
``GlInterop`` when everything it needs is there, else None after logging one line with the reason
(the renderer then keeps its host upload path). ``available(gl)`` gives that answer as
``(ok, reason)``: cuda-python missing, no CUDA device (or a torch build without CUDA), or an OpenGL
that is not NVIDIA's (Mesa, another GPU: CUDA cannot register its textures).

``GlInterop`` owns one GL_RGBA8 texture (CUDA cannot register 3-channel textures), registered with
CUDA once per size (write-discard). Per frame ``upload`` expands the HxWx3 uint8 CUDA tensor to
RGBA in a device buffer, maps the resource on its own stream, copies the buffer into the
texture's CUDA array (``cudaMemcpy2DToArrayAsync``), unmaps (CUDA's work is then ordered before
later GL work) and waits for its stream, so the tensor may be reused as soon as ``upload`` returns.
The renderer draws ``texture`` with its RGB program (it samples ``.rgb``). Main thread only,
with the GL context current. Nothing CUDA or GL is imported when this module is imported.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from rife_live.errors import OutputError

NVIDIA_VENDOR = "NVIDIA"
RGBA_CHANNELS = 4
ALPHA_OPAQUE = 255
ARRAY_INDEX = 0  # not an array texture
MIP_LEVEL = 0
INSTALL_HINT = "pip install 'rife-live[cuda]'"
FALLBACK_NOTE = "frames are uploaded from host memory"


class InteropError(OutputError):
    """A CUDA-GL interop call failed (one line, with CUDA's error name)."""


def _runtime() -> Any:
    from cuda.bindings import runtime  # deferred: an optional dependency

    return runtime


def _check(result: tuple, what: str) -> Any:
    """The values of a cuda-python call ``(err, *values)``; InteropError when ``err`` is not success."""
    runtime = _runtime()
    err, *values = result
    if err != runtime.cudaError_t.cudaSuccess:
        raise InteropError(f"{what} failed: {error_text(err)}")
    return values[0] if len(values) == 1 else tuple(values)


def error_text(err: Any) -> str:
    """``cudaErrorX: description`` for a cuda-python error code."""
    runtime = _runtime()
    name = getattr(err, "name", str(err))
    status, text = runtime.cudaGetErrorString(err)
    described = text.decode(errors="replace") if status == runtime.cudaError_t.cudaSuccess and text else ""
    return f"{name}: {described}" if described else name


# ---------------------------------------------------------------- availability

def cuda_reason() -> str | None:
    """Why CUDA cannot feed GL textures here (one line), or None when it can."""
    try:
        runtime = _runtime()
    except ImportError:
        return f"cuda-python is not installed ({INSTALL_HINT})"
    err, count = runtime.cudaGetDeviceCount()
    if err != runtime.cudaError_t.cudaSuccess:
        return f"no CUDA device ({error_text(err)})"
    if count == 0:
        return "no CUDA device"
    if not torch.cuda.is_available():
        return "this torch build has no CUDA support"
    return None


def gl_vendor_reason(vendor: str | None) -> str | None:
    """Why an OpenGL of this vendor cannot share textures with CUDA, or None when it can."""
    if vendor is None:
        return "no current OpenGL context"
    if NVIDIA_VENDOR not in vendor.upper():
        return f"the OpenGL vendor is {vendor!r}, not NVIDIA"
    return None


def read_gl_vendor(gl: Any) -> str | None:
    """``GL_VENDOR`` of the current context, None when there is none."""
    if gl is None:
        return None
    vendor = gl.glGetString(gl.GL_VENDOR)
    return vendor.decode(errors="replace") if vendor else None


def available(gl: Any | None) -> tuple[bool, str]:
    """``(True, "")`` when ``GlInterop`` can work with the current context of PyOpenGL module ``gl``;
    else ``(False, reason)``. CUDA is checked before GL, so ``gl`` is read only when CUDA is there."""
    reason = cuda_reason() or gl_vendor_reason(read_gl_vendor(gl))
    return (reason is None, reason or "")


def open_interop(gl: Any | None, log: Callable[[str], None]) -> GlInterop | None:
    """A ``GlInterop`` for the current context, or None after logging the reason as one line."""
    ok, reason = available(gl)
    if not ok:
        log(f"CUDA-GL interop off: {reason}; {FALLBACK_NOTE}")
        return None
    return GlInterop(gl)


# ---------------------------------------------------------------- the texture

class GlInterop:
    """One GL_RGBA8 texture that CUDA tensors are copied into (see the module docstring)."""

    def __init__(self, gl: Any, device: int | None = None) -> None:
        self._gl = gl
        self._rt = _runtime()
        self.device = torch.device("cuda", torch.cuda.current_device() if device is None else device)
        self._stream = torch.cuda.Stream(self.device)
        self._done = torch.cuda.Event(blocking=True)
        self.texture = int(gl.glGenTextures(1))
        self.size: tuple[int, int] | None = None  # (width, height)
        self.registrations = 0
        self._resource: Any = None
        self._rgba: torch.Tensor | None = None
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
        for param, value in ((gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR), (gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR),
                             (gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE), (gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)):
            gl.glTexParameteri(gl.GL_TEXTURE_2D, param, value)

    def _allocate(self, width: int, height: int) -> None:
        """(Re)allocate the texture and the RGBA buffer for a new size and register it with CUDA."""
        gl, rt = self._gl, self._rt
        self._unregister()
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.texture)
        gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, width, height, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
        flags = rt.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsWriteDiscard
        self._resource = _check(rt.cudaGraphicsGLRegisterImage(self.texture, int(gl.GL_TEXTURE_2D), flags),
                                "cudaGraphicsGLRegisterImage")
        self._rgba = torch.full((height, width, RGBA_CHANNELS), ALPHA_OPAQUE, dtype=torch.uint8, device=self.device)
        self.size = (width, height)
        self.registrations += 1

    def upload(self, frame: torch.Tensor, ready: torch.cuda.Event | None = None) -> None:
        """Copy a HxWx3 (or HxWx4) uint8 CUDA tensor into ``texture``. A frame made on another thread
        comes with ``ready``, an event its producer recorded after writing it; without one, the
        work queued on this thread's current stream is waited for. The tensor may be reused on return."""
        if frame.device.type != "cuda" or frame.dtype != torch.uint8 or frame.ndim != 3 \
                or frame.shape[2] not in (3, RGBA_CHANNELS):
            raise ValueError(f"expected a HxWx3 uint8 CUDA tensor, got {tuple(frame.shape)} {frame.dtype} "
                             f"on {frame.device}")
        height, width = int(frame.shape[0]), int(frame.shape[1])
        if self.size != (width, height):
            self._allocate(width, height)
        rgba = self._rgba
        assert rgba is not None
        rt, stream = self._rt, self._stream
        handle = stream.cuda_stream
        with torch.cuda.stream(stream):
            if ready is not None:
                stream.wait_event(ready)
            else:  # produced on this thread: wait for the work queued on its current stream
                stream.wait_stream(torch.cuda.current_stream(self.device))
            rgba[..., : frame.shape[2]].copy_(frame)
            _check(rt.cudaGraphicsMapResources(1, self._resource, handle), "cudaGraphicsMapResources")
            try:
                array = _check(rt.cudaGraphicsSubResourceGetMappedArray(self._resource, ARRAY_INDEX, MIP_LEVEL),
                               "cudaGraphicsSubResourceGetMappedArray")
                pitch = width * RGBA_CHANNELS
                _check(rt.cudaMemcpy2DToArrayAsync(array, 0, 0, rgba.data_ptr(), pitch, pitch, height,
                                                   rt.cudaMemcpyKind.cudaMemcpyDeviceToDevice, handle),
                       "cudaMemcpy2DToArrayAsync")
            finally:
                _check(rt.cudaGraphicsUnmapResources(1, self._resource, handle), "cudaGraphicsUnmapResources")
            self._done.record(stream)
        self._done.synchronize()

    def read_back(self) -> np.ndarray:
        """The texture's pixels as CUDA sees them, HxWx4 uint8 on the host (for tests)."""
        if self.size is None:
            raise ValueError("nothing uploaded yet")
        width, height = self.size
        rt, handle = self._rt, self._stream.cuda_stream
        out = np.empty((height, width, RGBA_CHANNELS), np.uint8)
        pitch = width * RGBA_CHANNELS
        _check(rt.cudaGraphicsMapResources(1, self._resource, handle), "cudaGraphicsMapResources")
        try:
            array = _check(rt.cudaGraphicsSubResourceGetMappedArray(self._resource, ARRAY_INDEX, MIP_LEVEL),
                           "cudaGraphicsSubResourceGetMappedArray")
            _check(rt.cudaMemcpy2DFromArrayAsync(out.ctypes.data, pitch, array, 0, 0, pitch, height,
                                                 rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, handle),
                   "cudaMemcpy2DFromArrayAsync")
        finally:
            _check(rt.cudaGraphicsUnmapResources(1, self._resource, handle), "cudaGraphicsUnmapResources")
        self._done.record(self._stream)
        self._done.synchronize()  # the (pageable) host copy is complete
        return out

    def _unregister(self) -> None:
        if self._resource is not None:
            resource, self._resource = self._resource, None
            _check(self._rt.cudaGraphicsUnregisterResource(resource), "cudaGraphicsUnregisterResource")

    def close(self) -> None:
        """Unregister and delete the texture (the GL context must still be current)."""
        try:
            self._unregister()
        finally:
            self._gl.glDeleteTextures([self.texture])
            self._rgba = None
            self.size = None
