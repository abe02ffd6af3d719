"""IFNet "HD v3", the RIFE flow network (ECCV 2022); its structure is described in DESIGN.md §5.

Three blocks estimate an intermediate flow coarse to fine. Each block sees the two images warped by
the current flow, the current mask and the flow, at its own resolution, and returns a flow and mask
update. Every block runs twice, the second time with the images swapped (an ensemble that keeps the
estimate symmetric); both passes run as one batch.

Flow layout: 4 channels; 0:2 is the flow from the middle frame toward ``img0``, 2:4 toward ``img1``,
in pixels of the padded input. The mask is a logit: the middle frame is
``warp(img0) * sigmoid(mask) + warp(img1) * (1 - sigmoid(mask))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

BLOCK_NAMES = ("block0", "block1", "block2")
IN_PLANES = 11  # warped0 (3) + warped1 (3) + mask (1) + flow (4)
TEACHER_BLOCK = "block_tea"  # the training-time teacher in the published file (DESIGN.md §12: rife-train); unused here
TEACHER_IN_PLANES = 14  # warped0 (3) + warped1 (3) + mask (1) + ground-truth middle (3) + flow (4)
WIDTH = 90  # feature channels of every block
FLOW_CHANNELS = 4
MASK_CHANNELS = 1
RESIDUAL_UNITS = 4
STATE_DICT_PREFIX = "module."
LEVEL_FACTORS = (4.0, 2.0, 1.0)  # block k works at 1 / (LEVEL_FACTORS[k] / scale) of full size


def prelu(x: torch.Tensor, slope: torch.Tensor, bounded: bool = False) -> torch.Tensor:
    """Per-channel PReLU. On channels_last tensors PyTorch's CPU kernel is several times slower
    than on contiguous ones (measured 10.4 ms against 1.0 ms for a 2x90x184x320 bfloat16 tensor);
    there the same values come from ``max(x, slope * x)`` when every slope is at most 1
    (``bounded``: 2.9 ms), else from ``relu(x) + slope * min(x, 0)`` (one term is always zero: 4.7 ms)."""
    if x.is_contiguous():
        return F.prelu(x, slope)
    per_channel = slope.view(1, -1, 1, 1)
    if bounded:
        return torch.maximum(x, x * per_channel)
    return torch.relu(x).add_(x.clamp(max=0).mul_(per_channel))


class ChannelPReLU(nn.PReLU):
    """``nn.PReLU`` (same parameter, same state dict) computed by ``prelu``. ``bounded`` (no
    slope above 1) is set by ``IFNet.optimize`` once the weights are loaded."""

    bounded = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return prelu(x, self.weight, self.bounded)


def _conv(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    """3x3 convolution (with bias) followed by a per-channel PReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=True),
        ChannelPReLU(c_out),
    )


def _head(c_in: int, c_out: int) -> nn.Sequential:
    """Two transposed 4x4 stride-2 convolutions: upsamples the features 4x to the level's size."""
    half = c_in // 2
    return nn.Sequential(
        nn.ConvTranspose2d(c_in, half, kernel_size=4, stride=2, padding=1),
        ChannelPReLU(half),
        nn.ConvTranspose2d(half, c_out, kernel_size=4, stride=2, padding=1),
    )


class IFBlock(nn.Module):
    """One level of the flow pyramid: encoder (stride 4), four residual units, flow and mask heads."""

    def __init__(self, in_planes: int = IN_PLANES, width: int = WIDTH) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv(in_planes, width // 2, 2), _conv(width // 2, width, 2))
        for k in range(RESIDUAL_UNITS):
            setattr(self, f"convblock{k}", nn.Sequential(_conv(width, width, 1), _conv(width, width, 1)))
        self.conv1 = _head(width, FLOW_CHANNELS)
        self.conv2 = _head(width, MASK_CHANNELS)
        self.fused = False

    def fuse_heads(self) -> None:
        """Run the flow and mask heads as one: the two first layers side by side (90 -> 2x45), the
        two second layers as a grouped transposed convolution (the mask's group padded to 4 outputs
        with zero weights). The same arithmetic in half the calls; the state dict is unchanged
        (the fused tensors are non-persistent buffers). Call after loading weights."""
        first = torch.cat((self.conv1[0].weight, self.conv2[0].weight), dim=1)
        first_bias = torch.cat((self.conv1[0].bias, self.conv2[0].bias))
        slope = torch.cat((self.conv1[1].weight, self.conv2[1].weight))
        half = self.conv1[2].weight.shape[0]
        mask_w = self.conv1[2].weight.new_zeros((half, FLOW_CHANNELS, 4, 4))
        mask_w[:, :MASK_CHANNELS] = self.conv2[2].weight
        second = torch.cat((self.conv1[2].weight, mask_w), dim=0)
        mask_b = self.conv1[2].bias.new_zeros(FLOW_CHANNELS)
        mask_b[:MASK_CHANNELS] = self.conv2[2].bias
        second_bias = torch.cat((self.conv1[2].bias, mask_b))
        for name, value in (("head_w0", first), ("head_b0", first_bias), ("head_slope", slope),
                            ("head_w1", second), ("head_b1", second_bias)):
            self.register_buffer(name, value.detach().clone(), persistent=False)
        self.head_bounded = bool((slope <= 1).all())
        self.fused = True

    def _heads(self, feat: torch.Tensor) -> torch.Tensor:
        """Flow (4) and mask (1) channels of the heads, at 4x the feature size."""
        if not self.fused:
            return torch.cat((self.conv1(feat), self.conv2(feat)), dim=1)
        x = F.conv_transpose2d(feat, self.head_w0, self.head_b0, stride=2, padding=1)
        x = prelu(x, self.head_slope, self.head_bounded)
        x = F.conv_transpose2d(x, self.head_w1, self.head_b1, stride=2, padding=1, groups=2)
        return x[:, : FLOW_CHANNELS + MASK_CHANNELS]

    def forward(self, warped: torch.Tensor, state: torch.Tensor | None, level: float,
                warped_at_level: bool = False) -> torch.Tensor:
        """The (flow, mask) update (N,5,H,W) at full size, both passes of the ensemble averaged.

        ``warped`` (2N,3,H,W) holds warped img0 over warped img1 (already at the level's size
        when ``warped_at_level``); ``state`` (N,5,H,W) is the current flow (4) and mask (1), None
        for the first block (zero). Pass A sees (w0, w1, m, f), pass B (w1, w0, -m, f with
        halves swapped); both run as one batch. Everything is resized to the level first
        (resizing is per channel, so batching after it is the same arithmetic), and the ensemble
        is averaged before resizing back. Resizing happens in the inputs' dtype; the
        convolutions run in the block's weight dtype and memory format (the engine may cast
        blocks to bfloat16/float16, channels_last).
        """
        n = warped.shape[0] // 2
        if level != 1.0:
            down = 1.0 / level
            if not warped_at_level:
                warped = F.interpolate(warped, scale_factor=down, mode="bilinear", align_corners=False)
            if state is not None:
                state = F.interpolate(state, scale_factor=down, mode="bilinear", align_corners=False)
                state[:, :FLOW_CHANNELS].div_(level)
        if state is None:  # the first block: flow and mask start at zero (made at the level's size)
            state = warped.new_zeros((n, FLOW_CHANNELS + MASK_CHANNELS, *warped.shape[2:]))
        flow, mask = state[:, :FLOW_CHANNELS], state[:, FLOW_CHANNELS:]
        w0, w1 = warped[:n], warped[n:]
        x = torch.cat((torch.cat((w0, w1, mask, flow), dim=1),
                       torch.cat((w1, w0, -mask, _swap_halves(flow)), dim=1)), dim=0)
        weight = self.conv0[0][0].weight
        layout = torch.channels_last if weight.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
        feat = self.conv0(x.to(dtype=weight.dtype, memory_format=layout))
        for k in range(RESIDUAL_UNITS):
            feat = getattr(self, f"convblock{k}")(feat).add_(feat)
        out = self._heads(feat).to(dtype=warped.dtype, memory_format=torch.contiguous_format)
        update = torch.cat(((out[:n, :FLOW_CHANNELS] + _swap_halves(out[n:, :FLOW_CHANNELS])),
                            (out[:n, FLOW_CHANNELS:] - out[n:, FLOW_CHANNELS:])), dim=1).mul_(0.5)
        if level != 1.0:
            update = F.interpolate(update, scale_factor=level, mode="bilinear", align_corners=False)
            update[:, :FLOW_CHANNELS].mul_(level)
        return update


@dataclass(frozen=True)
class IFNetOutput:
    """The network's result on padded inputs: flow (N,4,H,W), mask logit (N,1,H,W), middle frame (N,3,H,W)."""

    flow: torch.Tensor
    mask: torch.Tensor
    middle: torch.Tensor


def base_grid(n: int, height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Sampling grid (N,H,W,2) from -1 to 1 across width and height (x first), for ``warp``."""
    xs = torch.linspace(-1.0, 1.0, width, device=device, dtype=dtype).view(1, 1, width).expand(n, height, width)
    ys = torch.linspace(-1.0, 1.0, height, device=device, dtype=dtype).view(1, height, 1).expand(n, height, width)
    return torch.stack((xs, ys), dim=3)


def flow_to_grid_units(height: int, width: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Per-channel divisor (1,2,1,1) turning pixel flow into grid offsets: ((W-1)/2, (H-1)/2)."""
    return torch.tensor([(width - 1) / 2.0, (height - 1) / 2.0], device=device, dtype=dtype).view(1, 2, 1, 1)


def warp(image: torch.Tensor, flow: torch.Tensor, grid: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Backward bilinear warp of ``image`` (N,C,H,W) by pixel ``flow`` (N,2,H,W); border padding."""
    sample_at = torch.addcmul(grid, flow.permute(0, 2, 3, 1), units.reciprocal().view(1, 1, 1, 2))
    return F.grid_sample(image, sample_at, mode="bilinear", padding_mode="border", align_corners=True)


def _by_image(flow: torch.Tensor) -> torch.Tensor:
    """(N,4,H,W) flow as (2N,2,H,W): the halves toward img0 for every item, then toward img1
    (the batch order of ``images``); a view, not a copy, for N = 1."""
    n, _, height, width = flow.shape
    return flow.unflatten(1, (2, FLOW_CHANNELS // 2)).transpose(0, 1).reshape(2 * n, 2, height, width)


def subsample_offset(level: float) -> int | None:
    """For an even integer level L >= 4, the first of the two rows (and columns) per L that a
    bilinear downsample by L reads (align_corners=False: source = L * i + (L - 1) / 2, halfway
    between rows L*i + L/2 - 1 and L*i + L/2); None for other levels."""
    if level >= 4 and float(level).is_integer() and int(level) % 2 == 0:
        return int(level) // 2 - 1
    return None


def warp_downsampled(image: torch.Tensor, flow: torch.Tensor, grid: torch.Tensor, units: torch.Tensor,
                     level: int) -> torch.Tensor:
    """``F.interpolate(warp(image, flow), scale_factor=1/level)`` for a level that
    ``subsample_offset`` accepts, warping only the quarter of the pixels that downsample reads
    (each output is the mean of a 2x2 group of them): the same values at 4/level^2 of the cost."""
    offset = subsample_offset(level)
    assert offset is not None
    n, _, height, width = image.shape
    h, w = height // level, width // level
    inverse = units.reciprocal().view(1, 1, 1, 2)
    parts = []
    for dy in (0, 1):
        for dx in (0, 1):
            rows = slice(offset + dy, offset + dy + level * h, level)
            cols = slice(offset + dx, offset + dx + level * w, level)
            parts.append(torch.addcmul(grid[:, rows, cols], flow[:, :, rows, cols].permute(0, 2, 3, 1), inverse))
    sampled = F.grid_sample(image, torch.cat(parts, dim=2), mode="bilinear", padding_mode="border",
                            align_corners=True)
    return sampled.unflatten(3, (4, w)).mean(dim=3)


def _swap_halves(flow: torch.Tensor) -> torch.Tensor:
    return torch.cat((flow[:, 2:4], flow[:, 0:2]), dim=1)


class IFNet(nn.Module):
    """The three-block network. Inputs must already be padded (see ``settings.pad_multiple``)."""

    def __init__(self) -> None:
        super().__init__()
        for name in BLOCK_NAMES:
            setattr(self, name, IFBlock())

    def blocks(self) -> tuple[IFBlock, ...]:
        return tuple(getattr(self, name) for name in BLOCK_NAMES)

    def forward(
        self,
        img0: torch.Tensor,
        img1: torch.Tensor,
        scale: float = 1.0,
        grid: torch.Tensor | None = None,
        units: torch.Tensor | None = None,
    ) -> IFNetOutput:
        """Estimate the middle frame of ``img0``, ``img1`` (N,3,H,W RGB in [0,1], padded).

        ``grid`` (batch 2N: both images are warped in one call) and ``units`` may come from a
        per-resolution cache (see ``base_grid`` and ``flow_to_grid_units``).
        """
        n, _, height, width = img0.shape
        if grid is None:
            grid = base_grid(2 * n, height, width, img0.device, img0.dtype)
        if units is None:
            units = flow_to_grid_units(height, width, img0.device, img0.dtype)
        state: torch.Tensor | None = None  # flow (4) and mask (1)
        images = torch.cat((img0, img1), dim=0)
        warped, at_level = images, False
        levels = [factor / scale for factor in LEVEL_FACTORS]
        for k, block in enumerate(self.blocks()):
            update = block(warped, state, levels[k], at_level)
            state = update if state is None else state.add_(update)
            flow = _by_image(state[:, :FLOW_CHANNELS])
            next_level = levels[k + 1] if k + 1 < len(levels) else None
            if next_level is not None and subsample_offset(next_level) is not None:
                # The next block only reads a downsample of the warped images: warp just those pixels.
                warped, at_level = warp_downsampled(images, flow, grid, units, int(next_level)), True
            else:
                warped, at_level = warp(images, flow, grid, units), False
        assert state is not None
        flow, mask = state[:, :FLOW_CHANNELS], state[:, FLOW_CHANNELS:]
        middle = torch.lerp(warped[n:], warped[:n], torch.sigmoid(mask))  # w0 * a + w1 * (1 - a)
        return IFNetOutput(flow=flow, mask=mask, middle=middle)

    def load_published(self, state: dict[str, torch.Tensor]) -> None:
        """Load a published ``flownet.pkl`` state dict (``module.`` prefix, teacher block ignored)."""
        self.load_state_dict(network_state(state), strict=True)

    def fuse_heads(self) -> None:
        """Fuse each block's flow and mask heads (see ``IFBlock.fuse_heads``) and mark the PReLUs
        whose slopes are all at most 1 (``ChannelPReLU.bounded``); after loading weights."""
        for block in self.blocks():
            block.fuse_heads()
        for module in self.modules():
            if isinstance(module, ChannelPReLU):
                module.bounded = bool((module.weight <= 1).all())


def _blocks_state(state: dict[str, torch.Tensor], blocks: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The entries of ``state`` that belong to ``blocks``, with the ``module.`` prefix removed."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = key[len(STATE_DICT_PREFIX):] if key.startswith(STATE_DICT_PREFIX) else key
        if name.split(".", 1)[0] in blocks:
            out[name] = value
    return out


def network_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The entries of a published state dict this network uses, with the ``module.`` prefix removed."""
    return _blocks_state(state, BLOCK_NAMES)


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the network (without prefix), for validating weight files."""
    return {name: tuple(p.shape) for name, p in IFNet().state_dict().items()}


def teacher_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The teacher block's entries of a published state dict (``block_tea.*``), prefix removed."""
    return _blocks_state(state, (TEACHER_BLOCK,))


def teacher_shapes() -> dict[str, tuple[int, ...]]:
    """Parameter names (``block_tea.*``) and shapes of the teacher block, for validating weight files."""
    block = IFBlock(in_planes=TEACHER_IN_PLANES)
    return {f"{TEACHER_BLOCK}.{name}": tuple(p.shape) for name, p in block.state_dict().items()}
