"""One pipeline for both modes: source -> decode thread -> ring A -> interpolation thread -> ring B.

``build_pipeline(config, source, mode, engine, ...)`` assembles the stages of one pass over an
input, as mpv's play loop and vs-rife's single entry function do; the export (``rife_live.export``)
drains ring B into a sink, the live player (``rife_live.player``) presents it. The modes differ
only where the table says (``Mode``): ring B's size (live: the read-ahead, ``read_ahead``), and
live deadlines with the adaptive quality (``pacing``).

The same place turns options into the pipeline's parameters (``resolve_rate``, ``resolve_scale``)
and names the run the same way in both modes (``display_name``, ``startup_line``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from rife_live.config import AUTO, DISPLAY_RATE, Config, VideoOptions
from rife_live.errors import ConfigError
from rife_live.pipeline.convert import frame_dtype, make_frame_ring
from rife_live.pipeline.decode import DecodeOptions, DecodeThread
from rife_live.pipeline.interpolate import InterpolateOptions, InterpolateThread, make_output_ring, output_shape
from rife_live.pipeline.pcm import PcmTarget
from rife_live.pipeline.ring import Ring
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.source import InputKind, Source, SourceOptions, hardware_options
from rife_live.timing import rate_for_exp, rate_for_multi

if TYPE_CHECKING:  # the engine (torch) loads only once the input and the outputs are known good
    from rife_live.models.engine import Interpolator

RING_A_SLOTS = 6  # source frames: the pair being interpolated plus decode-ahead
EXPORT_RING_B_SLOTS = 8  # output frames waiting for the sink
MIN_RING_B_SLOTS = 4
FILE_PREROLL_S = 0.25  # playback of a file: output ready before the clock starts (at a start or seek)
MIN_PREROLL_FRAMES = 2
BYTES_PER_MIB = 1024 * 1024
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


@dataclass(frozen=True)
class ReadAhead:
    """How far a live pipeline runs ahead of the picture: ring B's ``slots`` (``lead_s`` seconds
    of output, within the memory cap) and the ``preroll`` frames the clock waits for at a start."""

    slots: int
    lead_s: float
    preroll: int


def read_ahead(config: Config, live_source: bool, rate: Fraction, height: int, width: int,
               item_bytes: int = 1) -> ReadAhead:
    """A file reads ahead ``--readahead-secs``; a live source keeps ``--live-latency`` (and its
    clock starts that far behind it). Ring B holds that many output frames, but not more memory
    than ``--readahead-max-mib`` (``item_bytes``: 2 for uint16 frames)."""
    player = config.player
    wanted_s = player.live_latency if live_source else player.readahead_secs
    wanted = max(MIN_RING_B_SLOTS, int(-(-Fraction(wanted_s).limit_denominator(1000) * rate // 1)) + 1)
    frame_bytes = int(np.prod(output_shape(height, width, config.video.montage))) * item_bytes
    slots = max(MIN_RING_B_SLOTS, min(wanted, player.readahead_max_mib * BYTES_PER_MIB // frame_bytes))
    lead_s = float((slots - 1) / rate)
    preroll_s = lead_s if live_source else min(FILE_PREROLL_S, lead_s)
    preroll = max(MIN_PREROLL_FRAMES, min(slots - 1, int(preroll_s * rate)))
    return ReadAhead(slots=slots, lead_s=lead_s, preroll=preroll)


def display_name(target: str) -> str:
    """How messages name an input: a URL or device as given, a file by its name."""
    return target if "://" in target or target.startswith(("lavfi:", "v4l2:")) else Path(target).name


def startup_line(target: str, source: Source, rate_text: str, scale_text: str, engine: Interpolator) -> str:
    """The line both modes print when the pipeline starts."""
    video, described = source.video, engine.describe()
    decoder = f", decoded on {source.decoder}" if source.decoder != "software" else ""
    return (f"{display_name(target)}: {video.width}x{video.height} {float(video.fps or 0):g} fps -> {rate_text}, "
            f"scale {scale_text}, {described['device']} {described['dtype']}{decoder}")


def decode_where_the_network_runs(source: Source, options: SourceOptions, engine: Interpolator,
                                  log: Callable[[str], None]) -> tuple[Source, SourceOptions]:
    """``--hwdec auto``: once the engine is on CUDA, a file is reopened to decode on its GPU
    (NVDEC); one line says why when that is not possible. The input was first opened without it,
    so a bad input is refused before torch loads. Returns the source and the options it was opened
    with (restarts and reconnects reuse them)."""
    wanted = hardware_options(options, engine.device.type)
    if wanted.hw_device is None or source.kind is not InputKind.FILE:
        return source, options
    reopened = open_source(source.target, wanted)
    source.close()
    if reopened.hwdec_note is not None:
        log(reopened.hwdec_note)
    return reopened, wanted


# -- the stages ------------------------------------------------------------------------------------

class Pipeline:
    """The stages of one pass over an input, with their rings. The caller owns it: ``start``,
    then ``stop`` + ``join``; until ``start`` it owns the source (``close_source`` releases it)."""

    def __init__(self, source: Source, ring_a: Ring[np.ndarray], ring_b: Ring[np.ndarray], decode: DecodeThread,
                 interp: InterpolateThread, preroll: int = MIN_PREROLL_FRAMES) -> None:
        self.source = source
        self.ring_a = ring_a
        self.ring_b = ring_b
        self.decode = decode
        self.interp = interp
        self.preroll = preroll  # live: output frames ready before the clock starts
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
        self.interp.pacing.set_interpolation(on)

    def set_scale(self, scale: float, adaptive_on: bool) -> None:
        self.interp.pacing.set_scale(scale, adaptive_on)

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
    ahead = (read_ahead(config, source.is_live, rate, video.height, video.width, dtype.itemsize) if live
             else None)
    ring_b = make_output_ring(video.height, video.width, options.montage,
                              ahead.slots if ahead is not None else EXPORT_RING_B_SLOTS, dtype)
    ring_a.reset(epoch)
    ring_b.reset(epoch)
    decode = DecodeThread(source, ring_a, DecodeOptions(start=start, end=options.end), pcm=pcm)
    interp = InterpolateThread(engine, ring_a, ring_b, InterpolateOptions(
        target_fps=rate, scale=scale, start=None if live else start, end=options.end,
        frame_duration=1 / video.fps if video.fps else None, montage=options.montage, interpolate=interpolate,
        scenes=config.scenes, clock=clock if live else None, lead_s=ahead.lead_s if ahead is not None else 0.0,
        adaptive=live and adaptive_on))
    return Pipeline(source, ring_a, ring_b, decode, interp, ahead.preroll if ahead is not None else MIN_PREROLL_FRAMES)
