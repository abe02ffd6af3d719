"""The network's structure against the published weights, and its building blocks."""

from __future__ import annotations

import pytest
import torch

from rife_live.models import store
from rife_live.models.ifnet import IFNet, base_grid, expected_shapes, flow_to_grid_units, network_state, warp

PUBLISHED_TENSORS = 160
USED_PARAMETERS = 2_277_600


@pytest.fixture(scope="module")
def published() -> dict[str, torch.Tensor]:
    path, _ = store.resolve()
    return torch.load(path, map_location="cpu", weights_only=True)


def test_structure_matches_published_weights(published):
    assert len(published) == PUBLISHED_TENSORS
    state = network_state(published)
    assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes()
    assert sum(v.numel() for v in state.values()) == USED_PARAMETERS
    assert not any(k.startswith("block_tea") for k in state)


def test_warp_zero_flow_is_identity_and_shift_moves_pixels():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 16, 24)
    grid = base_grid(1, 16, 24, image.device, image.dtype)
    units = flow_to_grid_units(16, 24, image.device, image.dtype)
    same = warp(image, torch.zeros(1, 2, 16, 24), grid, units)
    assert torch.allclose(same, image, atol=1e-6)
    flow = torch.zeros(1, 2, 16, 24)
    flow[:, 0] = 2.0  # sample two pixels to the right: content moves left
    shifted = warp(image, flow, grid, units)
    assert torch.allclose(shifted[..., :-2], image[..., 2:], atol=1e-5)
    assert torch.allclose(shifted[..., -1], image[..., -1], atol=1e-5)  # border padding


def test_fused_heads_compute_the_same(published):
    torch.manual_seed(1)
    plain = IFNet().eval()
    plain.load_published(published)
    fused = IFNet().eval()
    fused.load_published(published)
    fused.fuse_heads()
    assert set(fused.state_dict()) == set(plain.state_dict())  # fused tensors are not persistent
    img0, img1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    with torch.inference_mode():
        a = plain(img0, img1, 1.0)
        b = fused(img0, img1, 1.0)
    assert torch.allclose(a.middle, b.middle, atol=1e-5)
    assert torch.allclose(a.flow, b.flow, atol=1e-4)


@pytest.mark.parametrize("level", [4, 8, 16])
def test_warp_downsampled_equals_downsampling_the_full_warp(level):
    import torch.nn.functional as F

    from rife_live.models.ifnet import subsample_offset, warp_downsampled

    torch.manual_seed(level)
    height, width = 128, 192
    image = torch.rand(2, 3, height, width)
    flow = torch.randn(2, 2, height, width) * 6
    grid = base_grid(2, height, width, image.device, image.dtype)
    units = flow_to_grid_units(height, width, image.device, image.dtype)
    full = F.interpolate(warp(image, flow, grid, units), scale_factor=1 / level, mode="bilinear", align_corners=False)
    assert torch.allclose(warp_downsampled(image, flow, grid, units, level), full, atol=1e-6)
    assert subsample_offset(level) == level // 2 - 1
    assert subsample_offset(2) is None and subsample_offset(1) is None and subsample_offset(0.5) is None
