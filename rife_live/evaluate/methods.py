"""Ways to make the frames between two frames, to be scored against the truth.

- ``network``: the RIFE network through ``rife_live.models.engine.Interpolator``. For t ≠ ½ either
  ``flow`` (one pass; the engine scales the flow for t) or ``bisect`` (passes at t = ½ only,
  recursively: for ¼, ½, ¾ that is mid = net(a, b), net(a, mid), net(mid, b): 3 passes).
- ``blend``: the (1 − t, t) cross-fade, rounded (50/50 at t = ½).
- ``repeat``: the nearest input frame (the earlier one at t = ½).
- ``minterpolate``: FFmpeg's motion-compensated interpolation (``minterpolate``, ``mi_mode=mci``,
  its defaults otherwise: obmc, bilateral EPZS search, 16x16 blocks) through PyAV's filter graph.
  Its own scene-change fallback is turned off (``scd=none``) so it always interpolates; scene cuts
  are reported apart by the runner. It needs YUV, so frames pass through 8-bit YUV 4:4:4 and back
  (that round trip alone is ~50 dB on real footage, above every score that matters here).

Every method returns RGB frames of its inputs' dtype (8-bit, or 16-bit for deeper sources; the
network keeps the precision, minterpolate works at 8 bits and widens its frames back) and the
number of network passes it ran.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

import av
import numpy as np
from av.filter import Graph

from rife_live.color import narrow_to_uint8
from rife_live.colorinfo import WIDEN_8_TO_16
from rife_live.errors import ConfigError
from rife_live.models.settings import EngineConfig

METHODS = ("network", "blend", "repeat", "minterpolate")
ARBITRARY_T = ("flow", "bisect")
HALF = Fraction(1, 2)
U8_MAX = 255.0
MAX_BISECT_DEPTH = 6  # t = k / 64 at most

# minterpolate: frames enter at 1 fps (pts 0, 1, ...) and leave at n fps, so output k is t = k / n.
MI_PIX_FMT = "yuv444p"
MI_OPTIONS = "mi_mode=mci:scd=none"
MI_TIME_BASE = Fraction(1, 1)


@dataclass(frozen=True)
class Prediction:
    """The frames a method made for the requested times, and its network passes."""

    frames: tuple[np.ndarray, ...] = field(repr=False)
    passes: int = 0


class Method(Protocol):
    name: str

    def predict(self, frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction]) -> Prediction:
        """The frames at each t in ``ts`` (0 < t < 1) between ``frame0`` and ``frame1``."""
        ...


def _check_ts(ts: Sequence[Fraction]) -> None:
    for t in ts:
        if not 0 < t < 1:
            raise ValueError(f"t must lie strictly between 0 and 1, not {t}")


def blend_frames(frame0: np.ndarray, frame1: np.ndarray, t: Fraction) -> np.ndarray:
    """(1 − t) · frame0 + t · frame1, rounded to the inputs' bit depth."""
    tf = float(t)
    mix = (1.0 - tf) * frame0.astype(np.float32) + tf * frame1.astype(np.float32)
    return np.clip(np.rint(mix), 0, np.iinfo(frame0.dtype).max).astype(frame0.dtype)


@dataclass(frozen=True)
class BlendMethod:
    name: str = "blend"

    def predict(self, frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction]) -> Prediction:
        _check_ts(ts)
        return Prediction(tuple(blend_frames(frame0, frame1, t) for t in ts))


@dataclass(frozen=True)
class RepeatMethod:
    name: str = "repeat"

    def predict(self, frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction]) -> Prediction:
        _check_ts(ts)
        return Prediction(tuple((frame0 if t <= HALF else frame1).copy() for t in ts))


def minterpolate(frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction],
                 options: str = MI_OPTIONS) -> tuple[np.ndarray, ...]:
    """FFmpeg minterpolate's frames at ``ts`` between two RGB frames (one filter graph per pair).

    The filter keeps four frames and interpolates between its 2nd and 3rd; it duplicates the first
    frame it gets, so feeding frame0, frame1, frame1 at pts 0, 1, 2 (1 fps) makes it emit every
    output of [0, 1] at ``fps = n`` where n is the common denominator of the ts.
    """
    _check_ts(ts)
    rate = math.lcm(*(Fraction(t).denominator for t in ts))
    height, width = frame0.shape[:2]
    graph = Graph()
    source = graph.add_buffer(width=width, height=height, format=MI_PIX_FMT, time_base=MI_TIME_BASE)
    interp = graph.add("minterpolate", f"fps={rate}:{options}")
    sink = graph.add("buffersink")
    source.link_to(interp)
    interp.link_to(sink)
    graph.configure()
    for pts, image in enumerate((frame0, frame1, frame1)):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24").reformat(format=MI_PIX_FMT)
        frame.pts = pts
        frame.time_base = MI_TIME_BASE
        graph.push(frame)
    graph.push(None)
    made: dict[Fraction, np.ndarray] = {}
    while True:
        try:
            out = graph.pull()
        except (av.error.EOFError, av.error.BlockingIOError):
            break
        made[Fraction(out.pts, rate)] = out.to_ndarray(format="rgb24")
    missing = [t for t in ts if Fraction(t) not in made]
    if missing:
        raise RuntimeError(f"minterpolate made no frame for t = {', '.join(map(str, missing))}")
    return tuple(made[Fraction(t)] for t in ts)


@dataclass(frozen=True)
class MinterpolateMethod:
    name: str = "minterpolate"

    def predict(self, frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction]) -> Prediction:
        if frame0.dtype == np.uint16:  # the filter runs at 8 bits
            made = minterpolate(narrow_to_uint8(frame0), narrow_to_uint8(frame1), ts)
            return Prediction(tuple(f.astype(np.uint16) * np.uint16(WIDEN_8_TO_16) for f in made))
        return Prediction(minterpolate(frame0, frame1, ts))


class NetworkMethod:
    """The network via the engine; ``arbitrary_t`` picks flow scaling or bisection for t ≠ ½."""

    name = "network"

    def __init__(self, engine: Any, arbitrary_t: str = "flow", scale: float = 1.0) -> None:
        if arbitrary_t not in ARBITRARY_T:
            raise ConfigError(f"arbitrary-t mode must be one of {', '.join(ARBITRARY_T)}, not {arbitrary_t!r}")
        self.engine = engine
        self.arbitrary_t = arbitrary_t
        self.scale = scale

    def predict(self, frame0: np.ndarray, frame1: np.ndarray, ts: Sequence[Fraction]) -> Prediction:
        _check_ts(ts)
        if self.arbitrary_t == "flow" or all(t == HALF for t in ts):
            state = self.engine.flow(frame0, frame1, scale=self.scale)
            return Prediction(tuple(np.asarray(self.engine.synthesize(state, t)) for t in ts), passes=1)
        cache: dict[tuple[Fraction, Fraction], np.ndarray] = {}
        frames = tuple(self._bisect(frame0, frame1, Fraction(0), Fraction(1), Fraction(t), cache, 0) for t in ts)
        return Prediction(frames, passes=len(cache))

    def _bisect(self, a: np.ndarray, b: np.ndarray, lo: Fraction, hi: Fraction, t: Fraction,
                cache: dict[tuple[Fraction, Fraction], np.ndarray], depth: int) -> np.ndarray:
        if depth >= MAX_BISECT_DEPTH:
            raise ConfigError(f"bisection reaches only t = k/{2 ** MAX_BISECT_DEPTH}; t = {t} is not one")
        mid_t = (lo + hi) / 2
        if (lo, hi) not in cache:
            cache[(lo, hi)] = np.asarray(self.engine.interpolate(a, b, HALF, scale=self.scale))
        mid = cache[(lo, hi)]
        if t == mid_t:
            return mid
        if t < mid_t:
            return self._bisect(a, mid, lo, mid_t, t, cache, depth + 1)
        return self._bisect(mid, b, mid_t, hi, t, cache, depth + 1)


def make_engine(config: EngineConfig, log: Callable[[str], None] | None = None) -> Any:
    """The network engine (imported here, so the other methods work without torch)."""
    from rife_live.models.engine import Interpolator

    return Interpolator.from_config(config, log)


def make_method(name: str, engine: Any = None, arbitrary_t: str = "flow", scale: float = 1.0) -> Method:
    """A method by name; ``network`` needs an engine (see ``make_engine``)."""
    if name == "blend":
        return BlendMethod()
    if name == "repeat":
        return RepeatMethod()
    if name == "minterpolate":
        return MinterpolateMethod()
    if name == "network":
        if engine is None:
            raise ValueError("the network method needs an engine")
        return NetworkMethod(engine, arbitrary_t, scale)
    raise ConfigError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
