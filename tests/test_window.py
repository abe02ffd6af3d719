"""Window: key naming and backend choice (pure), and a real GLFW window under Xvfb."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import glfw
import pytest

from rife_live.errors import OutputError, RifeError
from rife_live.present.window import (BACKEND_NATIVE, BACKEND_OSMESA, CloseEvent, DisplayError,
                                      KeyEvent, WindowConfig, char_event_name, key_event_name,
                                      modifier_prefix, open_window, pyopengl_platform_for,
                                      resolve_backend)


REPO = Path(__file__).resolve().parents[1]
EVENT_WAIT_S = 0.05
EVENT_ROUNDS = 100  # up to ~5 s for X events to arrive


# ---------------------------------------------------------------- pure

def test_special_keys_get_mpv_names_with_modifiers():
    assert key_event_name(glfw.KEY_SPACE, 0, None) == "SPACE"
    assert key_event_name(glfw.KEY_LEFT, 0, None) == "LEFT"
    assert key_event_name(glfw.KEY_ESCAPE, 0, None) == "ESC"
    assert key_event_name(glfw.KEY_ENTER, 0, None) == "ENTER"
    assert key_event_name(glfw.KEY_F11, 0, None) == "F11"
    assert key_event_name(glfw.KEY_RIGHT, glfw.MOD_SHIFT, None) == "Shift+RIGHT"
    all_mods = glfw.MOD_SHIFT | glfw.MOD_CONTROL | glfw.MOD_ALT | glfw.MOD_SUPER
    assert key_event_name(glfw.KEY_UP, all_mods, None) == "Shift+Ctrl+Alt+Meta+UP"
    assert modifier_prefix(glfw.MOD_ALT | glfw.MOD_CONTROL) == "Ctrl+Alt+"


def test_printable_keys_come_from_chars_unless_ctrl_or_alt():
    assert key_event_name(glfw.KEY_Q, 0, "q") is None  # the char callback reports "q"
    assert key_event_name(glfw.KEY_Q, glfw.MOD_SHIFT, "q") is None  # ... or "Q"
    assert char_event_name(ord("q")) == "q" and char_event_name(ord("Q")) == "Q"
    assert char_event_name(ord(".")) == "." and char_event_name(ord("9")) == "9"
    assert char_event_name(ord(" ")) is None  # SPACE comes from the key callback
    assert char_event_name(ord("#")) == "SHARP"
    assert key_event_name(glfw.KEY_S, glfw.MOD_CONTROL, "s") == "Ctrl+s"
    assert key_event_name(glfw.KEY_A, glfw.MOD_CONTROL | glfw.MOD_SHIFT, "a") == "Ctrl+A"
    assert key_event_name(glfw.KEY_1, glfw.MOD_ALT | glfw.MOD_SHIFT, "1") == "Shift+Alt+1"
    assert key_event_name(glfw.KEY_KP_5, glfw.MOD_CONTROL, None) == "Ctrl+KP5"
    assert key_event_name(glfw.KEY_LEFT_SHIFT, glfw.MOD_SHIFT, None) is None


def test_backend_choice_needs_a_display_or_says_so():
    assert resolve_backend("auto", {"DISPLAY": ":0"}) == BACKEND_NATIVE
    assert resolve_backend("auto", {"WAYLAND_DISPLAY": "wayland-0"}) == BACKEND_NATIVE
    assert resolve_backend("osmesa", {}) == BACKEND_OSMESA
    with pytest.raises(DisplayError) as info:
        resolve_backend("auto", {})
    assert isinstance(info.value, RifeError) and isinstance(info.value, OutputError)
    assert "DISPLAY" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DisplayError, match="unknown GL backend"):
        resolve_backend("dx12", {"DISPLAY": ":0"})


def test_pyopengl_platform_follows_the_context():
    assert pyopengl_platform_for(glfw.PLATFORM_X11, glfw.NATIVE_CONTEXT_API) == "glx"
    assert pyopengl_platform_for(glfw.PLATFORM_WAYLAND, glfw.EGL_CONTEXT_API) == "egl"
    assert pyopengl_platform_for(glfw.PLATFORM_X11, glfw.EGL_CONTEXT_API) == "egl"
    assert pyopengl_platform_for(glfw.PLATFORM_NULL, glfw.OSMESA_CONTEXT_API) == "osmesa"


def _run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=120)


def test_importing_the_presenter_loads_no_opengl():
    code = ("import os, sys\n"
            "import rife_live.present, rife_live.present.window, rife_live.present.renderer\n"
            "assert 'OpenGL' not in sys.modules, 'OpenGL imported'\n"
            "assert 'PYOPENGL_PLATFORM' not in os.environ\n"
            "from rife_live.present.window import bind_pyopengl_platform\n"
            "env = {}\n"
            "bind_pyopengl_platform('osmesa', env)\n"
            "assert env == {'PYOPENGL_PLATFORM': 'osmesa'}, env\n")
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    result = _run_python(code, env)
    assert result.returncode == 0, result.stderr


OSMESA_SCRIPT = """
import numpy as np
from rife_live.present import open_video_output, WindowConfig
vo = open_video_output("gpu", WindowConfig(width=321, height=241, visible=False, backend="osmesa"))
try:
    from OpenGL import GL
    assert b"Core" in GL.glGetString(GL.GL_VERSION), GL.glGetString(GL.GL_VERSION)
    picture = np.random.default_rng(7).integers(0, 256, (241, 321, 3), dtype=np.uint8)
    vo.show(picture)
    assert np.array_equal(vo.read_back(), picture)
    print("refresh", vo.refresh_rate())
finally:
    vo.close()
"""


def test_osmesa_backend_without_any_x_server():
    if ctypes.util.find_library("OSMesa") is None:
        pytest.skip("libOSMesa is not installed (Debian: libosmesa6)")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM")}
    result = _run_python(OSMESA_SCRIPT, env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refresh" in result.stdout


def test_no_display_is_one_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    code = ("from rife_live.present import open_video_output\n"
            "from rife_live.errors import RifeError\n"
            "try:\n    open_video_output('gpu')\n"
            "except RifeError as e:\n    print('ERR', e)\n")
    result = _run_python(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ERR no display") and result.stdout.count("\n") == 1


# ---------------------------------------------------------------- real window under Xvfb



@pytest.fixture
def window(display):
    win = open_window(WindowConfig(width=640, height=360, title="rife-live test"))
    try:
        assert win.wait_for_size(640, 360)
        yield win
    finally:
        win.close()


def _collect(win, count: int) -> list:
    events: list = []
    for _ in range(EVENT_ROUNDS):
        events += win.wait_events(EVENT_WAIT_S)
        if len(events) >= count:
            break
    return events


@pytest.mark.gl
def test_context_is_gl_33_core(window):
    from OpenGL import GL

    major = GL.glGetIntegerv(GL.GL_MAJOR_VERSION)
    minor = GL.glGetIntegerv(GL.GL_MINOR_VERSION)
    assert (int(major), int(minor)) >= (3, 3)
    assert GL.glGetIntegerv(GL.GL_CONTEXT_PROFILE_MASK) & GL.GL_CONTEXT_CORE_PROFILE_BIT
    assert window.framebuffer_size() == (640, 360)
    rate = window.refresh_rate()
    assert rate is None or rate > 0  # Xvfb reports no rate: None


@pytest.mark.gl
def test_real_x_key_events_reach_the_queue(window):
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed")
    keys = ["space", "q", "Left", "f", "shift+q", "ctrl+s", "period", "Escape", "Return", "9"]
    want = ["SPACE", "q", "LEFT", "f", "Q", "Ctrl+s", ".", "ESC", "ENTER", "9"]
    window.poll_events()
    subprocess.run(["xdotool", "key", "--window", str(window.x11_window_id()), *keys],
                   check=True, timeout=30)
    events = _collect(window, len(want))
    assert [e.name for e in events if isinstance(e, KeyEvent)] == want


def _send_wm_delete(display_name: str, window_id: int) -> None:
    """What a window manager's close button sends: a WM_DELETE_WINDOW client message."""
    xlib = ctypes.CDLL(ctypes.util.find_library("X11"))

    class ClientMessage(ctypes.Structure):
        _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong),
                    ("send_event", ctypes.c_int), ("display", ctypes.c_void_p),
                    ("window", ctypes.c_ulong), ("message_type", ctypes.c_ulong),
                    ("format", ctypes.c_int), ("data", ctypes.c_long * 5)]

    class XEvent(ctypes.Union):
        _fields_ = [("xclient", ClientMessage), ("pad", ctypes.c_long * 24)]

    client_message_type = 33
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XInternAtom.restype = ctypes.c_ulong
    xlib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    xlib.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                                ctypes.POINTER(XEvent)]
    xlib.XFlush.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = xlib.XOpenDisplay(display_name.encode())
    assert dpy, f"cannot open {display_name}"
    try:
        event = XEvent()
        event.xclient.type = client_message_type
        event.xclient.window = window_id
        event.xclient.message_type = xlib.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = xlib.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        assert xlib.XSendEvent(dpy, window_id, 0, 0, ctypes.byref(event))
        xlib.XFlush(dpy)
    finally:
        xlib.XCloseDisplay(dpy)


@pytest.mark.gl
def test_close_button_is_an_event(window, display):
    window.poll_events()
    _send_wm_delete(display, window.x11_window_id())
    events = _collect(window, 1)
    assert CloseEvent() in events


@pytest.mark.gl
def test_fullscreen_and_back_to_the_windowed_geometry(window):
    glfw.set_window_pos(window.handle, 120, 90)
    window.wait_events(EVENT_WAIT_S)
    before = glfw.get_window_pos(window.handle)
    window.toggle_fullscreen()
    assert window.fullscreen
    assert window.wait_for_size(1920, 1080)  # the Xvfb screen's video mode
    window.toggle_fullscreen()
    assert not window.fullscreen
    assert window.wait_for_size(640, 360)
    assert glfw.get_window_pos(window.handle) == before


@pytest.mark.gl
def test_wake_ends_a_wait_from_another_thread(window):
    window.poll_events()
    waker = threading.Timer(0.1, window.wake)
    started = time.monotonic()
    waker.start()
    window.wait_events(60.0)
    waker.join()
    assert time.monotonic() - started < 30.0  # woken, not timed out


@pytest.mark.gl
def test_bad_display_fails_cleanly_and_glfw_recovers(display, monkeypatch):
    monkeypatch.setenv("DISPLAY", ":4242")
    with pytest.raises(DisplayError) as info:
        open_window(WindowConfig(width=64, height=64))
    assert "\n" not in str(info.value) and "GLFW" in str(info.value)
    monkeypatch.setenv("DISPLAY", display)
    with open_window(WindowConfig(width=64, height=48, visible=False)) as win:
        assert win.framebuffer_size() == (64, 48)
    assert not win.is_open


@pytest.mark.gl
def test_window_only_on_the_main_thread(display):
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            open_window(WindowConfig(width=64, height=64))
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert len(errors) == 1 and "main thread" in str(errors[0])
