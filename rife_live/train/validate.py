"""Validation: PSNR of the student's middle frame on the held-back triplets, as ``rife-eval`` scores.

Whole frames, not crops: each triplet's inputs are zero-padded on the bottom and right to the
network's multiple (as the inference engine does), the output is cropped back, clamped, rounded to
8 bits and scored against the truth with ``evaluate.metrics.psnr``; the result is the mean of the
per-triplet PSNRs. ``blend_psnr`` scores the 50/50 blend of the same inputs (``evaluate.methods``),
the baseline a network must beat. With several processes each scores every ``world``-th triplet
and the sums are added up.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F

from rife_live.evaluate.methods import blend_frames
from rife_live.evaluate.metrics import PIXEL_MAX, psnr
from rife_live.train.distributed import Group
from rife_live.train.config import TRAIN_MULTIPLE
from rife_live.train.network import TrainableIFNet
from rife_live.train.optim import Precision
from rife_live.train.triplets import Triplets

HALF = Fraction(1, 2)


def _padded(frames: np.ndarray, device: torch.device) -> torch.Tensor:
    """(3, H, W, 3) uint8 -> (3, 3, Hp, Wp) float32 in [0, 1], zero-padded bottom/right."""
    x = torch.from_numpy(np.ascontiguousarray(frames)).to(device).permute(0, 3, 1, 2).float().div(PIXEL_MAX)
    height, width = x.shape[-2:]
    pad_h = -height % TRAIN_MULTIPLE
    pad_w = -width % TRAIN_MULTIPLE
    return F.pad(x, (0, pad_w, 0, pad_h)).contiguous()


@torch.no_grad()
def predict_middle(model: TrainableIFNet, frames: np.ndarray, precision: Precision,
                   device: torch.device) -> np.ndarray:
    """The student's middle frame of a triplet's two inputs, as (H, W, 3) uint8."""
    height, width = frames.shape[1:3]
    x = _padded(frames, device)
    with precision.autocast():
        out = model(x[0:1], x[2:3])
    middle = out.middle[0, :, :height, :width].clamp(0, 1).mul(PIXEL_MAX).round()
    return middle.to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def network_psnr(model: TrainableIFNet, triplets: Triplets, precision: Precision, device: torch.device,
                 group: Group) -> float | None:
    """Mean PSNR of the student over ``triplets`` (None when there are none)."""
    was_training = model.training
    model.eval()
    total = count = 0.0
    try:
        for index in range(group.where.rank, len(triplets), group.where.world):
            frames = triplets.frames(index)
            total += psnr(predict_middle(model, frames, precision, device), frames[1])
            count += 1
    finally:
        model.train(was_training)
    total, count = group.all_sum([total, count])
    return total / count if count else None


def blend_psnr(triplets: Triplets, group: Group) -> float | None:
    """Mean PSNR of the 50/50 blend of the inputs over ``triplets``."""
    total = count = 0.0
    for index in range(group.where.rank, len(triplets), group.where.world):
        frames = triplets.frames(index)
        total += psnr(blend_frames(frames[0], frames[2], HALF), frames[1])
        count += 1
    total, count = group.all_sum([total, count])
    return total / count if count else None
