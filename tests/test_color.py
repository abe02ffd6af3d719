"""rife_live/color.py: transfer functions, gamut matrices and tone curves against their standards'
published values, over dense grids (exhaustive where the domain is finite: every 16-bit code)."""

from __future__ import annotations

import numpy as np
import pytest

from rife_live import color
from rife_live.colorinfo import ColorInfo, ContentLight

CODES = np.arange(65536) / 65535.0  # every 16-bit code value
HDR10 = ColorInfo(primaries="bt2020", transfer="smpte2084", matrix="bt2020", bit_depth=10,
                  light=ContentLight(1000, 400))
HLG10 = ColorInfo(primaries="bt2020", transfer="arib-std-b67", matrix="bt2020", bit_depth=10)


# -- transfers --------------------------------------------------------------------------------------

def test_pq_published_points() -> None:
    # SMPTE ST 2084 / BT.2408: 100 nits at 50.8 %, reference white (203 nits) at 58 %, 1000 nits at 75.2 %
    np.testing.assert_allclose(color.pq_inverse_eotf(np.array([100.0, 203.0, 1000.0, 10000.0])),
                               [0.50808, 0.58069, 0.75183, 1.0], atol=5e-5)
    assert color.pq_eotf(np.float64(1.0)) == pytest.approx(10000.0)
    assert color.pq_eotf(np.float64(0.0)) == 0.0


def test_pq_round_trip_and_monotonic_over_every_16bit_code() -> None:
    nits = color.pq_eotf(CODES)
    assert np.all(np.diff(nits) > 0)
    np.testing.assert_allclose(color.pq_inverse_eotf(nits)[1:], CODES[1:], atol=1e-9)


def test_hlg_published_points_and_round_trip() -> None:
    assert color.hlg_oetf(np.float64(1 / 12)) == pytest.approx(0.5)
    assert color.hlg_oetf(np.float64(1.0)) == pytest.approx(1.0, abs=1e-6)
    scene = color.hlg_inverse_oetf(CODES)
    assert np.all(np.diff(scene) > 0)
    np.testing.assert_allclose(color.hlg_oetf(scene), CODES, atol=1e-9)
    # BT.2408: HLG reference white, 75 % signal, shows at 203 nits on a 1000-nit display
    grey = np.full((1, 3), 0.75)
    nits = color.hlg_ootf(color.hlg_inverse_oetf(grey), color.luminance_weights("bt2020"), 1000.0)
    assert nits[0, 0] == pytest.approx(203.0, abs=1.5)


def test_hlg_ootf_round_trip_and_system_gamma() -> None:
    assert color.hlg_system_gamma(1000.0) == pytest.approx(1.2)
    assert color.hlg_system_gamma(2000.0) == pytest.approx(1.2 + 0.42 * np.log10(2))
    rng = np.random.default_rng(3)
    scene = rng.random((500, 3))
    weights = color.luminance_weights("bt2020")
    for peak in (400.0, 1000.0, 4000.0):
        back = color.hlg_inverse_ootf(color.hlg_ootf(scene, weights, peak), weights, peak)
        np.testing.assert_allclose(back, scene, atol=1e-9)


def test_sdr_is_bt1886_with_a_zero_black() -> None:
    np.testing.assert_allclose(color.sdr_eotf(CODES), CODES ** 2.4)
    np.testing.assert_allclose(color.sdr_inverse_eotf(color.sdr_eotf(CODES)), CODES, atol=1e-12)


# -- gamut ------------------------------------------------------------------------------------------

def test_luminance_weights_are_the_standards() -> None:
    np.testing.assert_allclose(color.luminance_weights("bt709"), [0.2126, 0.7152, 0.0722], atol=5e-5)
    np.testing.assert_allclose(color.luminance_weights("bt2020"), [0.2627, 0.6780, 0.0593], atol=5e-5)


def test_gamut_matrices() -> None:
    # ITU-R BT.2087: linear BT.709 -> BT.2020
    np.testing.assert_allclose(color.gamut_matrix("bt709", "bt2020"),
                               [[0.6274, 0.3293, 0.0433], [0.0691, 0.9195, 0.0114], [0.0164, 0.0880, 0.8956]],
                               atol=5e-4)
    for name in color.PRIMARY_XY:
        m = color.gamut_matrix(name)
        np.testing.assert_allclose(m.sum(axis=1), 1.0, atol=1e-12)  # white stays white (all D65)
        np.testing.assert_allclose(m @ color.gamut_matrix("bt709", name), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(color.gamut_matrix("bt709"), np.eye(3), atol=1e-12)


# -- tone curves ------------------------------------------------------------------------------------

NITS = np.linspace(0.0, 4000.0, 40001)


@pytest.mark.parametrize("curve", color.TONE_CURVES)
@pytest.mark.parametrize("source_peak", [400.0, 1000.0, 4000.0, 10000.0])
def test_curves_are_monotonic_and_land_the_peak_on_the_target(curve: str, source_peak: float) -> None:
    fn = color.CURVE_FUNCTIONS[curve]
    mapped = fn(NITS, source_peak, 203.0)
    assert np.all(np.diff(mapped) >= -1e-9)
    assert fn(np.float64(0.0), source_peak, 203.0) == pytest.approx(0.0, abs=1e-9)
    assert float(fn(np.float64(source_peak), source_peak, 203.0)) == pytest.approx(203.0, rel=1e-6)
    assert np.max(mapped[NITS <= source_peak]) <= 203.0 + 1e-6


def test_bt2390_leaves_the_shadows_and_is_continuous_at_its_knee() -> None:
    source_peak, target = 1000.0, 203.0
    source_pq = float(color.pq_inverse_eotf(np.float64(source_peak)))
    knee_pq = (1.5 * float(color.pq_inverse_eotf(np.float64(target))) / source_pq - 0.5) * source_pq
    knee = float(color.pq_eotf(np.float64(knee_pq)))
    below = NITS[NITS < knee]
    np.testing.assert_allclose(color.bt2390(below, source_peak, target), below, rtol=1e-9, atol=1e-9)
    eps = 1e-6
    left, right = color.bt2390(np.array([knee - eps, knee + eps]), source_peak, target)
    assert right - left == pytest.approx(2 * eps, rel=1e-3)  # slope 1 on both sides of the knee
    # a source no brighter than the target is only clipped
    np.testing.assert_allclose(color.bt2390(NITS, 150.0, 203.0), np.minimum(NITS, 203.0))


def test_tone_map_keeps_channel_ratios_and_stays_under_the_target() -> None:
    rng = np.random.default_rng(5)
    rgb = rng.random((2000, 3)) * 4000.0
    for curve in color.TONE_CURVES:
        out = color.tone_map(rgb, curve, 4000.0, 203.0)
        np.testing.assert_allclose(out / out.max(axis=1, keepdims=True), rgb / rgb.max(axis=1, keepdims=True),
                                   rtol=1e-9)
        assert out.max() <= 203.0 + 1e-6


# -- the whole conversion ---------------------------------------------------------------------------

def test_bt709_sdr_passes_through_unchanged() -> None:
    code = np.stack([CODES] * 3, axis=-1)
    np.testing.assert_allclose(color.to_sdr(code, ColorInfo(bit_depth=10)), code, atol=1e-9)
    assert not color.needs_mapping(ColorInfo(bit_depth=10))
    assert color.needs_mapping(HDR10) and color.needs_mapping(ColorInfo(primaries="bt2020"))


@pytest.mark.parametrize("source", [HDR10, HLG10], ids=["pq", "hlg"])
def test_hdr_grey_ramp_maps_monotonically_and_white_reaches_white(source: ColorInfo) -> None:
    grey = np.stack([CODES] * 3, axis=-1)
    sdr = color.to_sdr(grey, source)
    assert np.all(np.diff(sdr[:, 0]) >= -1e-12) and np.allclose(sdr[:, 0], sdr[:, 1])
    assert sdr[-1, 0] == pytest.approx(1.0)
    assert sdr[0, 0] == pytest.approx(0.0, abs=1e-3)


def test_pq_levels_land_where_bt2390_puts_them() -> None:
    levels = np.array([0.0, 20.0, 50.0, 100.0, 203.0, 1000.0])
    sdr = color.to_sdr(color.pq_inverse_eotf(np.stack([levels] * 3, axis=-1)), HDR10)[:, 0]
    expected = color.bt2390(levels, 1000.0, 203.0)
    np.testing.assert_allclose(expected[:3], levels[:3], atol=1e-9)  # below the knee (~90 nits): unchanged
    assert expected[3] < 100.0 and expected[-1] == pytest.approx(203.0)
    np.testing.assert_allclose(sdr, (expected / 203.0) ** (1 / 2.4), atol=1e-6)


def test_narrow_to_uint8_rounds_every_16bit_code() -> None:
    codes = np.arange(65536, dtype=np.uint16)
    narrow = color.narrow_to_uint8(codes)
    np.testing.assert_array_equal(narrow, np.floor(codes / 257.0 + 0.5).astype(np.uint8))
    wide = np.arange(256, dtype=np.uint16) * 257
    np.testing.assert_array_equal(color.narrow_to_uint8(wide), np.arange(256))


def test_to_sdr_uint8_shapes() -> None:
    frame = np.zeros((4, 6, 3), np.uint16)
    out = color.to_sdr_uint8(frame, HDR10)
    assert out.shape == (4, 6, 3) and out.dtype == np.uint8 and not out.any()
