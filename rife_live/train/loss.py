"""The training objective (DESIGN.md §12, the paper §3.3): reconstruction plus privileged distillation.

- ``laplacian_l1``: L1 distance of two images' Laplacian pyramids (``PYRAMID_LEVELS`` levels; each
  step blurs with a 5-tap binomial, halves, and expands back bilinearly), the sum over levels of
  each level's mean absolute difference. The pyramid is linear, so it is built once, from the
  difference of the two images.
- Reconstruction: ``laplacian_l1`` of the student's final middle frame and of the teacher's, each
  against the ground truth.
- Distillation: for every student level k, the L1 distance (mean over the 4 flow channels) between
  the teacher's flow (detached: the teacher is not pulled toward the student) and the student's
  flow after block k, counted only at pixels where the teacher's reconstruction error (mean absolute
  error over RGB) is lower than that level's by more than ``DISTILL_MARGIN``; the mean over pixels,
  summed over levels, weighted by ``DISTILL_WEIGHT``.

Everything is computed in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rife_live.train.network import TrainOutput

PYRAMID_LEVELS = 5
BINOMIAL_TAPS = (1.0, 4.0, 6.0, 4.0, 1.0)  # the blur of each pyramid step (normalised)
DISTILL_WEIGHT = 0.01  # lambda of the distillation term
DISTILL_MARGIN = 0.01  # the teacher must be better by this much (mean |error| on [0,1] values)


@dataclass(frozen=True)
class LossTerms:
    """The total loss (what is differentiated) and its parts (for the log)."""

    total: torch.Tensor
    student: torch.Tensor  # reconstruction of the student's final frame
    teacher: torch.Tensor  # reconstruction of the teacher's frame
    distill: torch.Tensor  # distillation, before its weight


def _blur_kernel(channels: int, device: torch.device) -> torch.Tensor:
    taps = torch.tensor(BINOMIAL_TAPS, device=device, dtype=torch.float32)
    kernel = torch.outer(taps, taps)
    kernel = kernel / kernel.sum()
    return kernel.expand(channels, 1, len(BINOMIAL_TAPS), len(BINOMIAL_TAPS)).contiguous()


def _blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    pad = kernel.shape[-1] // 2
    return F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="replicate"), kernel, groups=x.shape[1])


def laplacian_l1(pred: torch.Tensor, truth: torch.Tensor, levels: int = PYRAMID_LEVELS) -> torch.Tensor:
    """Sum over pyramid levels of the mean |Laplacian(pred) - Laplacian(truth)| (N,C,H,W inputs)."""
    current = pred.float() - truth.float()
    kernel = _blur_kernel(current.shape[1], current.device)
    total = current.new_zeros(())
    for _ in range(levels - 1):
        if min(current.shape[-2:]) < 2:
            break
        down = _blur(current, kernel)[..., ::2, ::2]
        up = F.interpolate(down, size=current.shape[-2:], mode="bilinear", align_corners=False)
        total = total + (current - up).abs().mean()
        current = down
    return total + current.abs().mean()


def pixel_error(pred: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Per-pixel mean absolute error over the colour channels: (N,1,H,W)."""
    return (pred.float() - truth.float()).abs().mean(dim=1, keepdim=True)


def distillation(out: TrainOutput, truth: torch.Tensor) -> torch.Tensor:
    """The masked flow distillation term (unweighted); see the module docstring."""
    assert out.merged_tea is not None and out.flow_tea is not None
    target = out.flow_tea.detach()
    teacher_error = pixel_error(out.merged_tea, truth).detach()
    total = target.new_zeros(())
    for merged, flow in zip(out.merged, out.flows):
        better = (pixel_error(merged, truth).detach() > teacher_error + DISTILL_MARGIN).float()
        total = total + ((target - flow).abs().mean(dim=1, keepdim=True) * better).mean()
    return total


def training_loss(out: TrainOutput, truth: torch.Tensor) -> LossTerms:
    """L_rec(student) + L_rec(teacher) + DISTILL_WEIGHT * L_dis."""
    assert out.merged_tea is not None, "the training loss needs the teacher's output (give the truth)"
    student = laplacian_l1(out.middle, truth)
    teacher = laplacian_l1(out.merged_tea, truth)
    distill = distillation(out, truth)
    return LossTerms(total=student + teacher + DISTILL_WEIGHT * distill, student=student, teacher=teacher,
                     distill=distill)
