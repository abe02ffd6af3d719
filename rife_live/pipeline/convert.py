"""Frame conversion: a decoded picture -> an upright RGB24 frame written into a ring A slot.

YUV is converted with the stream's matrix (``VideoInfo.colorspace``; the frame's own range,
limited or full), deeper formats (10-bit) included; the picture is turned upright
(``VideoInfo.rotation``, clockwise); a stored size that does not match the slot (a mid-stream
size change) is scaled to it. One ``FrameConverter`` per decode thread: it keeps swscale's
context between frames.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from rife_live.frames import VideoInfo
from rife_live.pipeline.ring import Ring

# VideoInfo.colorspace -> swscale's name for the matrix (PyAV's Colorspace enum).
SWS_MATRICES = {"bt709": "itu709", "bt601": "itu601", "bt2020": "bt2020", "smpte240m": "smpte240m", "fcc": "fcc"}
RGB_CHANNELS = 3


def make_frame_ring(video: VideoInfo, capacity: int) -> Ring[np.ndarray]:
    """Ring A for ``video``: ``capacity`` preallocated uint8 (height, width, 3) slots."""
    return Ring(capacity, lambda _i: np.zeros((video.height, video.width, RGB_CHANNELS), np.uint8))


def stored_size(video: VideoInfo) -> tuple[int, int]:
    """(width, height) of the pictures as the stream stores them (before rotation)."""
    return (video.height, video.width) if video.rotation in (90, 270) else (video.width, video.height)


def convert_frame(frame: av.VideoFrame, out: np.ndarray, *, colorspace: str, rotation: int,
                  reformatter: VideoReformatter | None = None) -> None:
    """Write ``frame`` as upright RGB24 into ``out`` (H, W, 3 uint8, the upright size)."""
    height, width = out.shape[:2]
    stored_w, stored_h = (height, width) if rotation in (90, 270) else (width, height)
    scale = frame.width != stored_w or frame.height != stored_h
    rgb = (reformatter or VideoReformatter()).reformat(
        frame,
        width=stored_w if scale else None,
        height=stored_h if scale else None,
        format="rgb24",
        src_colorspace=SWS_MATRICES.get(colorspace),
    ).to_ndarray()
    if rotation:
        rgb = np.rot90(rgb, k=-(rotation // 90))
    np.copyto(out, rgb)


class FrameConverter:
    """Converts the frames of one stream (``video``) into ring slots; counts the resized ones."""

    def __init__(self, video: VideoInfo) -> None:
        self.video = video
        self.resized = 0  # frames whose stored size differed from the stream's (scaled to it)
        self._reformatter = VideoReformatter()

    def convert(self, frame: av.VideoFrame, out: np.ndarray) -> None:
        if (frame.width, frame.height) != stored_size(self.video):
            self.resized += 1
        convert_frame(frame, out, colorspace=self.video.colorspace, rotation=self.video.rotation,
                      reformatter=self._reformatter)
