"""audio/volume.py: the software volume curve and gain."""

from __future__ import annotations

import numpy as np
import pytest

from rife_live.audio.volume import apply_gain, volume_gain


def test_volume_gain_curve() -> None:
    assert volume_gain(100) == 1.0
    assert volume_gain(0) == 0.0
    assert volume_gain(50) == pytest.approx(0.125)  # cubic
    assert volume_gain(150) == 1.0 and volume_gain(-5) == 0.0  # clamped
    assert volume_gain(80, muted=True) == 0.0


def test_apply_gain_scales_in_place() -> None:
    samples = np.linspace(-0.5, 0.5, 960, dtype=np.float32).reshape(-1, 2)
    expected = samples * np.float32(0.125)
    result = apply_gain(samples, volume_gain(50))
    assert result is samples
    np.testing.assert_allclose(samples, expected, rtol=1e-6)
