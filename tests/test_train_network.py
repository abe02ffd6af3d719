"""The trainable network: the same student as inference, a teacher that sees the truth, gradients everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rife_live.evaluate.datasets import read_image
from rife_live.models import store
from rife_live.models.ifnet import BLOCK_NAMES, TEACHER_BLOCK, IFNet
from rife_live.train.loss import training_loss
from rife_live.train.network import INERT_PARAMETERS, TrainableIFNet
from tests.train_helpers import triplet_batch as batch

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"
GOLDEN_TRIPLET = ("bbb_060.png", "bbb_061_truth.png", "bbb_062.png")


@pytest.fixture(scope="module")
def published() -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    path, _ = store.resolve()
    student, teacher = store.load_training_state(path)
    assert teacher is not None
    return student, teacher


def test_state_dict_is_the_published_layout(published):
    student, teacher = published
    model = TrainableIFNet()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in {**student, **teacher}.items()}
    model.load_state_dict({**student, **teacher}, strict=True)


def test_student_computes_what_inference_computes(published):
    student, teacher = published
    inference = IFNet().eval()
    inference.load_state_dict(student)
    model = TrainableIFNet().eval()
    model.load_state_dict({**student, **teacher})
    x = batch(2, 64, seed=3)
    with torch.no_grad():
        ours = model(x[:, 0], x[:, 2])
        theirs = inference(x[:, 0], x[:, 2], 1.0)
    assert ours.merged_tea is None and len(ours.merged) == len(BLOCK_NAMES)
    assert torch.allclose(ours.middle, theirs.middle, atol=1e-5)
    assert torch.allclose(ours.flows[-1], theirs.flow, atol=1e-4)


def test_teacher_sees_the_truth_and_the_student_does_not(published):
    """On real footage (bigbuckbunny 60, 61, 62) the published teacher, fed our input layout
    (warped0, warped1, mask, truth, flow), beats its student by far: the layout is the one it was
    trained with. Given a wrong truth it does worse; the student does not see the truth at all."""
    model = TrainableIFNet().eval()
    model.load_state_dict({**published[0], **published[1]})
    frames = np.stack([read_image(GOLDEN / name) for name in GOLDEN_TRIPLET])[:, 200:456, 300:748]
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float().div(255)[None]
    truth = x[:, 1]
    with torch.no_grad():
        right = model(x[:, 0], x[:, 2], truth)
        wrong = model(x[:, 0], x[:, 2], torch.rand_like(truth))
    assert torch.equal(right.middle, wrong.middle)
    student_error = (right.middle - truth).abs().mean()
    assert (right.merged_tea - truth).abs().mean() < 0.8 * student_error
    assert (wrong.merged_tea - truth).abs().mean() > student_error


def test_gradients_reach_every_trainable_parameter():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = TrainableIFNet()
    x = batch(2, 64, seed=5)
    training_loss(model(x[:, 0], x[:, 2], x[:, 1]), x[:, 1]).total.backward()
    names = [name for name, _ in model.named_parameters()]
    assert any(n.startswith(TEACHER_BLOCK) for n in names) and all(any(n.startswith(b) for n in names) for b in BLOCK_NAMES)
    frozen = [name for name, p in model.named_parameters() if not p.requires_grad]
    assert frozen == list(INERT_PARAMETERS)
    for name, parameter in model.named_parameters():
        if name in frozen:
            continue
        assert parameter.grad is not None, f"no gradient reaches {name}"
        assert torch.isfinite(parameter.grad).all(), name
        assert parameter.grad.abs().max() > 0, f"a zero gradient reaches {name}"


def test_the_frozen_mask_biases_cannot_change_the_student():
    """The swapped pass's mask enters with its sign turned, so these biases cancel: that is why they
    are frozen (their gradient would be zero, and weight decay alone would move them)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        model = TrainableIFNet().eval()
    x = batch(1, 64, seed=7)
    with torch.no_grad():
        before = model(x[:, 0], x[:, 2])
        for name in INERT_PARAMETERS:
            model.get_parameter(name).add_(3.0)
        after = model(x[:, 0], x[:, 2])
    assert torch.allclose(before.middle, after.middle, atol=1e-6)
    assert torch.allclose(before.flows[-1], after.flows[-1], atol=1e-5)
