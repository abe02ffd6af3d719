"""rife_live.present: video outputs for the player, behind one small interface.

``VIDEO_OUTPUTS`` is the vo table (like mpv's ``--vo``): ``"gpu"`` is a GLFW window drawn with
OpenGL; ``"null"`` draws nothing and counts frames. Both are used the same way by a loop on the
main thread::

    vo = open_video_output("gpu", WindowConfig(title="rife-play"))
    try:
        while running:
            for event in vo.wait_events(timeout_s):  # or poll_events() when a frame is due
                ...                                   # KeyEvent / CloseEvent / ResizeEvent
            vo.set_osd(lines)
            vo.show(picture, meta)                    # upload + draw + swap (vsync paces it)
    finally:
        vo.close()

Nothing here imports OpenGL; the gpu output's window picks PyOpenGL's platform first.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

from rife_live.errors import ConfigError
from rife_live.frames import FrameMeta
from rife_live.present.renderer import Picture, Rect
from rife_live.present.window import (CloseEvent, DisplayError, KeyEvent, ResizeEvent,
                                      WindowConfig, WindowEvent)

__all__ = [
    "VideoOutput", "GpuVideoOutput", "NullVideoOutput", "VIDEO_OUTPUTS", "open_video_output",
    "WindowConfig", "WindowEvent", "KeyEvent", "CloseEvent", "ResizeEvent", "DisplayError",
    "Picture", "Rect",
]


class VideoOutput(Protocol):
    """What the player needs from a video output. Main thread only, except ``wake``."""

    frames_shown: int

    def show(self, picture: Picture | None, meta: FrameMeta | None = None) -> None:
        """Present ``picture`` now (None: redraw the last one, e.g. after a resize or OSD change)."""

    def set_osd(self, lines: Sequence[str]) -> None:
        """Text lines shown over the video from the next ``show`` on; () hides the OSD."""

    def poll_events(self) -> list[WindowEvent]:
        """Events since the last call, oldest first; never blocks."""

    def wait_events(self, timeout_s: float) -> list[WindowEvent]:
        """Like ``poll_events`` but blocks up to ``timeout_s`` for an event or ``wake``."""

    def wake(self) -> None:
        """Wake a ``wait_events`` (callable from any thread)."""

    def toggle_fullscreen(self) -> None: ...

    def refresh_rate(self) -> float | None:
        """Display refresh rate in Hz, None when unknown (then pick a rate elsewhere)."""

    def read_back(self) -> np.ndarray | None:
        """The last shown picture as drawn (H x W x 3 uint8), None when nothing is drawn."""

    def close(self) -> None: ...


class NullVideoOutput:
    """``--vo null``: no window, no GL. Counts the frames it is given, by kind."""

    def __init__(self, config: WindowConfig = WindowConfig()) -> None:
        self.config = config
        self.frames_shown = 0
        self.kinds: Counter[str] = Counter()  # FrameMeta.kind -> frames
        self.last_meta: FrameMeta | None = None
        self._osd: tuple[str, ...] = ()
        self._wakeup = threading.Event()

    def show(self, picture: Picture | None, meta: FrameMeta | None = None) -> None:
        if picture is None:
            return
        self.frames_shown += 1
        if meta is not None:
            self.kinds[meta.kind] += 1
            self.last_meta = meta

    def set_osd(self, lines: Sequence[str]) -> None:
        self._osd = tuple(lines)

    def poll_events(self) -> list[WindowEvent]:
        self._wakeup.clear()
        return []

    def wait_events(self, timeout_s: float) -> list[WindowEvent]:
        self._wakeup.wait(timeout_s)
        self._wakeup.clear()
        return []

    def wake(self) -> None:
        self._wakeup.set()

    def toggle_fullscreen(self) -> None:
        """Nothing to resize."""

    def refresh_rate(self) -> float | None:
        return None

    def read_back(self) -> np.ndarray | None:
        return None

    def close(self) -> None:
        self._wakeup.set()


class GpuVideoOutput:
    """``--vo gpu``: a GLFW window with an OpenGL 3.3 core context and the renderer."""

    def __init__(self, config: WindowConfig = WindowConfig(), osd_scale: int | None = None) -> None:
        from rife_live.present.renderer import Renderer
        from rife_live.present.window import open_window

        self.config = config
        self.frames_shown = 0
        self.window = open_window(config)
        try:
            self.renderer = Renderer(osd_scale=osd_scale, tone_mapping=config.tone_mapping)
        except BaseException:
            self.window.close()
            raise

    def show(self, picture: Picture | None, meta: FrameMeta | None = None) -> None:
        if picture is not None:
            self.renderer.upload(picture, meta.color if meta is not None else None)
            self.frames_shown += 1
        width, height = self.window.framebuffer_size()
        if width == 0 or height == 0:  # minimised: nothing to draw into
            return
        self.renderer.draw(width, height)
        self.window.swap_buffers()

    def set_osd(self, lines: Sequence[str]) -> None:
        self.renderer.set_osd(lines)

    def poll_events(self) -> list[WindowEvent]:
        return self.window.poll_events()

    def wait_events(self, timeout_s: float) -> list[WindowEvent]:
        return self.window.wait_events(timeout_s)

    def wake(self) -> None:
        self.window.wake()

    def toggle_fullscreen(self) -> None:
        self.window.toggle_fullscreen()

    def refresh_rate(self) -> float | None:
        return self.window.refresh_rate()

    def read_back(self) -> np.ndarray | None:
        """Redraw the current picture into the back buffer and read it (no swap)."""
        if self.renderer.frame_size is None:
            return None
        width, height = self.window.framebuffer_size()
        if width == 0 or height == 0:
            return None
        self.renderer.draw(width, height)
        return self.renderer.read_back(width, height)

    def close(self) -> None:
        """Free GL objects, destroy the window, terminate GLFW. Safe to call twice."""
        if self.window.is_open:
            self.renderer.close()
        self.window.close()


VIDEO_OUTPUTS: Mapping[str, Callable[[WindowConfig], VideoOutput]] = {
    "gpu": GpuVideoOutput,
    "null": NullVideoOutput,
}


def open_video_output(name: str, config: WindowConfig = WindowConfig()) -> VideoOutput:
    """Open the vo called ``name`` (a key of VIDEO_OUTPUTS); ConfigError for unknown names."""
    if name not in VIDEO_OUTPUTS:
        raise ConfigError(f"unknown video output {name!r}; choose one of "
                          f"{', '.join(sorted(VIDEO_OUTPUTS))}")
    return VIDEO_OUTPUTS[name](config)
