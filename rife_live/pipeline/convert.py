"""Frame conversion: a decoded picture -> an upright RGB frame written into a ring A slot.

YUV is converted with the stream's matrix (``VideoInfo.colorspace``; the frame's own range,
limited or full). Sources of 8 bits become RGB24 (uint8 slots); deeper ones (10-bit, 12-bit,
16-bit PNG) become RGB48 (uint16 slots, ``frame_dtype``), so no precision is lost before the
network (DESIGN.md §11). The picture is turned upright
(``VideoInfo.rotation``, clockwise); a stored size that does not match the slot (a mid-stream
size change) is scaled to it. One ``FrameConverter`` per decode thread: it keeps swscale's
context between frames.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from rife_live.colorinfo import SWS_MATRICES  # VideoInfo.colorspace -> swscale's name for the matrix
from rife_live.frames import VideoInfo
from rife_live.pipeline.ring import Ring

RGB_CHANNELS = 3


RGB_FORMATS = {np.dtype(np.uint8): "rgb24", np.dtype(np.uint16): "rgb48le"}  # slot dtype -> swscale's output


def frame_dtype(video: VideoInfo) -> np.dtype:
    """The dtype of ring payloads for ``video``: uint16 for sources deeper than 8 bits, else uint8."""
    return np.dtype(np.uint16) if video.color.deep else np.dtype(np.uint8)


def make_frame_ring(video: VideoInfo, capacity: int) -> Ring[np.ndarray]:
    """Ring A for ``video``: ``capacity`` preallocated (height, width, 3) slots of ``frame_dtype``."""
    dtype = frame_dtype(video)
    return Ring(capacity, lambda _i: np.zeros((video.height, video.width, RGB_CHANNELS), dtype))


def stored_size(video: VideoInfo) -> tuple[int, int]:
    """(width, height) of the pictures as the stream stores them (before rotation)."""
    return (video.height, video.width) if video.rotation in (90, 270) else (video.width, video.height)


def convert_frame(frame: av.VideoFrame, out: np.ndarray, *, colorspace: str, rotation: int,
                  reformatter: VideoReformatter | None = None) -> None:
    """Write ``frame`` as upright RGB into ``out`` (H, W, 3, the upright size): RGB24 into uint8,
    RGB48 into uint16."""
    height, width = out.shape[:2]
    stored_w, stored_h = (height, width) if rotation in (90, 270) else (width, height)
    scale = frame.width != stored_w or frame.height != stored_h
    rgb = (reformatter or VideoReformatter()).reformat(
        frame,
        width=stored_w if scale else None,
        height=stored_h if scale else None,
        format=RGB_FORMATS[out.dtype],
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
