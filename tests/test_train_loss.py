"""The training objective and the optimizer: the pyramid loss, the masked distillation, one step that helps."""

from __future__ import annotations

import math

import pytest
import torch

from rife_live.train.loss import DISTILL_MARGIN, distillation, laplacian_l1, training_loss
from rife_live.train.network import TrainableIFNet, TrainOutput
from rife_live.train.optim import learning_rate, make_optimizer, set_learning_rate
from tests.train_helpers import triplet_batch as batch


def test_laplacian_l1_measures_the_difference_at_every_scale():
    generator = torch.Generator().manual_seed(0)
    image, other = torch.rand(2, 1, 3, 64, 64, generator=generator)
    noise = 0.1 * torch.randn(1, 3, 64, 64, generator=generator)
    assert laplacian_l1(image, image).item() == 0.0
    # a constant offset lives in the coarsest level only, and counts once
    assert laplacian_l1(image + 0.1, image).item() == pytest.approx(0.1, rel=1e-4)
    # linear in the difference: the same error costs the same on any picture, twice the error twice
    assert laplacian_l1(image + noise, image).item() == pytest.approx(laplacian_l1(other + noise, other).item(), rel=1e-4)
    assert laplacian_l1(image + 2 * noise, image).item() == pytest.approx(2 * laplacian_l1(image + noise, image).item(),
                                                                         rel=1e-4)
    # fine detail is seen at full weight (the finest level holds most of white noise)
    assert laplacian_l1(image + noise, image).item() > 0.8 * noise.abs().mean().item()
    assert laplacian_l1(torch.rand(1, 3, 33, 47), torch.rand(1, 3, 33, 47)).item() > 0  # odd sizes work


def test_distillation_counts_only_where_the_teacher_is_better():
    truth = torch.zeros(1, 3, 8, 8)
    student = torch.full((1, 3, 8, 8), 0.5)
    teacher = torch.full((1, 3, 8, 8), 0.5)
    teacher[..., :4] = 0.0  # the teacher is right on the left half only
    flows = torch.zeros(1, 4, 8, 8)
    teacher_flow = torch.ones(1, 4, 8, 8)
    out = TrainOutput(merged=(student,), flows=(flows,), merged_tea=teacher, flow_tea=teacher_flow)
    assert distillation(out, truth).item() == pytest.approx(0.5)  # |1 - 0| on half the pixels
    close = TrainOutput(merged=(teacher + DISTILL_MARGIN / 2,), flows=(flows,), merged_tea=teacher,
                        flow_tea=teacher_flow)
    assert distillation(close, truth).item() == 0.0  # better by less than the margin: no pull


def test_learning_rate_warms_up_then_decays_to_the_floor():
    peak, floor, warmup, total = 3e-4, 3e-6, 10, 100
    rates = [learning_rate(s, peak, floor, warmup, total) for s in range(total)]
    assert rates[0] == pytest.approx(peak / warmup) and rates[warmup - 1] == pytest.approx(peak)
    assert rates[warmup] == pytest.approx(peak)
    assert all(a >= b for a, b in zip(rates[warmup:], rates[warmup + 1:]))
    assert rates[-1] == pytest.approx(floor)
    assert rates[(warmup + total - 1) // 2] == pytest.approx((peak + floor) / 2, rel=0.05)
    assert math.isclose(learning_rate(5, peak, floor, 0, total), learning_rate(5, peak, floor, 0, total))


def test_one_optimizer_step_on_a_fixed_batch_lowers_the_loss():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = TrainableIFNet()
    x = batch(4, 64, seed=6)
    optimizer = make_optimizer(model, lr=1e-4, weight_decay=1e-4)
    set_learning_rate(optimizer, 1e-4)

    def loss() -> torch.Tensor:
        return training_loss(model(x[:, 0], x[:, 2], x[:, 1]), x[:, 1]).total

    before = loss()
    optimizer.zero_grad()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after.item() < before.item() * 0.99, (before.item(), after.item())
