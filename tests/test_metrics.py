"""Quality measures against independent computations on real footage (bigbuckbunny frames)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rife_live.evaluate import metrics
from tests.media import bbb_frames

W, H = 128, 96


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return bbb_frames(W, H, 3, start=60)


def test_psnr_matches_plain_numpy(frames):
    a, _, c = frames
    mse = np.mean((a.astype(np.float64) - c.astype(np.float64)) ** 2)
    expected = 10 * math.log10(255.0**2 / mse)
    assert metrics.psnr(a, c) == pytest.approx(expected, abs=1e-9)
    assert metrics.psnr(c, a) == pytest.approx(expected, abs=1e-9)


def test_identical_images_score_perfectly(frames):
    a = frames[0]
    s = metrics.score(a, a.copy())
    assert s.psnr == metrics.PSNR_CAP_DB
    assert s.psnr_y == metrics.PSNR_CAP_DB
    assert s.ssim == pytest.approx(1.0, abs=1e-12)
    assert s.ssim_rife == pytest.approx(1.0, abs=1e-12)
    assert s.ie == 0.0


def test_interpolation_error_is_mean_absolute_8bit_difference(frames):
    a, b, _ = frames
    expected = np.abs(a.astype(int) - b.astype(int)).sum() / a.size
    assert metrics.interpolation_error(a, b) == pytest.approx(expected, abs=1e-12)
    # one level off everywhere is IE 1
    brighter = np.clip(a.astype(int) + 1, 0, 255).astype(np.uint8)
    mask = a < 255
    assert metrics.interpolation_error(a, brighter) == pytest.approx(mask.mean(), abs=1e-12)


def test_luma_psnr_uses_bt601_weights(frames):
    a, _, c = frames
    ya = a.astype(np.float64) @ [0.299, 0.587, 0.114]
    yc = c.astype(np.float64) @ [0.299, 0.587, 0.114]
    expected = 20 * math.log10(255.0 / math.sqrt(np.mean((ya - yc) ** 2)))
    assert metrics.psnr_y(a, c) == pytest.approx(expected, abs=1e-9)


def test_gaussian_kernel():
    k = metrics.gaussian_kernel()
    assert k.shape == (11,)
    assert k.sum() == pytest.approx(1.0)
    assert np.allclose(k, k[::-1])
    assert k[6] / k[5] == pytest.approx(math.exp(-1 / (2 * 1.5**2)))


def test_ssim_interior_matches_scikit_image(frames):
    """scikit-image's Gaussian SSIM (Wang et al. 2004) crops a 5-pixel border; so does this check."""
    skm = pytest.importorskip("skimage.metrics")
    a, b, c = frames
    for x, y in ((a, b), (a, c)):
        ref = skm.structural_similarity(x / 255.0, y / 255.0, data_range=1.0, channel_axis=2,
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        map_2d, _ = metrics.ssim_maps(x, y)
        assert map_2d[5:-5, 5:-5].mean() == pytest.approx(ref, abs=1e-9)


def _dense_rife_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """The RIFE benchmark's 3-D SSIM written directly: one dense 11x11x11 Gaussian conv3d over
    (channel, height, width) with replicated edges, on float64 tensors."""
    g = torch.exp(-((torch.arange(11, dtype=torch.float64) - 5) ** 2) / (2 * 1.5**2))
    g = g / g.sum()
    window = (g[:, None, None] * g[None, :, None] * g[None, None, :])[None, None]
    t1 = torch.from_numpy(x.transpose(2, 0, 1) / 255.0)[None, None]
    t2 = torch.from_numpy(y.transpose(2, 0, 1) / 255.0)[None, None]

    def filt(v: torch.Tensor) -> torch.Tensor:
        return F.conv3d(F.pad(v, (5, 5, 5, 5, 5, 5), mode="replicate"), window)

    mu1, mu2 = filt(t1), filt(t2)
    s11 = filt(t1 * t1) - mu1**2
    s22 = filt(t2 * t2) - mu2**2
    s12 = filt(t1 * t2) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(value.mean())


def test_rife_ssim_matches_dense_3d_window(frames):
    a, b, c = frames
    for x, y in ((a, b), (a, c), (c, b)):
        assert metrics.ssim_rife(x, y) == pytest.approx(_dense_rife_ssim(x, y), abs=1e-10)


def test_ssim_variants_agree_on_grey_images(frames):
    """With three equal channels the colour axis of the 3-D window adds nothing."""
    a, _, c = frames
    grey_a = np.repeat(a[..., 1:2], 3, axis=2)
    grey_c = np.repeat(c[..., 1:2], 3, axis=2)
    assert metrics.ssim_rife(grey_a, grey_c) == pytest.approx(metrics.ssim(grey_a, grey_c), abs=1e-12)


def test_ssim_falls_with_noise_and_is_symmetric(frames):
    a, b, _ = frames
    rng = np.random.default_rng(7)
    previous = 1.0
    for sigma in (2, 8, 32):
        noisy = np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).astype(np.uint8)
        value = metrics.ssim(noisy, a)
        assert value < previous
        previous = value
    assert metrics.ssim(a, b) == pytest.approx(metrics.ssim(b, a), abs=1e-12)
    assert metrics.ssim_rife(a, b) == pytest.approx(metrics.ssim_rife(b, a), abs=1e-12)


def test_score_bundles_every_measure(frames):
    a, b, _ = frames
    s = metrics.score(a, b)
    assert s.psnr == metrics.psnr(a, b)
    assert s.psnr_y == metrics.psnr_y(a, b)
    assert s.ssim == metrics.ssim(a, b)
    assert s.ssim_rife == metrics.ssim_rife(a, b)
    assert s.ie == metrics.interpolation_error(a, b)


def test_shape_mismatch_is_refused(frames):
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.psnr(frames[0], frames[0][:-1])
    with pytest.raises(ValueError, match="HxWx3"):
        metrics.ssim(frames[0][..., 0], frames[0][..., 0])
