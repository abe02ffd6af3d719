"""Synthetic training data for the ``rife-train`` tests: textures translating by known sub-pixel offsets.

``make_translating_triplets`` writes a Vimeo90K triplet folder (``tri_trainlist.txt``,
``sequences/<video>/<clip>/im1.png, im2.png, im3.png``) in which every triplet is a random smooth
texture moving in a straight line at a constant velocity: frame k (k = 0, 1, 2) shows it shifted by
k * (dx, dy) pixels, with dx, dy drawn per triplet in multiples of 1/``SUPERSAMPLE`` pixel. The
frames are rendered at ``SUPERSAMPLE`` times the size and averaged down, so the shifts are exact
sub-pixel translations of one continuous picture, and the truth (im2) is exactly the middle of the
motion: a network that finds the flow predicts it well, the 50/50 blend of im1 and im3 does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rife_live.evaluate.datasets import write_png

SUPERSAMPLE = 4  # frames are averaged down from this many times their size: shifts in 1/4 pixels
# Texture scale against motion: features of about 4 frame pixels moving up to 1.5 pixels per frame is
# a motion a network trained from scratch learns to find within a couple of hundred small steps
# (measured on 32x32 frames: 2.4 to 3.5 dB above the 50/50 blend after 200 steps of 8); with 2-pixel
# features the same motion is barely learned in that time.
COARSE_CELL = 16  # supersampled pixels per random value of the smooth (bicubic) part: 4 frame pixels
FINE_CELL = 2  # supersampled pixels per random value of the detail (bilinear) part: half a frame pixel
FINE_WEIGHT = 0.2


def texture(rng: np.random.Generator, size: int) -> torch.Tensor:
    """A random RGB texture (3, size, size) in [0, 1], ``size`` in supersampled pixels."""
    coarse = torch.from_numpy(rng.random((1, 3, size // COARSE_CELL + 1, size // COARSE_CELL + 1), dtype=np.float32))
    fine = torch.from_numpy(rng.random((1, 3, size // FINE_CELL + 1, size // FINE_CELL + 1), dtype=np.float32))
    smooth = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    detail = F.interpolate(fine, size=(size, size), mode="bilinear", align_corners=False)
    return ((1 - FINE_WEIGHT) * smooth + FINE_WEIGHT * detail).clamp(0, 1)[0]


def translating_triplet(rng: np.random.Generator, size: int, max_shift: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Three (size, size, 3) uint8 frames of a texture moving by (dx, dy) pixels per frame."""
    steps = np.zeros(2, dtype=int)
    while not steps.any():  # a still texture would be a static triplet (the blend is then exact)
        steps = rng.integers(-int(max_shift * SUPERSAMPLE), int(max_shift * SUPERSAMPLE) + 1, size=2)
    margin = int(np.abs(steps).max()) // SUPERSAMPLE + 1  # frame pixels around the middle frame
    big = texture(rng, (size + 2 * margin) * SUPERSAMPLE).numpy()
    frames = []
    for k in (-1, 0, 1):
        top = margin * SUPERSAMPLE + k * int(steps[1])
        left = margin * SUPERSAMPLE + k * int(steps[0])
        crop = big[:, top:top + size * SUPERSAMPLE, left:left + size * SUPERSAMPLE]
        small = crop.reshape(3, size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(2, 4))  # area average
        frames.append(np.round(small * 255).astype(np.uint8).transpose(1, 2, 0))
    return np.stack(frames), (float(steps[0]) / SUPERSAMPLE, float(steps[1]) / SUPERSAMPLE)


def make_translating_triplets(folder: Path, *, count: int = 64, size: int = 64, max_shift: float = 1.5,
                              seed: int = 0, videos: int = 8) -> Path:
    """A Vimeo90K-layout folder of ``count`` translating-texture triplets (``size`` x ``size``),
    in ``videos`` source-video folders; returns ``folder``."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = []
    for index in range(count):
        name = f"{index % videos + 1:05d}/{index // videos + 1:04d}"
        clip = folder / "sequences" / name
        clip.mkdir(parents=True, exist_ok=True)
        frames, _ = translating_triplet(rng, size, max_shift)
        for k, image in enumerate(frames):
            write_png(clip / f"im{k + 1}.png", image)
        names.append(name)
    (folder / "tri_trainlist.txt").write_text("".join(f"{n}\n" for n in names))
    return folder


def triplet_batch(count: int, size: int, seed: int = 0, max_shift: float = 1.5) -> torch.Tensor:
    """(count, 3, 3, size, size) float32 in [0, 1]: translating-texture triplets (input 0, truth, input 1)."""
    rng = np.random.default_rng(seed)
    frames = np.stack([translating_triplet(rng, size, max_shift)[0] for _ in range(count)])
    return torch.from_numpy(frames).permute(0, 1, 4, 2, 3).float() / 255
