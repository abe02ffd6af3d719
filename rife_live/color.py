"""Colour science in numpy: transfer functions, gamut conversion and tone mapping (DESIGN.md §11).

Everything here is a pure function of arrays. The live window's shader (``present/shaders/
color.glsl``) implements the same formulas in GLSL; the tests hold the two to each other.

- **Transfers.** SMPTE ST 2084 (PQ) and ARIB STD-B67 (HLG, with the BT.2100 OOTF for a display
  of ``peak`` nits) to and from absolute light (cd/m2, "nits"); SDR code values are linearized
  with BT.1886 (a pure 2.4 power, black at 0), as mpv does for BT.709 video.
- **Gamut.** 3x3 matrices between RGB primaries in linear light (``gamut_matrix``), built from
  their CIE xy chromaticities (``PRIMARY_XY``).
- **Tone mapping** (``TONE_CURVES``, mpv's ``--tone-mapping`` names): ``bt.2390`` (the EETF of
  ITU-R BT.2390, a Hermite knee in the PQ domain; the default), ``hable`` (the filmic curve mpv
  and libplacebo carry) and ``clip``. The curve runs on max(R, G, B) of the linear BT.709 signal
  and scales the three channels by the same ratio (hue kept, no channel exceeds the target); what
  is still outside BT.709 after that is clipped (mpv's ``--gamut-mapping-mode=clip``).
- **``to_sdr``** puts it together: code values of any ``ColorInfo`` -> BT.709 SDR code values
  in [0, 1], the reference white (203 nits, BT.2408) at 1.0.
"""

from __future__ import annotations

import math

import numpy as np

from rife_live.colorinfo import HLG, PQ, REFERENCE_WHITE_NITS, ColorInfo

# -- SMPTE ST 2084 -----------------------------------------------------------------------------------
PQ_M1 = 2610 / 16384
PQ_M2 = 2523 / 4096 * 128
PQ_C1 = 3424 / 4096
PQ_C2 = 2413 / 4096 * 32
PQ_C3 = 2392 / 4096 * 32
PQ_MAX_NITS = 10000.0

# -- ARIB STD-B67 / BT.2100 HLG ----------------------------------------------------------------------
HLG_A = 0.17883277
HLG_B = 1 - 4 * HLG_A
HLG_C = 0.5 - HLG_A * math.log(4 * HLG_A)
HLG_NOMINAL_PEAK = 1000.0  # nits of the reference HLG display (system gamma 1.2)
HLG_GAMMA_BASE = 1.2
HLG_GAMMA_SLOPE = 0.42  # gamma = 1.2 + 0.42 log10(peak / 1000), BT.2100 note 5f

SDR_GAMMA = 2.4  # BT.1886 with a zero black level

# CIE 1931 xy of the red, green and blue primaries and the white point (all D65 here).
D65 = (0.3127, 0.3290)
PRIMARY_XY = {
    "bt709": ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060), D65),
    "bt2020": ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046), D65),
    "smpte432": ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060), D65),  # Display P3
    "bt470bg": ((0.640, 0.330), (0.290, 0.600), (0.150, 0.060), D65),
    "smpte170m": ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), D65),
    "smpte240m": ((0.630, 0.340), (0.310, 0.595), (0.155, 0.070), D65),
}
TARGET_PRIMARIES = "bt709"

TONE_CURVES = ("bt.2390", "hable", "clip")  # mpv's --tone-mapping names for the curves offered here
DEFAULT_TONE_CURVE = "bt.2390"
TONE_CURVE_IDS = {name: index for index, name in enumerate(TONE_CURVES)}  # the shader's u_curve values
HABLE = (0.15, 0.50, 0.10, 0.20, 0.02, 0.30)  # A..F of John Hable's Uncharted 2 curve, as mpv has them
SIGNAL_FLOOR = 1e-6  # nits: below this the tone curve's ratio is taken as 1


# -- transfers ---------------------------------------------------------------------------------------

def pq_eotf(code: np.ndarray) -> np.ndarray:
    """PQ code values in [0, 1] -> light in nits (0-10000)."""
    p = np.power(np.clip(code, 0.0, 1.0), 1.0 / PQ_M2)
    return PQ_MAX_NITS * np.power(np.maximum(p - PQ_C1, 0.0) / (PQ_C2 - PQ_C3 * p), 1.0 / PQ_M1)


def pq_inverse_eotf(nits: np.ndarray) -> np.ndarray:
    """Light in nits -> PQ code values in [0, 1]."""
    y = np.power(np.clip(nits / PQ_MAX_NITS, 0.0, 1.0), PQ_M1)
    return np.power((PQ_C1 + PQ_C2 * y) / (1.0 + PQ_C3 * y), PQ_M2)


def hlg_inverse_oetf(code: np.ndarray) -> np.ndarray:
    """HLG code values in [0, 1] -> relative scene light in [0, 1]."""
    e = np.clip(code, 0.0, 1.0)
    low = e * e / 3.0
    high = (np.exp((np.maximum(e, 0.5) - HLG_C) / HLG_A) + HLG_B) / 12.0
    return np.where(e <= 0.5, low, high)


def hlg_oetf(scene: np.ndarray) -> np.ndarray:
    """Relative scene light in [0, 1] -> HLG code values."""
    s = np.clip(scene, 0.0, 1.0)
    low = np.sqrt(3.0 * s)
    high = HLG_A * np.log(np.maximum(12.0 * s - HLG_B, 1e-12)) + HLG_C
    return np.where(s <= 1.0 / 12.0, low, high)


def hlg_system_gamma(peak: float) -> float:
    return HLG_GAMMA_BASE + HLG_GAMMA_SLOPE * float(np.log10(peak / HLG_NOMINAL_PEAK))


def hlg_ootf(scene_rgb: np.ndarray, weights: np.ndarray, peak: float = HLG_NOMINAL_PEAK) -> np.ndarray:
    """BT.2100 HLG OOTF: scene-light RGB (..., 3) -> display light in nits on a ``peak``-nit display.
    ``weights``: the luminance weights of the signal's primaries."""
    ys = np.maximum(scene_rgb @ weights, 0.0)[..., None]
    return peak * np.power(ys, hlg_system_gamma(peak) - 1.0) * scene_rgb


def hlg_inverse_ootf(display_rgb: np.ndarray, weights: np.ndarray, peak: float = HLG_NOMINAL_PEAK) -> np.ndarray:
    """The inverse of ``hlg_ootf``: display light in nits -> scene light in [0, 1]."""
    gamma = hlg_system_gamma(peak)
    yd = np.maximum(display_rgb @ weights, 0.0)[..., None] / peak
    scale = np.where(yd > 0, np.power(np.maximum(yd, 1e-12), (1.0 - gamma) / gamma), 1.0)
    return scale * display_rgb / peak


def sdr_eotf(code: np.ndarray) -> np.ndarray:
    """SDR code values -> relative light, BT.1886 with a zero black level (1.0 = reference white)."""
    return np.power(np.clip(code, 0.0, 1.0), SDR_GAMMA)


def sdr_inverse_eotf(light: np.ndarray) -> np.ndarray:
    return np.power(np.clip(light, 0.0, 1.0), 1.0 / SDR_GAMMA)


# -- gamut -------------------------------------------------------------------------------------------

def rgb_to_xyz(primaries: str) -> np.ndarray:
    """The 3x3 matrix from linear RGB of ``primaries`` to CIE XYZ (white at Y = 1)."""
    (rx, ry), (gx, gy), (bx, by), (wx, wy) = PRIMARY_XY.get(primaries, PRIMARY_XY[TARGET_PRIMARIES])
    columns = np.array([[x / y, 1.0, (1.0 - x - y) / y] for x, y in ((rx, ry), (gx, gy), (bx, by))]).T
    white = np.array([wx / wy, 1.0, (1.0 - wx - wy) / wy])
    return columns * np.linalg.solve(columns, white)


def luminance_weights(primaries: str) -> np.ndarray:
    """Y of each primary: the luminance of linear RGB is ``rgb @ weights``."""
    return rgb_to_xyz(primaries)[1]


def gamut_matrix(source: str, target: str = TARGET_PRIMARIES) -> np.ndarray:
    """Linear RGB of ``source`` primaries -> linear RGB of ``target`` primaries (``rgb @ m.T``)."""
    return np.linalg.solve(rgb_to_xyz(target), rgb_to_xyz(source))


# -- tone curves (light in nits -> light in nits) ----------------------------------------------------

def bt2390(nits: np.ndarray, source_peak: float, target_peak: float) -> np.ndarray:
    """ITU-R BT.2390 EETF (black levels 0): a Hermite knee in the PQ domain that maps the source's
    peak to the target's and leaves everything below the knee unchanged."""
    source_pq = float(pq_inverse_eotf(np.float64(source_peak)))
    max_lum = float(pq_inverse_eotf(np.float64(target_peak))) / source_pq
    if max_lum >= 1.0:
        return np.minimum(nits, target_peak)
    e = np.minimum(pq_inverse_eotf(nits) / source_pq, 1.0)
    knee = 1.5 * max_lum - 0.5
    t = (e - knee) / (1.0 - knee)
    t2, t3 = t * t, t * t * t
    spline = (2 * t3 - 3 * t2 + 1) * knee + (t3 - 2 * t2 + t) * (1 - knee) + (-2 * t3 + 3 * t2) * max_lum
    mapped = np.where(e < knee, e, spline)
    return pq_eotf(mapped * source_pq)


def _hable(x: np.ndarray) -> np.ndarray:
    a, b, c, d, e, f = HABLE
    return (x * (a * x + c * b) + d * e) / (x * (a * x + b) + d * f) - e / f


def hable(nits: np.ndarray, source_peak: float, target_peak: float) -> np.ndarray:
    """Hable's filmic curve, normalized so the source peak lands on the target peak (as mpv)."""
    peak = max(source_peak / target_peak, 1.0)
    return target_peak * _hable(np.maximum(nits, 0.0) / target_peak) / float(_hable(np.float64(peak)))


def clip(nits: np.ndarray, source_peak: float, target_peak: float) -> np.ndarray:
    """Hard clip at the target's peak."""
    return np.minimum(nits, target_peak)


CURVE_FUNCTIONS = {"bt.2390": bt2390, "hable": hable, "clip": clip}


def tone_map(rgb_nits: np.ndarray, curve: str, source_peak: float, target_peak: float) -> np.ndarray:
    """Apply ``curve`` to max(R, G, B) of linear ``rgb_nits`` (..., 3) and scale the channels by
    the same ratio; negative (out-of-gamut) components are left for the gamut clip."""
    signal = np.max(rgb_nits, axis=-1, keepdims=True)
    mapped = CURVE_FUNCTIONS[curve](np.maximum(signal, 0.0), source_peak, target_peak)
    ratio = np.where(signal > SIGNAL_FLOOR, mapped / np.maximum(signal, SIGNAL_FLOOR), 1.0)
    return rgb_nits * ratio


# -- the whole conversion ----------------------------------------------------------------------------

def to_linear_nits(code: np.ndarray, color: ColorInfo) -> np.ndarray:
    """Code values in [0, 1] (..., 3) of ``color`` -> linear light in nits, in its own primaries."""
    if color.transfer == PQ:
        return pq_eotf(code)
    if color.transfer == HLG:
        weights = luminance_weights(color.primaries).astype(code.dtype)
        return hlg_ootf(hlg_inverse_oetf(code), weights, color.peak_nits)
    return REFERENCE_WHITE_NITS * sdr_eotf(code)


def to_sdr(code: np.ndarray, color: ColorInfo, curve: str = DEFAULT_TONE_CURVE,
           target_peak: float = REFERENCE_WHITE_NITS) -> np.ndarray:
    """Code values in [0, 1] (..., 3) of ``color`` -> BT.709 SDR code values in [0, 1] (float64, or
    float32 for float32 input): linearize, convert the gamut to BT.709, tone-map
    ``color.peak_nits`` to ``target_peak``, clip what is out of gamut, re-encode with BT.1886."""
    code = np.asarray(code)
    if code.dtype not in (np.float32, np.float64):
        code = code.astype(np.float64)
    nits = to_linear_nits(code, color)
    if color.primaries != TARGET_PRIMARIES:
        nits = nits @ gamut_matrix(color.primaries).T.astype(code.dtype)
    mapped = tone_map(nits, curve, color.peak_nits, target_peak)
    return sdr_inverse_eotf(np.clip(mapped / target_peak, 0.0, 1.0))


def needs_mapping(color: ColorInfo) -> bool:
    """Whether showing ``color`` on a BT.709 SDR output needs more than passing code values on:
    HDR transfers and primaries other than BT.709's."""
    return color.hdr or PRIMARY_XY.get(color.primaries, PRIMARY_XY[TARGET_PRIMARIES]) != PRIMARY_XY[TARGET_PRIMARIES]


def code_values(image: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """An integer RGB image as code values in [0, 1] (uint8 / 255, uint16 / 65535), float64 or ``dtype``."""
    return image.astype(dtype) * dtype(1.0 / np.iinfo(image.dtype).max)


def to_sdr_uint8(image: np.ndarray, color: ColorInfo, curve: str = DEFAULT_TONE_CURVE) -> np.ndarray:
    """An HxWx3 uint8/uint16 frame of ``color`` -> HxWx3 uint8 BT.709 SDR (``to_sdr`` in float32,
    rounded: the exports' frames)."""
    return np.rint(to_sdr(code_values(image, np.float32), color, curve) * np.float32(255.0)).astype(np.uint8)


def narrow_to_uint8(image: np.ndarray) -> np.ndarray:
    """A uint16 frame to uint8 with rounding (65535 -> 255): the same code values, 8 bits."""
    return ((image.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
