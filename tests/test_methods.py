"""Interpolation methods on real footage (bigbuckbunny frames scaled to 128x96)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from rife_live.errors import ConfigError
from rife_live.evaluate import methods
from rife_live.evaluate.metrics import psnr
from rife_live.models.settings import EngineConfig
from tests import media

W, H = 128, 96
HALF = Fraction(1, 2)
QUARTERS = (Fraction(1, 4), HALF, Fraction(3, 4))


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    """bbb frames 60..64: smooth camera motion (the golden case 60/62)."""
    return media.bbb_frames(W, H, 5, start=60)


@pytest.fixture(scope="module")
def engine():
    return methods.make_engine(EngineConfig(device="cpu", dtype="float32"))


def test_blend_is_the_rounded_weighted_mean(frames):
    a, _, b = frames[:3]
    out = methods.BlendMethod().predict(a, b, QUARTERS)
    assert out.passes == 0
    for t, frame in zip(QUARTERS, out.frames):
        expected = np.rint((1 - float(t)) * a.astype(np.float64) + float(t) * b.astype(np.float64))
        assert frame.dtype == np.uint8
        assert np.abs(frame.astype(int) - expected.astype(int)).max() <= 1  # float32 vs float64 at .5
        assert np.mean(frame == expected) > 0.99


def test_repeat_takes_the_nearest_frame_and_the_earlier_at_half(frames):
    a, _, b = frames[:3]
    out = methods.RepeatMethod().predict(a, b, QUARTERS)
    assert [np.array_equal(f, a) for f in out.frames] == [True, True, False]
    assert np.array_equal(out.frames[2], b)


def test_times_outside_the_pair_are_refused(frames):
    a, b = frames[0], frames[2]
    for t in (Fraction(0), Fraction(1), Fraction(3, 2)):
        with pytest.raises(ValueError):
            methods.BlendMethod().predict(a, b, [t])


def test_minterpolate_sizes_and_beats_repeat_on_smooth_motion(frames):
    a, truth, b = frames[:3]
    mid = methods.MinterpolateMethod().predict(a, b, [HALF]).frames[0]
    assert mid.shape == a.shape and mid.dtype == np.uint8
    assert psnr(mid, truth) > psnr(a, truth) + 1.0
    four = methods.minterpolate(frames[0], frames[4], QUARTERS)
    assert [f.shape for f in four] == [a.shape] * 3
    for k, frame in enumerate(four, start=1):
        nearest = frames[0] if k <= 2 else frames[4]
        assert psnr(frame, frames[k]) > psnr(nearest, frames[k])


def test_minterpolate_odd_size(frames):
    a, b = frames[0][:33, :47], frames[2][:33, :47]
    out = methods.minterpolate(a, b, [HALF])
    assert out[0].shape == (33, 47, 3)


def test_network_flow_one_pass_and_exact_middle(frames, engine):
    a, truth, b = frames[:3]
    method = methods.NetworkMethod(engine, "flow")
    out = method.predict(a, b, [HALF])
    assert out.passes == 1
    assert np.array_equal(out.frames[0], engine.interpolate(a, b, HALF))
    blend = methods.BlendMethod().predict(a, b, [HALF]).frames[0]
    assert psnr(out.frames[0], truth) > psnr(blend, truth)
    four = method.predict(frames[0], frames[4], QUARTERS)
    assert four.passes == 1 and len(four.frames) == 3


def test_network_bisect_three_passes_for_quarters(frames, engine):
    a, b = frames[0], frames[4]
    out = methods.NetworkMethod(engine, "bisect").predict(a, b, QUARTERS)
    assert out.passes == 3
    mid = engine.interpolate(a, b, HALF)
    assert np.array_equal(out.frames[1], mid)
    assert np.array_equal(out.frames[0], engine.interpolate(a, mid, HALF))
    assert np.array_equal(out.frames[2], engine.interpolate(mid, b, HALF))
    only_half = methods.NetworkMethod(engine, "bisect").predict(a, b, [HALF])
    assert only_half.passes == 1
    with pytest.raises(ConfigError):
        methods.NetworkMethod(engine, "bisect").predict(a, b, [Fraction(1, 3)])


def test_make_method_names(engine):
    assert methods.make_method("blend").name == "blend"
    assert methods.make_method("repeat").name == "repeat"
    assert methods.make_method("minterpolate").name == "minterpolate"
    assert methods.make_method("network", engine, "bisect").name == "network"
    with pytest.raises(ConfigError):
        methods.make_method("dain")
    with pytest.raises(ConfigError):
        methods.make_method("network", engine, "oracle")
    with pytest.raises(ValueError):
        methods.make_method("network")
