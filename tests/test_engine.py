"""The engine against the published implementation (golden outputs) and real footage."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from rife_live.errors import ConfigError, InputError
from rife_live.models.engine import Interpolator, cpu_supports_bfloat16, to_uint8

DATA = Path(__file__).parent / "data"
SHARED_GOLDEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "golden"
GOLDEN_MIN_DB = 45.0
DTYPE_MAX_LOSS_DB = 0.05


def read_png(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def golden_cases() -> list[tuple[Path, dict]]:
    cases = [(DATA / "golden", c) for c in json.loads((DATA / "golden" / "golden.json").read_text())]
    if (SHARED_GOLDEN / "golden.json").exists():  # the full set, where the shared data sits beside the repo
        local = {c["reference_mid"] for _, c in cases}
        cases += [(SHARED_GOLDEN, c) for c in json.loads((SHARED_GOLDEN / "golden.json").read_text())
                  if c["reference_mid"] not in local]
    return cases


CASES = golden_cases()


def bbb_frames(indices: list[int]) -> dict[int, np.ndarray]:
    wanted, out = set(indices), {}
    with av.open(str(DATA / "bigbuckbunny.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24")
            if len(out) == len(wanted):
                break
    return out


@pytest.fixture(scope="module")
def fp32() -> Interpolator:
    return Interpolator(device="cpu", dtype="float32")


@pytest.fixture(scope="module")
def default() -> Interpolator:
    return Interpolator(device="cpu", dtype="auto")


@pytest.mark.parametrize("folder,case", CASES, ids=[c["reference_mid"] for _, c in CASES])
def test_float32_matches_published_implementation(fp32, default, folder, case):
    img0, img1 = read_png(folder / case["img0"]), read_png(folder / case["img1"])
    reference, truth = read_png(folder / case["reference_mid"]), read_png(folder / case["truth"])
    ours = fp32.interpolate(img0, img1, Fraction(1, 2), case["scale"])
    assert ours.shape == reference.shape and ours.dtype == np.uint8
    assert psnr(ours, reference) >= GOLDEN_MIN_DB
    # Quality against the true middle frame: as the reference, and well above a 50/50 blend.
    assert abs(psnr(ours, truth) - case["psnr_ref_vs_truth"]) < 0.01
    blend = ((img0.astype(np.uint16) + img1 + 1) // 2).astype(np.uint8)
    assert psnr(ours, truth) > psnr(blend, truth) + 1.0
    # The default CPU dtype (bfloat16 where the CPU has it) loses at most 0.05 dB against the truth.
    fast = default.interpolate(img0, img1, 0.5, case["scale"])
    assert psnr(fast, truth) >= psnr(ours, truth) - DTYPE_MAX_LOSS_DB


def test_default_dtype_on_this_cpu(default):
    assert default.dtype == (torch.bfloat16 if cpu_supports_bfloat16() else torch.float32)


def test_t_half_is_exactly_the_network_output_and_ends_are_the_inputs(default):
    frames = bbb_frames([30, 32])
    a, b = frames[30][:200, :320].copy(), frames[32][:200, :320].copy()
    state = default.flow(a, b, 1.0)
    mid = default.synthesize(state, Fraction(1, 2))
    assert np.array_equal(mid, to_uint8(state.middle, 200, 320).numpy())
    assert np.array_equal(default.synthesize(state, 0.5), mid)
    assert default.synthesize(state, 0) is a and default.synthesize(state, 1) is b
    # Synthesized frames move smoothly toward the inputs as t goes to the ends.
    near0 = default.synthesize(state, Fraction(1, 100))
    assert psnr(near0, a) > psnr(mid, a) and psnr(near0, a) > 35


def test_flow_scaling_beats_blend_at_thirds(default):
    """Predict frames i+1, i+2 from i, i+3 (t = 1/3, 2/3) of real footage, as in DESIGN.md §4."""
    starts = [10, 40, 70]
    frames = bbb_frames(sorted({s + k for s in starts for k in range(4)}))
    ours_db, blend_db = [], []
    for s in starts:
        state = default.flow(frames[s], frames[s + 3], 1.0)
        for k, t in ((1, Fraction(1, 3)), (2, Fraction(2, 3))):
            truth = frames[s + k]
            ours_db.append(psnr(default.synthesize(state, t), truth))
            tf = float(t)
            blend = np.round(frames[s] * (1 - tf) + frames[s + 3] * tf).astype(np.uint8)
            blend_db.append(psnr(blend, truth))
    assert np.mean(ours_db) > np.mean(blend_db) + 1.0


def test_odd_sizes_and_tensor_frames(default):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (241, 321, 3), dtype=np.uint8)
    b = np.roll(a, 2, axis=1)
    out = default.interpolate(a, b, 0.25, 1.0)
    assert out.shape == (241, 321, 3) and out.dtype == np.uint8
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    tout = default.interpolate(ta, tb, 0.25, 1.0)
    assert isinstance(tout, torch.Tensor) and tout.dtype == torch.uint8
    assert np.array_equal(tout.numpy(), out)
    tiny = default.interpolate(np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 255, np.uint8), 0.5, 1.0)
    assert tiny.shape == (2, 2, 3)


def test_per_resolution_cache_is_reused(default):
    a = np.zeros((64, 96, 3), np.uint8)
    default.interpolate(a, a, 0.5, 0.5)
    cached = dict(default._cache)
    p = default.prepare(a, 0.5)
    for _ in range(3):
        default.interpolate(a, a, 0.3, 0.5)
    assert dict(default._cache).keys() == cached.keys()
    res = default._cache[(64, 96, 0.5)]
    assert res is cached[(64, 96, 0.5)]
    assert any(p.tensor is buf for buf in res.buffers)


@pytest.mark.parametrize("bad,error,match", [
    (dict(shape=(1, 5, 3)), InputError, "at least 2x2"),
    (dict(shape=(8, 8, 4)), InputError, "HxWx3"),
    (dict(shape=(8, 8, 3), dtype=np.float32), InputError, "uint8"),
])
def test_bad_frames(default, bad, error, match):
    frame = np.zeros(bad["shape"], bad.get("dtype", np.uint8))
    with pytest.raises(error, match=match):
        default.interpolate(frame, frame)


def test_bad_pairs_and_options(default):
    with pytest.raises(InputError, match="differ in size"):
        default.flow(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 10, 3), np.uint8))
    with pytest.raises(InputError, match="differ in bit depth"):
        default.flow(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint16))
    with pytest.raises(ConfigError, match="flow scale"):
        default.interpolate(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8), 0.5, 0.3)
    with pytest.raises(ConfigError, match="--device"):
        Interpolator(device="tpu")
    with pytest.raises(ConfigError, match="--dtype"):
        Interpolator(device="cpu", dtype="int8")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            Interpolator(device="cuda")


def test_uint16_frames_go_through_at_16_bits(default):
    """Deep frames (DESIGN.md §11) are scaled by 65535, not 255, and come back as uint16: an 8-bit
    pair widened to 16 bits gives the 8-bit result widened, up to the rounding of 8 bits."""
    frames = bbb_frames([60, 62])
    eight = default.interpolate(frames[60], frames[62])
    wide = [f.astype(np.uint16) * np.uint16(257) for f in (frames[60], frames[62])]
    state = default.flow(*wide)
    deep = default.synthesize(state, Fraction(1, 2))
    assert deep.dtype == np.uint16 and deep.shape == eight.shape
    assert default.synthesize(state, 0) is wide[0]
    assert np.abs(deep.astype(np.int64) - eight.astype(np.int64) * 257).max() <= 2 * 257
    assert np.any(deep % 257)  # the output keeps more than 8 bits
    third = default.synthesize(state, Fraction(1, 3))
    assert third.dtype == np.uint16
    tensor = default.interpolate(torch.from_numpy(wide[0]), torch.from_numpy(wide[1]))
    assert tensor.dtype == torch.uint16
    np.testing.assert_array_equal(tensor.numpy(), deep)
