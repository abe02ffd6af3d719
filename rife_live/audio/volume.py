"""Software volume: percent -> a linear gain on float samples (mpv's cubic curve), and mute."""

from __future__ import annotations

import numpy as np

VOLUME_RANGE = (0.0, 100.0)  # percent; the software gain never amplifies
MAX_VOLUME = VOLUME_RANGE[1]
VOLUME_CURVE_EXPONENT = 3  # cubic volume curve, as mpv's: perceived loudness is roughly linear


def volume_gain(volume: float, muted: bool = False) -> float:
    """The linear sample gain for ``volume`` percent (0-100, cubic curve); 0 when ``muted``."""
    if muted:
        return 0.0
    level = min(max(float(volume), 0.0), MAX_VOLUME) / MAX_VOLUME
    return level**VOLUME_CURVE_EXPONENT


def apply_gain(samples: np.ndarray, gain: float) -> np.ndarray:
    """Scale float samples by ``gain`` in place and return them (gain 1 leaves them untouched)."""
    if gain != 1.0:
        np.multiply(samples, np.float32(gain), out=samples)
    return samples
