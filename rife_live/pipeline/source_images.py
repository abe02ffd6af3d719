"""The image-folder driver: numbered PNG/JPEG files played as a video at ``--mf-fps``.

Files are ordered by the last run of digits in their names (``frame_2.png`` before
``frame_10.png``); image k has pts k / mf_fps. An image that does not decode is skipped and
counted (its time slot stays empty). The first image is decoded when the folder is opened, so an
unreadable first image is an error before anything starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import av.error

from rife_live.errors import InputError
from rife_live.avinput import open_input
from rife_live.frames import VideoInfo
from rife_live.pipeline.source import (IMAGE_EXTENSIONS, InputKind, Source, SourceItem, SourceOptions,
                                       describe_color, pick_colorspace)


def image_number(name: str) -> int | None:
    """The last run of digits in a file's stem (``frame_0012.png`` -> 12), or None."""
    found = re.findall(r"\d+", Path(name).stem)
    return int(found[-1]) if found else None


def list_images(folder: Path) -> list[Path]:
    """Numbered PNG/JPEG files of ``folder``, sorted by their number (then name)."""
    numbered = [
        (number, path.name, path)
        for path in folder.iterdir()
        if path.suffix.lower() in IMAGE_EXTENSIONS and (number := image_number(path.name)) is not None
    ]
    return [path for _, _, path in sorted(numbered)]


def decode_image(path: Path) -> av.VideoFrame | None:
    """The picture of one image file, None when it does not decode (damaged, not an image)."""
    try:
        with open_input(path) as container:
            for frame in container.decode(video=0):
                return frame
    except (av.error.FFmpegError, OSError):
        # any FFmpeg error: a PNG whose deflate stream is damaged fails with ExternalError (zlib's)
        return None
    return None


class ImageFolderSource(Source):
    """A folder of numbered images; see the module text."""

    def __init__(self, target: str, kind: InputKind, options: SourceOptions, images: list[Path],
                 first: av.VideoFrame) -> None:
        self.target = target
        self.kind = kind
        self.options = options
        self.is_live = False
        self.audio = None
        self.corrupt_packets = 0
        self._images = images
        self._next = 0
        self._first: av.VideoFrame | None = self._stamp(first, 0)
        fps = options.mf_fps
        matrix = pick_colorspace(first.colorspace, first.height)
        self.video = VideoInfo(width=first.width, height=first.height, fps=fps, duration=len(images) / fps,
                               codec=images[0].suffix.lower().lstrip("."), pix_fmt=first.format.name, rotation=0,
                               colorspace=matrix, frame_count=len(images), color=describe_color(first, matrix))

    @classmethod
    def open(cls, target: str, kind: InputKind, options: SourceOptions) -> ImageFolderSource:
        folder = Path(target)
        images = list_images(folder)
        if not images:
            raise InputError(f"no numbered PNG/JPEG images in folder {folder}")
        first = decode_image(images[0])
        if first is None:
            raise InputError(f"cannot decode image {images[0]}")
        return cls(target, kind, options, images, first)

    def _stamp(self, frame: av.VideoFrame, index: int) -> av.VideoFrame:
        frame.pts = index
        frame.time_base = Fraction(1) / self.options.mf_fps
        return frame

    def items(self) -> Iterator[SourceItem]:
        while self._next < len(self._images):
            index = self._next
            self._next += 1
            if index == 0 and self._first is not None:
                yield self._first  # decoded while opening
                continue
            frame = decode_image(self._images[index])
            if frame is None:
                self.corrupt_packets += 1
                continue
            yield self._stamp(frame, index)

    def seek(self, position: float | Fraction) -> None:
        target = max(Fraction(0), Fraction(position))
        self._next = min(int(target * self.options.mf_fps), max(0, len(self._images) - 1))

    def relative_time(self, item: SourceItem) -> Fraction | None:
        if item.pts is None or item.time_base is None:
            return None
        return item.pts * Fraction(item.time_base)

    def stop_video(self) -> None:
        self._next = len(self._images)

    def close(self) -> None:
        self._first = None
