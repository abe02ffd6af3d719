"""IFNet "HD v3" in training mode (DESIGN.md §12): the three student blocks and the privileged teacher.

The modules and their state-dict names are those of ``rife_live.models.ifnet``: ``block0..2`` are
``IFBlock``s with 11 input planes, ``block_tea`` an ``IFBlock`` with 14 (the published file holds
all four). What differs is the forward pass: written out of place, so that autograd can
differentiate it, and returning what the losses need (every level's output and flow, and the
teacher's). The inference forward (``IFNet.forward``: in place, fused heads, no teacher) is not
used here and is not changed by training.

Student (the same arithmetic as inference at flow scale 1, levels 4, 2, 1): each block sees the two
images warped by the current flow, the mask and the flow, resized to its level, in both orders (the
swapped pass with the negated mask and the flow halves swapped); the two updates are averaged,
resized back and added to the flow and mask. After block k the images are warped again from the
originals by the accumulated flow, and ``merged_k`` is their mask-weighted blend.

Teacher: one pass at level 1 after the last student block, on (warped0, warped1, mask, ground truth,
flow). It adds its own flow and mask residual to the student's final ones: a refinement that sees
the answer, whose flow supervises the student's (distillation). Inference never runs it.

Inert parameters: the ensemble adds the mask update of the swapped pass with its sign turned, so the
last bias of a student's mask head (``conv2.2.bias``) cancels exactly and no loss can move it (its
gradient is zero by construction). ``TrainableIFNet`` freezes these three, so that weight decay
does not drift them either; every other parameter is trained.

Convolutions follow the caller's autocast (bfloat16/float16); updates, warps and blends are float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rife_live.models.ifnet import (BLOCK_NAMES, FLOW_CHANNELS, LEVEL_FACTORS, MASK_CHANNELS, RESIDUAL_UNITS,
                                    TEACHER_BLOCK, TEACHER_IN_PLANES, IFBlock, base_grid, flow_to_grid_units,
                                    warp)
from rife_live.train.config import TRAIN_SCALE

STATE_CHANNELS = FLOW_CHANNELS + MASK_CHANNELS
INERT_PARAMETERS = tuple(f"{name}.conv2.2.bias" for name in BLOCK_NAMES)  # see the module docstring


@dataclass(frozen=True)
class TrainOutput:
    """What one training forward produced (full size, float32).

    ``merged[k]``/``flows[k]``: the student's middle frame and flow after block k (the last is its
    answer). ``merged_tea``/``flow_tea``: the teacher's, None when no ground truth was given.
    """

    merged: tuple[torch.Tensor, ...]
    flows: tuple[torch.Tensor, ...]
    merged_tea: torch.Tensor | None
    flow_tea: torch.Tensor | None

    @property
    def middle(self) -> torch.Tensor:
        return self.merged[-1]


def _resize(x: torch.Tensor, factor: float) -> torch.Tensor:
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def _swap_halves(flow: torch.Tensor) -> torch.Tensor:
    return torch.cat((flow[:, 2:4], flow[:, 0:2]), dim=1)


def _by_image(flow: torch.Tensor) -> torch.Tensor:
    """(N,4,H,W) flow as (2N,2,H,W): toward img0 for every item, then toward img1 (the order of
    ``cat((img0, img1))``)."""
    return torch.cat((flow[:, 0:2], flow[:, 2:4]), dim=0)


def block_raw(block: IFBlock, x: torch.Tensor) -> torch.Tensor:
    """A block's encoder, residual units and both heads on its input planes ``x`` (the flow last):
    (N,5,H,W) flow and mask at the input's size, float32. Out of place."""
    feat = block.conv0(x)
    for k in range(RESIDUAL_UNITS):
        feat = getattr(block, f"convblock{k}")(feat) + feat
    return torch.cat((block.conv1(feat), block.conv2(feat)), dim=1).float()


def student_update(block: IFBlock, warped0: torch.Tensor, warped1: torch.Tensor, state: torch.Tensor | None,
                   level: float) -> torch.Tensor:
    """One student block: the (flow, mask) update (N,5,H,W) at full size, both passes averaged.
    ``state`` is the current flow and mask (None: zero, the first block)."""
    n = warped0.shape[0]
    if level != 1.0:
        warped0, warped1 = _resize(warped0, 1.0 / level), _resize(warped1, 1.0 / level)
        if state is not None:
            state = _resize(state, 1.0 / level)
            state = torch.cat((state[:, :FLOW_CHANNELS] / level, state[:, FLOW_CHANNELS:]), dim=1)
    if state is None:
        state = warped0.new_zeros((n, STATE_CHANNELS, *warped0.shape[2:]))
    flow, mask = state[:, :FLOW_CHANNELS], state[:, FLOW_CHANNELS:]
    x = torch.cat((torch.cat((warped0, warped1, mask, flow), dim=1),
                   torch.cat((warped1, warped0, -mask, _swap_halves(flow)), dim=1)), dim=0)
    out = block_raw(block, x)
    update = torch.cat((out[:n, :FLOW_CHANNELS] + _swap_halves(out[n:, :FLOW_CHANNELS]),
                        out[:n, FLOW_CHANNELS:] - out[n:, FLOW_CHANNELS:]), dim=1) * 0.5
    if level != 1.0:
        update = _resize(update, level)
        update = torch.cat((update[:, :FLOW_CHANNELS] * level, update[:, FLOW_CHANNELS:]), dim=1)
    return update


class TrainableIFNet(nn.Module):
    """The student blocks ``block0..2`` and the teacher ``block_tea``; see the module docstring."""

    def __init__(self) -> None:
        super().__init__()
        for name in BLOCK_NAMES:
            setattr(self, name, IFBlock())
        setattr(self, TEACHER_BLOCK, IFBlock(in_planes=TEACHER_IN_PLANES))
        for name in INERT_PARAMETERS:
            self.get_parameter(name).requires_grad_(False)

    def students(self) -> tuple[IFBlock, ...]:
        return tuple(getattr(self, name) for name in BLOCK_NAMES)

    @property
    def teacher(self) -> IFBlock:
        return getattr(self, TEACHER_BLOCK)

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, truth: torch.Tensor | None = None) -> TrainOutput:
        """``img0``, ``img1`` (and the ground-truth middle ``truth``): (N,3,H,W) float32 in [0,1],
        sides a multiple of ``TRAIN_MULTIPLE``. Without ``truth`` the teacher does not run."""
        n, _, height, width = img0.shape
        images = torch.cat((img0, img1), dim=0)
        grid = base_grid(2 * n, height, width, img0.device, torch.float32)
        units = flow_to_grid_units(height, width, img0.device, torch.float32)
        state: torch.Tensor | None = None
        warped0, warped1 = img0, img1
        merged: list[torch.Tensor] = []
        flows: list[torch.Tensor] = []
        for block, factor in zip(self.students(), LEVEL_FACTORS):
            update = student_update(block, warped0, warped1, state, factor / TRAIN_SCALE)
            state = update if state is None else state + update
            warped = warp(images, _by_image(state[:, :FLOW_CHANNELS]), grid, units)
            warped0, warped1 = warped[:n], warped[n:]
            merged.append(torch.lerp(warped1, warped0, torch.sigmoid(state[:, FLOW_CHANNELS:])))
            flows.append(state[:, :FLOW_CHANNELS])
        assert state is not None
        if truth is None:
            return TrainOutput(tuple(merged), tuple(flows), None, None)
        flow, mask = state[:, :FLOW_CHANNELS], state[:, FLOW_CHANNELS:]
        refine = block_raw(self.teacher, torch.cat((warped0, warped1, mask, truth, flow), dim=1))
        flow_tea = flow + refine[:, :FLOW_CHANNELS]
        mask_tea = mask + refine[:, FLOW_CHANNELS:]
        warped_tea = warp(images, _by_image(flow_tea), grid, units)
        merged_tea = torch.lerp(warped_tea[n:], warped_tea[:n], torch.sigmoid(mask_tea))
        return TrainOutput(tuple(merged), tuple(flows), merged_tea, flow_tea)
