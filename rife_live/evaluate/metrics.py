"""Image quality measures of the frame-interpolation literature: PSNR, SSIM and Middlebury's IE.

Conventions follow the original RIFE benchmark scripts: images are 8-bit RGB (HxWx3 ``uint8``); a
prediction is already rounded to 8 bits before it is scored; PSNR and SSIM work on values in [0, 1].
Sources deeper than 8 bits are scored at 16 bits (``uint16`` images, 65535 = 1.0), so the
precision they carry counts (DESIGN.md §11); a prediction and its truth have the same dtype.

Two SSIMs are computed from one set of Gaussian-filtered statistics:

- ``ssim``: the SSIM of Wang et al. 2004 (Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03,
  population statistics), per colour channel, averaged over every pixel and channel. Borders are
  filtered with replicated edges (as the RIFE benchmark code does), so the map covers the whole image.
- ``ssim_rife``: the variant the RIFE benchmark scripts actually report (``ssim_matlab`` in
  their ``pytorch_msssim``): the same Gaussian applied in 3-D, across the colour axis as well, so
  the three channels are treated as one volume (replicated edges on all three axes).

The Gaussian is separable, so both are computed with 1-D filters along each axis (cheap even at
1080p) in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PIXEL_MAX = 255.0
PSNR_CAP_DB = 100.0  # PSNR of identical images (the MSE is floored so averages stay finite)
MSE_FLOOR = 10.0 ** (-PSNR_CAP_DB / 10.0)  # on [0, 1] values
# Luma weights of the YUV conversion used by the HD benchmark (BT.601, as scikit-image's rgb2yuv).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Scores:
    """Every measure of one predicted frame against its ground truth."""

    psnr: float  # dB, on RGB in [0, 1]
    psnr_y: float  # dB, on BT.601 luma (the HD benchmark's measure)
    ssim: float  # per-channel Gaussian SSIM (Wang et al. 2004)
    ssim_rife: float  # the RIFE benchmark's 3-D-window SSIM
    ie: float  # Middlebury interpolation error: mean |pred - truth| on 8-bit values


def _check_pair(pred: np.ndarray, truth: np.ndarray) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} differ in shape")
    if pred.dtype != truth.dtype:
        raise ValueError(f"prediction ({pred.dtype}) and ground truth ({truth.dtype}) differ in bit depth")
    if pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected HxWx3 images, got {pred.shape}")


def _unit(image: np.ndarray) -> np.ndarray:
    """8-bit (or 16-bit) image -> float64 in [0, 1]."""
    return image.astype(np.float64) / _code_max(image)


def _code_max(image: np.ndarray) -> float:
    return float(np.iinfo(image.dtype).max) if image.dtype == np.uint16 else PIXEL_MAX


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error on [0, 1] values, capped at ``PSNR_CAP_DB``."""
    return -10.0 * math.log10(max(mse, MSE_FLOOR))


def psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB over all pixels and channels, as the RIFE scripts: -10 log10(mean((p - g)^2))."""
    _check_pair(pred, truth)
    diff = _unit(pred) - _unit(truth)
    return psnr_from_mse(float(np.mean(diff * diff)))


def luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of an 8-bit RGB image, float64 in [0, 1] (not rounded)."""
    return _unit(image) @ np.asarray(LUMA_WEIGHTS, dtype=np.float64)


def psnr_y(pred: np.ndarray, truth: np.ndarray) -> float:
    """PSNR in dB of the luma planes (the HD benchmark's measure)."""
    _check_pair(pred, truth)
    diff = luma(pred) - luma(truth)
    return psnr_from_mse(float(np.mean(diff * diff)))


def interpolation_error(pred: np.ndarray, truth: np.ndarray) -> float:
    """Middlebury's IE: mean absolute difference of the 8-bit values over pixels and channels
    (16-bit images in 8-bit units)."""
    _check_pair(pred, truth)
    levels = float(np.mean(np.abs(pred.astype(np.float64) - truth.astype(np.float64))))
    return levels * PIXEL_MAX / _code_max(pred)


def gaussian_kernel(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """A normalised 1-D Gaussian of ``size`` taps centred on the middle tap."""
    offsets = np.arange(size, dtype=np.float64) - size // 2
    kernel = np.exp(-(offsets**2) / (2.0 * sigma * sigma))
    return kernel / kernel.sum()


def _filter_axis(x: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Correlate ``x`` with a symmetric 1-D ``kernel`` along ``axis``, edges replicated; same size."""
    radius = len(kernel) // 2
    widths = [(0, 0)] * x.ndim
    widths[axis] = (radius, radius)
    padded = np.pad(x, widths, mode="edge")
    length = x.shape[axis]
    window = [slice(None)] * x.ndim
    out = np.zeros_like(x)
    term = np.empty_like(x)
    for k, weight in enumerate(kernel):
        window[axis] = slice(k, k + length)
        np.multiply(padded[tuple(window)], weight, out=term)
        out += term
    return out


def _spatial_filter(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return _filter_axis(_filter_axis(x, kernel, 0), kernel, 1)


def _ssim_from_moments(mu1: np.ndarray, mu2: np.ndarray, e11: np.ndarray, e22: np.ndarray,
                       e12: np.ndarray) -> np.ndarray:
    c1 = SSIM_K1**2  # dynamic range L = 1
    c2 = SSIM_K2**2
    var1 = e11 - mu1 * mu1
    var2 = e22 - mu2 * mu2
    cov = e12 - mu1 * mu2
    return ((2.0 * mu1 * mu2 + c1) * (2.0 * cov + c2)) / ((mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2))


def ssim_maps(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The per-pixel SSIM maps (HxWx3 each): the per-channel 2-D one and the RIFE 3-D one."""
    _check_pair(pred, truth)
    x = _unit(pred)
    y = _unit(truth)
    kernel = gaussian_kernel()
    moments = [_spatial_filter(v, kernel) for v in (x, y, x * x, y * y, x * y)]
    map_2d = _ssim_from_moments(*moments)
    # The colour axis is short (3), so replicate-padding it by the window radius makes each output
    # channel a weighted mix of the three; the 3-D Gaussian is separable, so this finishes it.
    moments_3d = [_filter_axis(m, kernel, 2) for m in moments]
    map_3d = _ssim_from_moments(*moments_3d)
    return map_2d, map_3d


def ssim(pred: np.ndarray, truth: np.ndarray) -> float:
    """Gaussian-window SSIM (Wang et al. 2004), per channel, mean over the whole map."""
    return float(np.mean(ssim_maps(pred, truth)[0]))


def ssim_rife(pred: np.ndarray, truth: np.ndarray) -> float:
    """The RIFE benchmark's SSIM: one 11x11x11 Gaussian over (channel, height, width)."""
    return float(np.mean(ssim_maps(pred, truth)[1]))


def score(pred: np.ndarray, truth: np.ndarray) -> Scores:
    """All measures of one prediction (8-bit or 16-bit RGB) against its ground truth (the same)."""
    map_2d, map_3d = ssim_maps(pred, truth)
    return Scores(
        psnr=psnr(pred, truth),
        psnr_y=psnr_y(pred, truth),
        ssim=float(np.mean(map_2d)),
        ssim_rife=float(np.mean(map_3d)),
        ie=interpolation_error(pred, truth),
    )
