"""One pipeline for both modes: source -> decode thread -> ring A -> interpolation thread -> ring B.

``build_pipeline(config, source, mode, engine, ...)`` assembles the stages of one pass over an
input, as mpv's play loop and vs-rife's single entry function do; the export (``rife_live.export``)
drains ring B into a sink, the live player (``rife_live.player``) presents it. The modes differ
only where the table says (``Mode``): ring B's size, and live deadlines with the adaptive scale.

The same place turns options into the pipeline's parameters (``resolve_rate``, ``resolve_scale``)
and names the run the same way in both modes (``display_name``, ``startup_line``).
"""

from __future__ import annotations

import time
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from rife_live.config import AUTO, DISPLAY_RATE, Config, VideoOptions
from rife_live.errors import ConfigError
from rife_live.models import adaptive
from rife_live.pipeline.convert import frame_dtype, make_frame_ring
from rife_live.pipeline.decode import DecodeOptions, DecodeThread
from rife_live.pipeline.interpolate import InterpolateOptions, InterpolateThread, make_output_ring, output_shape
from rife_live.pipeline.pcm import PcmTarget
from rife_live.pipeline.ring import Ring
from rife_live.pipeline.source import Source
from rife_live.timing import rate_for_exp, rate_for_multi

if TYPE_CHECKING:  # the engine (torch) loads only once the input and the outputs are known good
    from rife_live.models.engine import Interpolator

RING_A_SLOTS = 6  # source frames: the pair being interpolated plus decode-ahead
EXPORT_RING_B_SLOTS = 8  # output frames waiting for the sink
LIVE_RING_B_SECONDS = 0.4  # live: output frames made ahead of the clock: slack for slow passes
MIN_RING_B_SLOTS = 4
MAX_RING_B_BYTES = 256 * 1024 * 1024  # ... but not more memory than this (4K frames are 25 MB)
AUTO_SCALE_MAX_PIXELS = 1920 * 1088  # auto flow scale: 1.0 up to 1080p, 0.5 above (the original's --UHD)
AUTO_SCALE_LARGE = 0.5
DEFAULT_MULTI = 2  # without a rate option the output rate is twice the source rate


class Mode(Enum):
    """What consumes ring B: a sink that takes every frame, or a presenter on a clock."""

    EXPORT = "export"
    LIVE = "live"


# -- parameters from options -----------------------------------------------------------------------

def resolve_rate(video: VideoOptions, source_fps: Fraction | None) -> Fraction:
    """The output frame rate from --target-fps / --multi / --exp (default: twice the source).
    ``--target-fps display`` is the live player's to resolve (it knows the monitor)."""
    if isinstance(video.target_fps, Fraction):
        return video.target_fps
    if video.target_fps == DISPLAY_RATE:
        raise ConfigError("--target-fps display needs the live player; give a number for an export")
    if source_fps is None:
        raise ConfigError("the input does not state its frame rate: give --target-fps")
    if video.exp is not None:
        return rate_for_exp(source_fps, video.exp)
    return rate_for_multi(source_fps, video.multi if video.multi is not None else DEFAULT_MULTI)


def resolve_scale(scale: float | str, width: int, height: int) -> float:
    """The flow scale; ``auto``: 1.0 up to 1080p, 0.5 above."""
    if scale == AUTO:
        return 1.0 if width * height <= AUTO_SCALE_MAX_PIXELS else AUTO_SCALE_LARGE
    return float(scale)


def check_range(video: VideoOptions, source: Source) -> None:
    """A ``--start`` at or past the end of a file is a one-line error before anything runs."""
    start, duration = video.start, source.video.duration
    if start is not None and duration is not None and not source.is_live and start >= duration:
        raise ConfigError(f"--start {float(start):g} s is at or past the end of the input ({float(duration):g} s)")


def live_ring_b_slots(rate: Fraction, height: int, width: int, montage: bool, item_bytes: int = 1) -> int:
    """Ring B capacity for live playback at ``rate`` output frames per second (``item_bytes``: 2
    for uint16 frames)."""
    wanted = int(-(-LIVE_RING_B_SECONDS * rate // 1))
    affordable = MAX_RING_B_BYTES // (int(np.prod(output_shape(height, width, montage))) * item_bytes)
    return max(MIN_RING_B_SLOTS, min(wanted, affordable))


def display_name(target: str) -> str:
    """How messages name an input: a URL or device as given, a file by its name."""
    return target if "://" in target or target.startswith(("lavfi:", "v4l2:")) else Path(target).name


def startup_line(target: str, source: Source, rate_text: str, scale_text: str, engine: Interpolator) -> str:
    """The line both modes print when the pipeline starts."""
    video, described = source.video, engine.describe()
    return (f"{display_name(target)}: {video.width}x{video.height} {float(video.fps or 0):g} fps -> {rate_text}, "
            f"scale {scale_text}, {described['device']} {described['dtype']}")


# -- the stages ------------------------------------------------------------------------------------

class Pipeline:
    """The stages of one pass over an input, with their rings. The caller owns it: ``start``,
    then ``stop`` + ``join``; until ``start`` it owns the source (``close_source`` releases it)."""

    def __init__(self, source: Source, ring_a: Ring[np.ndarray], ring_b: Ring[np.ndarray], decode: DecodeThread,
                 interp: InterpolateThread) -> None:
        self.source = source
        self.ring_a = ring_a
        self.ring_b = ring_b
        self.decode = decode
        self.interp = interp
        self._started = False

    def start(self) -> None:
        self._started = True
        self.decode.start()
        self.interp.start()

    def stop(self) -> None:
        """Ask both threads to end (a network pass in flight finishes first) and wake every side."""
        self.interp.stop()
        self.decode.stop()
        self.ring_b.close()
        self.ring_a.close()

    def join(self, deadline: float) -> list[str]:
        """Join both threads by ``deadline`` (perf_counter); names of those still running."""
        left = []
        for name, stage in (("interpolate", self.interp), ("decode", self.decode)):
            if not stage.join(max(0.0, deadline - time.perf_counter())):
                left.append(name)
        return left

    def close_source(self) -> None:
        """Release the source unless the decode thread owns it (it closes it when it ends)."""
        if not self._started or not self.decode.is_alive():
            self.source.close()

    # -- live controls (any thread) -------------------------------------------------------------
    @property
    def epoch(self) -> int:
        """The newest epoch: frames of older ones are stale everywhere."""
        return max(self.decode.epoch, self.ring_b.epoch)

    def seek(self, target: Fraction) -> int:
        """Ask the decode thread to seek; ring B drops what it holds. Returns the new epoch."""
        epoch = self.decode.epoch + 1  # the decode thread's next epoch (merged seeks share one)
        self.decode.request_seek(target)
        self.ring_b.reset(max(epoch, self.ring_b.epoch))
        return self.epoch

    @property
    def decoding(self) -> bool:
        """Whether the decode thread still runs (a seek asked of an ended one needs a new pipeline)."""
        return self.decode.is_alive()

    def set_interpolation(self, on: bool) -> None:
        self.interp.set_interpolation(on)

    def set_scale(self, scale: float, adaptive_on: bool) -> None:
        self.interp.set_scale(scale, adaptive_on)

    # -- what it counted ------------------------------------------------------------------------
    def stats(self) -> dict[str, dict[str, object]]:
        return {"decode": self.decode.stats.as_dict(), "interpolate": self.interp.stats.as_dict()}

    def fills(self) -> tuple[str, str]:
        """Ring A's and ring B's fill, as ``used/capacity``."""
        return (f"{self.ring_a.fill}/{self.ring_a.capacity}", f"{self.ring_b.fill}/{self.ring_b.capacity}")


def build_pipeline(config: Config, source: Source, mode: Mode, engine: Interpolator, *, rate: Fraction,
                   scale: float, epoch: int = 0, start: Fraction | None = None,
                   clock: Callable[[], float] | None = None, pcm: PcmTarget | None = None, adaptive_on: bool = False,
                   interpolate: bool = True) -> Pipeline:
    """The stages for one pass over ``source`` (see the module text). ``start``: where decoding
    begins (a loop or a restart after a seek; default ``--start``). Live mode needs ``clock`` (the
    presenter's) and may take ``pcm`` (the audio output's FIFO) and ``adaptive_on``."""
    video, options = source.video, config.video
    live = mode is Mode.LIVE
    if live and clock is None:
        raise ValueError("a live pipeline needs the presenter's clock")
    start = options.start if start is None else start
    ring_a = make_frame_ring(video, RING_A_SLOTS)
    dtype = frame_dtype(video)  # uint16 for sources deeper than 8 bits (DESIGN.md §11)
    slots = (live_ring_b_slots(rate, video.height, video.width, options.montage, dtype.itemsize) if live
             else EXPORT_RING_B_SLOTS)
    ring_b = make_output_ring(video.height, video.width, options.montage, slots, dtype)
    ring_a.reset(epoch)
    ring_b.reset(epoch)
    decode = DecodeThread(source, ring_a, DecodeOptions(start=start, end=options.end), pcm=pcm)
    interp = InterpolateThread(engine, ring_a, ring_b, InterpolateOptions(
        target_fps=rate, scale=scale, start=None if live else start, end=options.end,
        frame_duration=1 / video.fps if video.fps else None, montage=options.montage, interpolate=interpolate,
        scenes=config.scenes, clock=clock if live else None,
        adaptive=adaptive.AdaptiveConfig() if live and adaptive_on else None))
    return Pipeline(source, ring_a, ring_b, decode, interp)
