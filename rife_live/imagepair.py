"""``rife-interp``: frames between two still images (the original RIFE ``inference_img``, better).

``--exp E`` makes 2^E + 1 frames ``img0.png ... img{2^E}.png`` with the inputs at both ends;
``--ratio R`` makes the single frame at time R. By default one network pass serves every time
(flow scaling, DESIGN.md §4); ``--method bisect`` runs the network recursively at t = ½ as the
original tool does (2^E - 1 passes). Frames can also be assembled into a GIF or a video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from rife_live.config import EXP_RANGE
from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.models.engine import Interpolator
from rife_live.models.settings import FLOW_SCALES, EngineConfig
from rife_live.outputs import check_new_file, check_png_folder, refuse_input, same_file
from rife_live.sinks import check_video_name, stills

METHODS = ("flow", "bisect")
BIT_DEPTHS = (8, 16)
U16_MAX = 65535
DEMO_PACKAGE = "rife_live.data"
DEMO_PAIR = ("demo/bbb_060.png", "demo/bbb_062.png")
DEFAULT_SEQUENCE_FPS = Fraction(12)


@dataclass(frozen=True)
class PairJob:
    """One ``rife-interp`` run. ``img0``/``img1`` None: the built-in demo pair."""

    img0: Path | None = None
    img1: Path | None = None
    exp: int = 4
    ratio: float | None = None
    scale: float = 1.0
    method: str = "flow"
    out_dir: Path = Path("output")
    bit_depth: int = 8
    gif: Path | None = None
    video: Path | None = None
    fps: Fraction = DEFAULT_SEQUENCE_FPS
    overwrite: bool = False  # -y: replace existing output files
    engine: EngineConfig = field(default_factory=EngineConfig)

    def check(self) -> None:
        if (self.img0 is None) != (self.img1 is None):
            raise ConfigError("give two images (IMG0 IMG1), or none for the built-in demo pair")
        if not EXP_RANGE[0] <= self.exp <= EXP_RANGE[1]:
            raise ConfigError(f"--exp: {self.exp} is outside {EXP_RANGE[0]}-{EXP_RANGE[1]}")
        if self.scale not in FLOW_SCALES:
            raise ConfigError(f"--scale: {self.scale:g} is not one of {', '.join(f'{s:g}' for s in FLOW_SCALES)}")
        if self.ratio is not None and not 0.0 <= self.ratio <= 1.0:
            raise ConfigError(f"--ratio must lie in [0, 1], not {self.ratio:g}")
        if self.method not in METHODS:
            raise ConfigError(f"--method must be one of {', '.join(METHODS)}, not '{self.method}'")
        if self.ratio is not None and self.method != "flow":
            raise ConfigError("--ratio uses one network pass (--method flow); bisection only makes 2^E steps")
        if self.bit_depth not in BIT_DEPTHS:
            raise ConfigError(f"--bit-depth must be 8 or 16, not {self.bit_depth}")
        if self.fps <= 0:
            raise ConfigError(f"--fps must be positive, not {self.fps}")


def demo_pair() -> tuple[Path, Path]:
    """The bundled real pair (Big Buck Bunny frames 60 and 62, 640x360, CC-BY Blender Foundation)."""
    root = resources.files(DEMO_PACKAGE)
    return Path(str(root.joinpath(DEMO_PAIR[0]))), Path(str(root.joinpath(DEMO_PAIR[1])))


def _deep(engine: Interpolator, tensor: torch.Tensor, height: int, width: int) -> np.ndarray:
    """A padded float frame as HxWx3 uint16."""
    x = tensor[0, :, :height, :width].clamp(0.0, 1.0).mul(U16_MAX).round_().to(torch.int32)
    return x.permute(1, 2, 0).cpu().numpy().astype(np.uint16)


def frame_names(job: PairJob) -> list[str]:
    """The PNG files the job writes into ``out_dir``, in time order."""
    if job.ratio is not None:
        return [f"img_t{job.ratio:g}.png"]
    return [f"img{k}.png" for k in range(2**job.exp + 1)]


def check_outputs(job: PairJob, inputs: list[Path]) -> None:
    """Every file the job will write, checked before anything is read (``outputs``): none is an
    input, none is named twice, none exists unless ``overwrite``; the folders are writable."""
    planned = [("-o", job.out_dir / name) for name in frame_names(job)]
    planned += [(flag, path) for flag, path in (("--gif", job.gif), ("--video", job.video)) if path is not None]
    for flag, path in planned:
        refuse_input(path, inputs, flag)
    for i, (flag, path) in enumerate(planned):
        if any(same_file(path, other) for _, other in planned[:i]):
            raise ConfigError(f"{flag} {path} is also another output of this run: give it its own name")
    if job.video is not None:
        check_video_name(job.video, "--video")
    check_png_folder(job.out_dir, overwrite=True, what="-o")  # a folder of other files is fine: names are checked
    for flag, path in planned:
        if path.parent == job.out_dir and not job.out_dir.exists():
            continue  # made when the run starts
        check_new_file(path, job.overwrite, flag)


def _times(exp: int) -> list[Fraction]:
    steps = 2**exp
    return [Fraction(k, steps) for k in range(steps + 1)]


def run_pair(job: PairJob, log: Callable[[str], None]) -> list[Path]:
    """Run the job; returns the paths of the frames written (in time order)."""
    job.check()
    if job.img0 is None:
        path0, path1 = demo_pair()
        log(f"no images given: using the built-in demo pair ({path0.name}, {path1.name})")
    else:
        path0, path1 = job.img0, job.img1
    check_outputs(job, [path0, path1])
    img0, img1 = stills.read_image(path0), stills.read_image(path1)
    if img0.shape != img1.shape:
        raise InputError(f"the images differ in size: {path0} is {img0.shape[1]}x{img0.shape[0]}, "
                         f"{path1} is {img1.shape[1]}x{img1.shape[0]}")
    engine = Interpolator.from_config(job.engine, log=log)
    try:
        job.out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create output folder {job.out_dir}: {exc.strerror}") from exc
    height, width = img0.shape[:2]
    frames: list[np.ndarray]
    names = frame_names(job)
    if job.ratio is not None:
        state = engine.flow(img0, img1, job.scale)
        t = Fraction(job.ratio).limit_denominator(1 << 20)
        frames = [_render(engine, state, t, job.bit_depth, height, width)]
    elif job.method == "flow":
        state = engine.flow(img0, img1, job.scale)
        frames = [_render(engine, state, t, job.bit_depth, height, width) for t in _times(job.exp)]
    else:
        frames = _bisect(engine, img0, img1, job.exp, job.scale)
        if job.bit_depth == 16:
            frames = [f.astype(np.uint16) * 257 for f in frames]
    paths = []
    for name, frame in zip(names, frames):
        path = job.out_dir / name
        stills.write_png(path, frame, job.bit_depth)
        paths.append(path)
    log(f"wrote {len(paths)} frame{'s' if len(paths) > 1 else ''} to {job.out_dir}/")
    eight_bit = [f if f.dtype == np.uint8 else (f // 257).astype(np.uint8) for f in frames]
    if job.gif is not None:
        stills.write_gif(job.gif, eight_bit, job.fps)
        log(f"wrote {job.gif}")
    if job.video is not None:
        stills.write_video(job.video, eight_bit, job.fps)
        log(f"wrote {job.video}")
    return paths


def _render(engine: Interpolator, state, t: Fraction, bit_depth: int, height: int, width: int) -> np.ndarray:
    if bit_depth == 8:
        return np.asarray(engine.synthesize(state, t))
    return _deep(engine, engine.synthesize_tensor(state, t), height, width)


def _bisect(engine: Interpolator, img0: np.ndarray, img1: np.ndarray, exp: int, scale: float) -> list[np.ndarray]:
    """Recursive bisection at t = ½ (the original tool's method): 2^exp - 1 network passes."""
    frames = [img0, img1]
    for _ in range(exp):
        refined = []
        for a, b in zip(frames, frames[1:]):
            refined += [a, np.asarray(engine.interpolate(a, b, Fraction(1, 2), scale))]
        frames = refined + [frames[-1]]
    return frames
