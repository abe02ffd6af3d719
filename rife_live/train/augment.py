"""Training augmentation as the paper does it: a random crop, then random flips, channel order
reversal, input swap (time reversal: t -> 1 - t, the truth stays in the middle) and a rotation by a
multiple of 90 degrees. A pure function of the frames and a random generator: the caller seeds the
generator per sample, so a sample is augmented the same way whichever process or worker draws it.
"""

from __future__ import annotations

import numpy as np

FLIP_CHANCE = 0.5
CHANNEL_REVERSE_CHANCE = 0.5
SWAP_CHANCE = 0.5
QUARTER_TURNS = 4  # rotations by 0, 90, 180 or 270 degrees, equally likely


def augment(frames: np.ndarray, rng: np.random.Generator, crop: int, enabled: bool = True) -> np.ndarray:
    """``frames`` (3, H, W, 3) uint8 -> a (3, crop, crop, 3) uint8 copy: cropped at a random place
    and, when ``enabled``, flipped, channel-reversed, swapped and turned at random. The generator
    is always drawn the same number of times, so the crop does not depend on ``enabled``."""
    _, height, width, _ = frames.shape
    if crop > height or crop > width:
        raise ValueError(f"crop {crop} is larger than the frames ({width}x{height})")
    top = int(rng.integers(0, height - crop + 1))
    left = int(rng.integers(0, width - crop + 1))
    flip_v, flip_h, reverse, swap = (rng.random(4) < (FLIP_CHANCE, FLIP_CHANCE, CHANNEL_REVERSE_CHANCE, SWAP_CHANCE))
    turns = int(rng.integers(0, QUARTER_TURNS))
    out = frames[:, top:top + crop, left:left + crop]
    if enabled:
        if flip_v:
            out = out[:, ::-1]
        if flip_h:
            out = out[:, :, ::-1]
        if reverse:
            out = out[..., ::-1]
        if swap:
            out = out[::-1]
        if turns:
            out = np.rot90(out, k=turns, axes=(1, 2))
    return np.ascontiguousarray(out)
