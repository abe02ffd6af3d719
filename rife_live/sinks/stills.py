"""Still-image helpers for the ``rife-interp`` tool, all through PyAV (no Pillow).

Read a PNG/JPEG (or another single-image format FFmpeg knows) into HxWx3 uint8 RGB; write 8- or
16-bit PNGs; assemble frames into an animated GIF (a palette made for the whole sequence with
palettegen, then paletteuse) or into a video file at a given rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rife_live.avinput import open_input, reason
from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.frames import FrameMeta
from rife_live.outputs import PartialFile, write_bytes
from rife_live.sinks.base import SinkSpec
from rife_live.sinks.encoder import EncoderSink
from rife_live.sinks.png import PngEncoder

MIN_IMAGE_SIDE = 2
BITS_8 = 8
DEEP_MAX = 65535
STILL_DEMUXER = "image2"
STILL_DEMUXER_SUFFIX = "_pipe"  # png_pipe, jpeg_pipe, webp_pipe, ...: FFmpeg's single-image probes
GIF_TIME_BASE = Fraction(1, 100)  # GIF frame delays are in centiseconds
GIF_MAX_FPS = 50  # browsers show delays under 2 cs as 10 cs
GIF_PALETTEGEN = "stats_mode=full"
GIF_PALETTEUSE = "dither=sierra2_4a"
GIF_PIX_FMT = "pal8"


def read_image(path: Path) -> np.ndarray:
    """Read one image file into HxWx3 uint8 RGB (16-bit images rounded); InputError (one line) when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"cannot read image {path}: no such file")
    try:
        with open_input(path) as container:
            fmt = container.format.name
            is_still = fmt == STILL_DEMUXER or fmt.endswith(STILL_DEMUXER_SUFFIX)
            if not is_still or not container.streams.video:
                raise InputError(f"{path} is not an image (FFmpeg reads it as {fmt})")
            frame = next(container.decode(video=0), None)
    except (av.FFmpegError, OSError) as e:
        raise InputError(f"{path} is not a readable image: {reason(e)}") from e
    if frame is None:
        raise InputError(f"{path} is not a readable image: no picture in it")
    if frame.width < MIN_IMAGE_SIDE or frame.height < MIN_IMAGE_SIDE:
        raise InputError(f"{path} is {frame.width}x{frame.height}: images must be at least 2x2")
    if max(c.bits for c in frame.format.components) > BITS_8:
        # Deep images: round to 8 bits in numpy (swscale would dither, up to +-1.5 levels off).
        deep = frame.to_ndarray(format="rgb48le").astype(np.uint32)
        return ((deep * 255 + DEEP_MAX // 2) // DEEP_MAX).astype(np.uint8)
    return frame.to_ndarray(format="rgb24")


def write_png(path: Path, image: np.ndarray, bit_depth: int | None = None) -> None:
    """Write an HxWx3 RGB PNG: 8-bit for uint8 input, 16-bit for uint16 (or ``bit_depth=16``)."""
    path = Path(path)
    depth = bit_depth if bit_depth is not None else (16 if image.dtype == np.uint16 else 8)
    write_bytes(path, PngEncoder(depth).encode(np.ascontiguousarray(image)))


def _check_frames(frames: Sequence[np.ndarray]) -> tuple[int, int]:
    if not frames:
        raise ValueError("no frames to assemble")
    height, width = frames[0].shape[:2]
    for f in frames:
        if f.shape != (height, width, 3) or f.dtype != np.uint8:
            raise ValueError(f"frames must all be {height}x{width}x3 uint8, got {f.shape} {f.dtype}")
    return width, height


def _gif_pts(index: int, fps: Fraction) -> int:
    return round(index / fps / GIF_TIME_BASE)


def _drain(graph: av.filter.Graph, into: list[av.VideoFrame]) -> None:
    while True:
        try:
            into.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return


def _rgb_frame(image: np.ndarray, pts: int) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    frame.pts = pts
    frame.time_base = GIF_TIME_BASE
    return frame


def _gif_palette(frames: Sequence[np.ndarray], width: int, height: int, fps: Fraction) -> av.VideoFrame:
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format="rgb24", time_base=GIF_TIME_BASE)
    gen = graph.add("palettegen", GIF_PALETTEGEN)
    sink = graph.add("buffersink")
    src.link_to(gen)
    gen.link_to(sink)
    graph.configure()
    for k, image in enumerate(frames):
        src.push(_rgb_frame(image, _gif_pts(k, fps)))
    src.push(None)
    palettes: list[av.VideoFrame] = []
    _drain(graph, palettes)
    if not palettes:
        raise OutputError("GIF palette generation produced no palette")
    return palettes[0]


def _gif_quantize(
    frames: Sequence[np.ndarray], palette: av.VideoFrame, width: int, height: int, fps: Fraction
) -> list[av.VideoFrame]:
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format="rgb24", time_base=GIF_TIME_BASE)
    pal_src = graph.add_buffer(
        width=palette.width, height=palette.height, format=palette.format.name, time_base=GIF_TIME_BASE
    )
    use = graph.add("paletteuse", GIF_PALETTEUSE)
    sink = graph.add("buffersink")
    src.link_to(use, 0, 0)
    pal_src.link_to(use, 0, 1)
    use.link_to(sink)
    graph.configure()
    palette.pts = 0
    palette.time_base = GIF_TIME_BASE
    pal_src.push(palette)
    pal_src.push(None)
    out: list[av.VideoFrame] = []
    for k, image in enumerate(frames):
        src.push(_rgb_frame(image, _gif_pts(k, fps)))
        _drain(graph, out)
    src.push(None)
    _drain(graph, out)
    return out


def write_gif(path: Path, frames: Sequence[np.ndarray], fps: Fraction | int) -> None:
    """Assemble HxWx3 uint8 frames into a looping animated GIF at ``fps`` (at most 50)."""
    path = Path(path)
    fps = Fraction(fps)
    if not 0 < fps <= GIF_MAX_FPS:
        raise ConfigError(f"GIF frame rate must be in (0, {GIF_MAX_FPS}], got {fps}")
    width, height = _check_frames(frames)
    palette = _gif_palette(frames, width, height, fps)
    quantized = _gif_quantize(frames, palette, width, height, fps)
    partial = PartialFile.beside(path)
    try:
        with av.open(str(partial.path), "w", format="gif") as container:
            stream = container.add_stream("gif", rate=fps)
            stream.width = width
            stream.height = height
            stream.pix_fmt = GIF_PIX_FMT
            stream.time_base = GIF_TIME_BASE
            for frame in quantized:
                frame.time_base = GIF_TIME_BASE
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except (av.FFmpegError, OSError) as e:
        partial.discard()
        raise OutputError(f"cannot write {path}: {getattr(e, 'strerror', None) or e}") from e
    partial.commit()


def write_video(path: Path, frames: Sequence[np.ndarray], fps: Fraction | int, vcodec: str | None = None) -> None:
    """Assemble HxWx3 uint8 frames into a video file (.mp4, .mkv, .mov, .webm) at ``fps``."""
    _check_frames(frames)
    rate = Fraction(fps)
    spec = SinkSpec("encoder", Path(path), rate=rate, vcodec=vcodec)
    with EncoderSink(spec) as sink:
        for k, image in enumerate(frames):
            sink.write(np.ascontiguousarray(image), FrameMeta(pts=k / rate))
