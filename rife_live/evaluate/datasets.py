"""Benchmark datasets in the layouts of the original RIFE benchmark scripts, and any video.

Each protocol yields ``EvalItem``s: two input frames and the ground-truth frames between them, each
at its time ``t`` in the pair. Folders are checked up front (existence only, cheap), so a malformed
dataset fails at once with an ``InputError`` naming the first missing file, before hours of compute.

Layouts (``path`` may be the dataset folder itself or the folder that holds it):

- ``vimeo90k``: ``vimeo_interp_test/tri_testlist.txt`` (lines ``00001/0266``) and
  ``vimeo_interp_test/target/<seq>/im1.png, im2.png, im3.png``; im2 is predicted from im1, im3.
- ``ucf101``: ``ucf101_interp_ours/<id>/frame_00.png, frame_01_gt.png, frame_02.png``.
- ``middlebury``: Middlebury OTHER: ``other-data/<seq>/frame10.png, frame11.png`` and
  ``other-gt-interp/<seq>/frame10i11.png``; the sequences are those with a ground truth folder.
- ``hd``: the HD set as ``benchmark/HD.py`` reads it: raw 8-bit YUV 4:2:0 files in
  ``HD_dataset/HD720p_GT/*.yuv`` (1280x720), ``HD1080p_GT/*.yuv`` (1920x1080) and
  ``HD544p_GT/*.yuv`` (1280x544). Of the first ``HD_MAX_FRAMES`` frames, each even frame i and i + 2
  predict i + 1. YUV is turned into RGB as that script does (full-range YUV with the BT.601 matrix
  of scikit-image's ``yuv2rgb``, clipped, truncated to 8 bits); chroma is upsampled bilinearly
  (the script uses PIL's default resize filter).
- ``video``: any file PyAV opens. Factor 2: every odd frame is predicted from its two neighbours.
  Frames of sources deeper than 8 bits are read as 16-bit RGB (the player's conversion, with the
  stream's matrix: ``pipeline.convert``), so they are predicted and scored at full precision.
  Factor 4: every 4th frame is kept and the three between are predicted at t = 1/4, 1/2, 3/4.
  Pairs whose two kept frames are a scene cut (``rife_live.pipeline.scenes``, default thresholds)
  are flagged (``EvalItem.cut``) and reported apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from rife_live.avinput import open_input, reason
from rife_live.errors import ConfigError, InputError
from rife_live.pipeline.convert import convert_frame
from rife_live.pipeline.scenes import PairKind, SceneConfig, classify_pair, make_thumbnail
from rife_live.pipeline.source import pick_colorspace

PROTOCOLS = ("vimeo90k", "ucf101", "middlebury", "hd", "video")
VIDEO_FACTORS = (2, 4)

VIMEO_FOLDER = "vimeo_interp_test"
VIMEO_LIST = "tri_testlist.txt"
VIMEO_FRAMES = ("im1.png", "im2.png", "im3.png")
UCF_FOLDERS = ("ucf101_interp_ours", "UCF101/ucf101_interp_ours")
UCF_FRAMES = ("frame_00.png", "frame_01_gt.png", "frame_02.png")
MB_DATA = "other-data"
MB_GT = "other-gt-interp"
MB_FRAMES = ("frame10.png", "frame11.png")
MB_TRUTH = "frame10i11.png"
HD_FOLDER = "HD_dataset"
HD_SIZES = {"HD720p_GT": (720, 1280), "HD1080p_GT": (1080, 1920), "HD544p_GT": (544, 1280)}  # (h, w)
HD_MAX_FRAMES = 100  # HD.py: for index in range(0, 100, 2)
HD_STEP = 2
# scikit-image's rgb2yuv matrix (BT.601, analogue YUV); HD.py goes YUV -> RGB with its inverse.
YUV_FROM_RGB = np.array([[0.299, 0.587, 0.114],
                         [-0.14714119, -0.28886916, 0.43601035],
                         [0.61497538, -0.51496512, -0.10001026]])
CHROMA_OFFSET = 0.5
U8_MAX = 255.0

HALF = Fraction(1, 2)


@dataclass(frozen=True)
class Target:
    """One ground-truth frame at time ``t`` between an item's two input frames."""

    t: Fraction
    truth: np.ndarray = field(repr=False)
    label: str  # what a CSV row calls it: "im2", "frame 17", ...


@dataclass(frozen=True)
class EvalItem:
    """Two input frames (HxWx3 uint8 RGB) and the frames to predict between them."""

    name: str
    frame0: np.ndarray = field(repr=False)
    frame1: np.ndarray = field(repr=False)
    targets: tuple[Target, ...]
    group: str = ""  # HD: the sequence (averaged per sequence first); others: ""
    cut: bool = False  # video: the pair is a scene cut


@dataclass(frozen=True)
class Dataset:
    """A checked dataset; iterate it for its items (loaded lazily, one at a time)."""

    protocol: str
    root: Path
    count: int | None  # items, when known before decoding
    iterate: Callable[[], Iterator[EvalItem]] = field(repr=False)
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[EvalItem]:
        return self.iterate()


# -- image files --------------------------------------------------------------------------------

def read_image(path: Path) -> np.ndarray:
    """Decode an image file (PNG, JPEG, ...) with PyAV into HxWx3 uint8 RGB."""
    try:
        with open_input(path) as container:
            for frame in container.decode(video=0):
                return frame.to_ndarray(format="rgb24")
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot read image {path}: {reason(exc)}") from exc
    raise InputError(f"cannot read image {path}: it holds no picture")


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an HxWx3 uint8 RGB array as a PNG file (PyAV's PNG encoder)."""
    codec = av.CodecContext.create("png", "w")
    codec.width = int(image.shape[1])
    codec.height = int(image.shape[0])
    codec.pix_fmt = "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    data = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    Path(path).write_bytes(data)


def _require(*paths: Path) -> None:
    for path in paths:
        if not path.is_file():
            raise InputError(f"dataset file missing: {path}")


def _require_dir(path: Path, what: str) -> None:
    if not path.is_dir():
        raise InputError(f"dataset folder missing: {path} ({what})")


def _item_from_files(name: str, first: Path, truth: Path, second: Path, label: str) -> EvalItem:
    frame0, middle, frame1 = read_image(first), read_image(truth), read_image(second)
    for path, image in ((truth, middle), (second, frame1)):
        if image.shape != frame0.shape:
            raise InputError(f"{path} is {image.shape[1]}x{image.shape[0]}, but {first} is "
                             f"{frame0.shape[1]}x{frame0.shape[0]}")
    return EvalItem(name=name, frame0=frame0, frame1=frame1, targets=(Target(HALF, middle, label),))


# -- Vimeo90K ------------------------------------------------------------------------------------

def vimeo90k(path: Path) -> Dataset:
    """Vimeo90K triplet test set (3,782 triplets of 448x256 in the full set)."""
    root = path / VIMEO_FOLDER if (path / VIMEO_FOLDER).is_dir() else path
    listing = root / VIMEO_LIST
    _require(listing)
    names = [line.strip() for line in listing.read_text().splitlines() if len(line.strip()) > 1]
    if not names:
        raise InputError(f"{listing} lists no triplets")
    folders = [root / "target" / name for name in names]
    for folder in folders:
        _require(*(folder / f for f in VIMEO_FRAMES))

    def iterate() -> Iterator[EvalItem]:
        for name, folder in zip(names, folders):
            yield _item_from_files(name, *(folder / f for f in VIMEO_FRAMES), label=VIMEO_FRAMES[1])

    return Dataset("vimeo90k", root, len(names), iterate)


# -- UCF101 ----------------------------------------------------------------------------------------

def ucf101(path: Path) -> Dataset:
    """UCF101 interpolation test set of DVF (379 triplets of 256x256)."""
    root = next((path / sub for sub in UCF_FOLDERS if (path / sub).is_dir()), path)
    _require_dir(root, "UCF101 layout: ucf101_interp_ours/<id>/frame_00.png, frame_01_gt.png, frame_02.png")
    folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name)
    if not folders:
        raise InputError(f"{root} holds no item folders (<id>/frame_00.png, frame_01_gt.png, frame_02.png)")
    for folder in folders:
        _require(*(folder / f for f in UCF_FRAMES))

    def iterate() -> Iterator[EvalItem]:
        for folder in folders:
            yield _item_from_files(folder.name, *(folder / f for f in UCF_FRAMES), label=UCF_FRAMES[1])

    return Dataset("ucf101", root, len(folders), iterate)


# -- Middlebury OTHER ------------------------------------------------------------------------------

def middlebury(path: Path) -> Dataset:
    """Middlebury OTHER sequences with public interpolation ground truth (12 in the original)."""
    root = path
    data, truth = root / MB_DATA, root / MB_GT
    _require_dir(data, "Middlebury layout: other-data/<seq>/frame10.png, frame11.png")
    _require_dir(truth, "Middlebury layout: other-gt-interp/<seq>/frame10i11.png")
    names = sorted(p.name for p in truth.iterdir() if p.is_dir())
    if not names:
        raise InputError(f"{truth} holds no sequence folders (<seq>/frame10i11.png)")
    for name in names:
        _require(data / name / MB_FRAMES[0], data / name / MB_FRAMES[1], truth / name / MB_TRUTH)

    def iterate() -> Iterator[EvalItem]:
        for name in names:
            yield _item_from_files(name, data / name / MB_FRAMES[0], truth / name / MB_TRUTH,
                                   data / name / MB_FRAMES[1], label=MB_TRUTH)

    return Dataset("middlebury", root, len(names), iterate)


# -- HD (raw YUV 4:2:0) ------------------------------------------------------------------------------

@dataclass(frozen=True)
class YuvSequence:
    """A raw 8-bit YUV 4:2:0 (I420) file of known size."""

    path: Path
    height: int
    width: int

    @property
    def frame_bytes(self) -> int:
        return self.height * self.width * 3 // 2

    @property
    def frames(self) -> int:
        return self.path.stat().st_size // self.frame_bytes


def yuv420_to_rgb(raw: np.ndarray, height: int, width: int) -> np.ndarray:
    """One I420 frame (bytes as uint8) -> HxWx3 uint8 RGB, converted as the HD benchmark does."""
    y_size = height * width
    c_h, c_w = height // 2, width // 2
    y = raw[:y_size].reshape(height, width).astype(np.float64) / U8_MAX
    chroma = raw[y_size:].reshape(2, c_h, c_w).astype(np.float32)
    up = F.interpolate(torch.from_numpy(chroma)[None], size=(height, width), mode="bilinear",
                       align_corners=False)[0].numpy().astype(np.float64)
    yuv = np.stack((y, up[0] / U8_MAX - CHROMA_OFFSET, up[1] / U8_MAX - CHROMA_OFFSET), axis=-1)
    rgb = yuv @ np.linalg.inv(YUV_FROM_RGB).T
    return (U8_MAX * np.clip(rgb, 0.0, 1.0)).astype(np.uint8)  # truncation, as the script


def read_yuv_frame(seq: YuvSequence, index: int) -> np.ndarray:
    """Frame ``index`` of a YUV sequence as RGB."""
    with seq.path.open("rb") as fh:
        fh.seek(index * seq.frame_bytes)
        raw = np.frombuffer(fh.read(seq.frame_bytes), dtype=np.uint8)
    if raw.size < seq.frame_bytes:
        raise InputError(f"{seq.path} ends inside frame {index}")
    return yuv420_to_rgb(raw, seq.height, seq.width)


def write_yuv420(path: Path, frames: list[np.ndarray]) -> None:
    """Write RGB frames as a raw I420 file with the same (analogue BT.601) matrix; even sizes only."""
    with Path(path).open("wb") as fh:
        for image in frames:
            yuv = (image.astype(np.float64) / U8_MAX) @ YUV_FROM_RGB.T
            y = yuv[..., 0]
            u = np.clip(yuv[..., 1] + CHROMA_OFFSET, 0.0, 1.0)
            v = np.clip(yuv[..., 2] + CHROMA_OFFSET, 0.0, 1.0)
            sub = (lambda c: c.reshape(c.shape[0] // 2, 2, c.shape[1] // 2, 2).mean(axis=(1, 3)))
            for plane in (y, sub(u), sub(v)):
                fh.write(np.round(U8_MAX * plane).astype(np.uint8).tobytes())


def hd(path: Path) -> Dataset:
    """The HD set of the RIFE benchmark (11 sequences at 544p, 720p, 1080p in the original)."""
    root = path / HD_FOLDER if (path / HD_FOLDER).is_dir() else path
    present = [name for name in HD_SIZES if (root / name).is_dir()]
    if not present:
        raise InputError(f"dataset folder missing: {root / next(iter(HD_SIZES))} "
                         f"(HD layout: HD_dataset/{{{','.join(HD_SIZES)}}}/*.yuv)")
    sequences: list[YuvSequence] = []
    for name in present:
        h, w = HD_SIZES[name]
        sequences += [YuvSequence(p, h, w) for p in sorted((root / name).glob("*.yuv"))]
    if not sequences:
        raise InputError(f"no .yuv files in {', '.join(str(root / n) for n in present)}")
    for seq in sequences:
        if seq.frames < HD_STEP + 1:
            raise InputError(f"{seq.path} holds {seq.frames} whole {seq.width}x{seq.height} YUV 4:2:0 "
                             f"frames; at least {HD_STEP + 1} needed")

    def starts(seq: YuvSequence) -> range:
        return range(0, min(HD_MAX_FRAMES, seq.frames - HD_STEP), HD_STEP)

    def iterate() -> Iterator[EvalItem]:
        for seq in sequences:
            for i in starts(seq):
                frame0, middle, frame1 = (read_yuv_frame(seq, i + k) for k in range(HD_STEP + 1))
                yield EvalItem(name=f"{seq.path.stem}:{i + 1}", frame0=frame0, frame1=frame1,
                               targets=(Target(HALF, middle, f"frame {i + 1}"),), group=seq.path.stem)

    count = sum(len(starts(s)) for s in sequences)
    return Dataset("hd", root, count, iterate, notes=(f"{len(sequences)} YUV sequences",))


# -- any video -------------------------------------------------------------------------------------

def scene_cut(frame0: np.ndarray, frame1: np.ndarray) -> bool:
    """Whether two frames are a scene cut, by the player's own rule (``rife_live.pipeline.scenes``,
    default thresholds); static pairs are not cuts and are scored like any other."""
    decision = classify_pair(make_thumbnail(frame0), make_thumbnail(frame1), SceneConfig(detect_static=False))
    return decision.kind == PairKind.CUT


def _decode(path: Path) -> Iterator[np.ndarray]:
    try:
        container = open_input(path)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot open video {path}: {reason(exc)}") from exc
    with container:
        if not container.streams.video:
            raise InputError(f"{path} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                if max((c.bits for c in frame.format.components), default=8) <= 8:
                    yield frame.to_ndarray(format="rgb24")
                    continue
                out = np.empty((frame.height, frame.width, 3), np.uint16)  # deep: 16-bit RGB
                convert_frame(frame, out, colorspace=pick_colorspace(frame.colorspace, frame.height), rotation=0)
                yield out
        except av.FFmpegError as exc:
            raise InputError(f"cannot decode {path}: {reason(exc)}") from exc


def video_item_count(frames: int, factor: int) -> int:
    """Items a video of ``frames`` frames gives: one per pair of kept frames ``factor`` apart."""
    return max(0, (frames - 1) // factor)


def video(path: Path, factor: int = 2) -> Dataset:
    """Drop frames of any video and predict them back: factor 2 (t = ½) or 4 (t = ¼, ½, ¾)."""
    if factor not in VIDEO_FACTORS:
        raise ConfigError(f"video protocol factor must be one of {VIDEO_FACTORS}, not {factor}")
    if not path.is_file():
        raise InputError(f"video file missing: {path}")
    try:
        with open_input(path) as container:
            if not container.streams.video:
                raise InputError(f"{path} has no video stream")
            frames = container.streams.video[0].frames or None
    except (av.FFmpegError, OSError) as exc:
        raise InputError(f"cannot open video {path}: {reason(exc)}") from exc

    def iterate() -> Iterator[EvalItem]:
        kept: list[np.ndarray] = []
        for index, image in enumerate(_decode(path)):
            kept.append(image)
            if len(kept) < factor + 1:
                continue
            start = index - factor
            targets = tuple(Target(Fraction(k, factor), kept[k], f"frame {start + k}") for k in range(1, factor))
            yield EvalItem(name=f"{start}-{index}", frame0=kept[0], frame1=kept[-1], targets=targets,
                           cut=scene_cut(kept[0], kept[-1]))
            kept = [image]

    count = video_item_count(frames, factor) if frames else None
    return Dataset("video", path, count, iterate)


def open_dataset(protocol: str, path: Path, factor: int = 2) -> Dataset:
    """Check a dataset's layout and return it; ``InputError`` names the first missing file."""
    path = Path(path).expanduser()
    if protocol == "video":
        return video(path, factor)
    openers = {"vimeo90k": vimeo90k, "ucf101": ucf101, "middlebury": middlebury, "hd": hd}
    if protocol not in openers:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not path.is_dir():
        raise InputError(f"dataset folder missing: {path}")
    return openers[protocol](path)
