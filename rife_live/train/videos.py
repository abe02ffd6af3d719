"""Training triplets cut from the user's own videos.

``decode_video`` reads every frame of a file (or numbered image folder) through the player's own
source and conversion (``pipeline.drivers.open_source``, ``pipeline.convert.FrameConverter``: the
stream's colour matrix and display rotation), so the network learns from the pictures it will be
shown. ``cut_triplets`` lists the triplets (i, i + G, i + 2G) for each gap G: frames i and i + 2G
are the inputs, i + G the truth. A triplet is left out when any pair of consecutive frames inside
it is a scene cut, or when its truth is (nearly) identical to one of its inputs (a static pair:
nothing to learn, and held or duplicated frames, as in animation, would teach the network a wrong
timing); both by ``pipeline.scenes`` with its default thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

from rife_live.errors import InputError
from rife_live.pipeline.convert import FrameConverter
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.scenes import PairKind, SceneConfig, Thumbnail, classify_pair, make_thumbnail

TRIPLET_FRAMES = 3


@dataclass(frozen=True)
class VideoFrames:
    """The decoded frames of one video: (F, H, W, 3) uint8 RGB, upright."""

    path: Path
    frames: np.ndarray = field(repr=False)

    @property
    def count(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.frames.shape[1]), int(self.frames.shape[2])


@dataclass(frozen=True)
class CutReport:
    """What ``cut_triplets`` kept and left out (for the log)."""

    kept: int
    cuts: int  # triplets spanning a scene cut
    static: int  # triplets whose truth repeats an input


def decode_video(path: Path) -> VideoFrames:
    """Every frame of ``path`` as upright RGB; ``InputError`` when it cannot be read or holds
    fewer than three frames."""
    with open_source(path) as source:
        if source.is_live:
            raise InputError(f"{path} is a live source; --from-videos takes files or image folders")
        height, width = source.video.height, source.video.width
        frames: list[np.ndarray] = []
        converter = FrameConverter(source.video)
        try:
            for item in source.items():
                if not isinstance(item, av.VideoFrame):
                    continue
                out = np.empty((height, width, 3), np.uint8)
                converter.convert(item, out)
                frames.append(out)
        except av.FFmpegError as exc:
            raise InputError(f"cannot decode {path}: {exc}") from exc
    if len(frames) < TRIPLET_FRAMES:
        raise InputError(f"{path} has {len(frames)} frame{'s' if len(frames) != 1 else ''}; "
                         f"a training triplet needs at least {TRIPLET_FRAMES}")
    return VideoFrames(Path(path), np.stack(frames))


def cut_triplets(video: VideoFrames, gaps: tuple[int, ...], stride: int,
                 scenes: SceneConfig | None = None) -> tuple[list[tuple[int, int]], CutReport]:
    """The usable triplets of ``video`` as (start, gap), ordered by start then gap."""
    config = scenes or SceneConfig()
    thumbs: list[Thumbnail] = [make_thumbnail(frame) for frame in video.frames]
    cut_after = [classify_pair(a, b, config).kind == PairKind.CUT for a, b in zip(thumbs, thumbs[1:])]
    cuts_before = np.concatenate(([0], np.cumsum(cut_after)))  # cuts_before[j]: cuts between frames 0..j
    picks: list[tuple[int, int]] = []
    cuts = static = 0
    for start in range(0, video.count, stride):
        for gap in gaps:
            end = start + 2 * gap
            if end >= video.count:
                continue
            if cuts_before[end] != cuts_before[start]:
                cuts += 1
                continue
            middle = start + gap
            if any(classify_pair(thumbs[a], thumbs[b], config).kind == PairKind.STATIC
                   for a, b in ((start, middle), (middle, end))):
                static += 1
                continue
            picks.append((start, gap))
    return picks, CutReport(kept=len(picks), cuts=cuts, static=static)
