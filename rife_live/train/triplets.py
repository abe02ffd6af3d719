"""The training data as triplets (input, truth, input), split into a training and a held-back set.

Two sources, checked up front so that a bad dataset fails in seconds with one line, before a model
is loaded:

- ``vimeo``: the Vimeo90K triplet layout, ``tri_trainlist.txt`` (lines ``00001/0001``) and
  ``sequences/<seq>/im1.png, im2.png, im3.png`` (im2 is the truth). Frames are read when a sample is
  drawn; every listed file must exist and the three of a triplet must have one size (PNG headers
  are read up front, cheaply).
- ``videos``: triplets cut from decoded videos (``videos.py``), kept in memory.

Held-back split (``val_split``): Vimeo90K holds back whole source videos (the first part of a
sequence name), chosen by the seed, so no clip of a held-back video is trained on; a video source
holds back the last ``val_split`` of each video's frames, and training triplets end before that
part starts, so no held-back frame is ever a training input or truth. At most ``val_items``
held-back triplets, evenly spread, are scored.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from rife_live.errors import ConfigError, InputError
from rife_live.evaluate.datasets import VIMEO_FRAMES, read_image
from rife_live.train.config import TrainConfig
from rife_live.train.videos import VideoFrames, cut_triplets, decode_video

VIMEO_TRAIN_LIST = "tri_trainlist.txt"
VIMEO_SEQUENCES = "sequences"
VIMEO_ROOTS = ("vimeo_triplet",)  # the folder the archive unpacks to, accepted as a parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_HEADER_BYTES = 24  # signature, IHDR length and type, width, height
SPLIT_STREAM = 1  # seed stream of the held-back split (see sampler.py for the others)

Log = Callable[[str], None]


class Triplets(Protocol):
    """Indexed triplets: ``frames(i)`` is (3, H, W, 3) uint8 RGB (input 0, truth, input 1)."""

    def __len__(self) -> int: ...

    def frames(self, index: int) -> np.ndarray: ...

    def name(self, index: int) -> str: ...


@dataclass(frozen=True)
class VimeoTriplets:
    """Triplets of a Vimeo90K folder, read from their PNG files on demand."""

    root: Path  # the folder holding sequences/
    names: tuple[str, ...]  # "00001/0001"

    def __len__(self) -> int:
        return len(self.names)

    def files(self, index: int) -> tuple[Path, ...]:
        folder = self.root / VIMEO_SEQUENCES / self.names[index]
        return tuple(folder / f for f in VIMEO_FRAMES)

    def frames(self, index: int) -> np.ndarray:
        paths = self.files(index)
        images = [read_image(p) for p in paths]
        for path, image in zip(paths[1:], images[1:]):
            if image.shape != images[0].shape:
                raise InputError(f"mismatched triplet: {path} is {image.shape[1]}x{image.shape[0]}, "
                                 f"{paths[0]} is {images[0].shape[1]}x{images[0].shape[0]}")
        return np.stack(images)

    def name(self, index: int) -> str:
        return self.names[index]

    def subset(self, indices: Sequence[int]) -> VimeoTriplets:
        return VimeoTriplets(self.root, tuple(self.names[i] for i in indices))


@dataclass(frozen=True)
class VideoTriplets:
    """Triplets (video, start, gap) of decoded videos held in memory."""

    videos: tuple[VideoFrames, ...] = field(repr=False)
    picks: tuple[tuple[int, int, int], ...]  # (video index, start frame, gap)

    def __len__(self) -> int:
        return len(self.picks)

    def frames(self, index: int) -> np.ndarray:
        video, start, gap = self.picks[index]
        return self.videos[video].frames[start:start + 2 * gap + 1:gap]

    def name(self, index: int) -> str:
        video, start, gap = self.picks[index]
        return f"{self.videos[video].path.name}:{start}+{gap}"

    def subset(self, indices: Sequence[int]) -> VideoTriplets:
        return VideoTriplets(self.videos, tuple(self.picks[i] for i in indices))


@dataclass(frozen=True)
class TripletSplit:
    """The training triplets and the held-back ones that validation scores (possibly none)."""

    train: Triplets
    val: Triplets
    notes: tuple[str, ...] = ()

    def fingerprint(self) -> str:
        """A digest of every triplet's name in order: a resumed run checks it has the same data."""
        digest = hashlib.sha256()
        for part in (self.train, self.val):
            for i in range(len(part)):
                digest.update(part.name(i).encode())
                digest.update(b"\n")
            digest.update(b"--\n")
        return digest.hexdigest()[:16]


# -- Vimeo90K -------------------------------------------------------------------------------------

def _png_size(path: Path) -> tuple[int, int] | None:
    """(height, width) from a PNG's header, None when it is not a PNG (or too short to be one)."""
    with open(path, "rb") as fh:
        head = fh.read(PNG_HEADER_BYTES)
    if len(head) < PNG_HEADER_BYTES or not head.startswith(PNG_SIGNATURE):
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _image_size(path: Path) -> tuple[int, int]:
    size = _png_size(path)
    if size is None:
        image = read_image(path)  # not a PNG: decode it (InputError when it is not an image at all)
        size = image.shape[:2]
    return size


def open_vimeo(folder: Path, crop: int) -> VimeoTriplets:
    """Check a Vimeo90K triplet folder and list its training triplets."""
    root = next((folder / sub for sub in VIMEO_ROOTS if (folder / sub / VIMEO_TRAIN_LIST).is_file()), folder)
    listing = root / VIMEO_TRAIN_LIST
    if not root.is_dir():
        raise InputError(f"dataset folder missing: {root}")
    if not listing.is_file():
        raise InputError(f"dataset file missing: {listing} (Vimeo90K layout: {VIMEO_TRAIN_LIST}, "
                         f"{VIMEO_SEQUENCES}/<seq>/{', '.join(VIMEO_FRAMES)})")
    names = tuple(line.strip() for line in listing.read_text().splitlines() if line.strip())
    if not names:
        raise InputError(f"{listing} lists no triplets: the dataset is empty")
    triplets = VimeoTriplets(root, names)
    for index in range(len(triplets)):
        paths = triplets.files(index)
        for path in paths:
            if not path.is_file():
                raise InputError(f"dataset file missing: {path}")
        sizes = [_image_size(p) for p in paths]
        if len(set(sizes)) != 1:
            raise InputError(f"mismatched triplet {names[index]}: its frames differ in size "
                             f"({', '.join(f'{w}x{h}' for h, w in sizes)})")
        _check_crop(crop, sizes[0], paths[0])
    return triplets


def split_vimeo(triplets: VimeoTriplets, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Training and held-back indices: whole source videos held back, chosen by the seed."""
    if fraction <= 0:
        return list(range(len(triplets))), []
    videos = sorted({name.split("/", 1)[0] for name in triplets.names})
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(len(videos))
    held: set[str] = set()
    count = 0
    per_video = {v: 0 for v in videos}
    for name in triplets.names:
        per_video[name.split("/", 1)[0]] += 1
    for k in order:
        if count >= fraction * len(triplets):
            break
        held.add(videos[k])
        count += per_video[videos[k]]
    train = [i for i, n in enumerate(triplets.names) if n.split("/", 1)[0] not in held]
    val = [i for i, n in enumerate(triplets.names) if n.split("/", 1)[0] in held]
    return train, val


# -- videos ---------------------------------------------------------------------------------------------

def open_videos(paths: Sequence[Path], config: TrainConfig, log: Log) -> tuple[VideoTriplets, list[int], list[int]]:
    """Decode the videos, cut their triplets and split them (training indices, held-back indices)."""
    videos: list[VideoFrames] = []
    picks: list[tuple[int, int, int]] = []
    train: list[int] = []
    val: list[int] = []
    for number, path in enumerate(paths):
        video = decode_video(path)
        _check_crop(config.crop, video.size, path)
        found, report = cut_triplets(video, config.gaps, config.stride)
        boundary = video.count - int(round(video.count * config.val_split))
        kept_train = kept_val = 0
        for start, gap in found:
            if start + 2 * gap < boundary:
                train.append(len(picks))
                kept_train += 1
            elif start >= boundary:
                val.append(len(picks))
                kept_val += 1
            else:
                continue  # straddles the boundary: a held-back frame would be trained on
            picks.append((number, start, gap))
        log(f"{path}: {video.count} frames {video.size[1]}x{video.size[0]}, {kept_train} training and "
            f"{kept_val} held-back triplets ({report.cuts} across scene cuts and {report.static} static left out)")
        videos.append(video)
    return VideoTriplets(tuple(videos), tuple(picks)), train, val


# -- both ---------------------------------------------------------------------------------------------

def _check_crop(crop: int, size: tuple[int, int], path: Path) -> None:
    height, width = size
    if crop > min(height, width):
        raise ConfigError(f"--crop {crop} is larger than the frames of {path} ({width}x{height}); "
                          f"give --crop {max(32, min(height, width) // 32 * 32)} or less")


def spread(indices: list[int], count: int) -> list[int]:
    """At most ``count`` of ``indices``, evenly spread over them."""
    if len(indices) <= count:
        return list(indices)
    picks = np.linspace(0, len(indices) - 1, count).round().astype(int)
    return [indices[i] for i in picks]


def load_triplets(config: TrainConfig, log: Log) -> TripletSplit:
    """Open and check the data ``config`` names, and split it."""
    if config.vimeo is not None:
        source = open_vimeo(config.vimeo, config.crop)
        train, val = split_vimeo(source, config.val_split, config.seed)
        where = str(source.root)
    else:
        source, train, val = open_videos(config.videos, config, log)
        where = f"{len(config.videos)} video{'s' if len(config.videos) != 1 else ''}"
    if not train:
        raise InputError(f"no training triplets in {where}: the dataset is empty "
                         f"(videos: too short, or every triplet spans a scene cut or a static pair)")
    if config.val_split > 0 and not val:
        raise InputError(f"--val-split {config.val_split:g} holds back no triplet of {where}; "
                         f"raise it, or give --val-split 0 to train without validation")
    held = spread(val, config.val_items)
    notes = (f"{len(train)} training triplets, {len(val)} held back ({len(held)} scored) from {where}",)
    return TripletSplit(source.subset(train), source.subset(held), notes)
