"""Optimizer, learning-rate schedule and mixed precision of a training run.

- AdamW over every trained parameter (students and teacher), weight decay from the config.
- The learning rate is a pure function of the step: a linear warm-up from 0 to the peak over
  ``warmup`` steps, then a cosine from the peak down to ``lr_min`` at the last step. Being a
  function of the step, it needs no state of its own to resume.
- Precision: the convolutions run under ``torch.autocast`` in bfloat16 or float16 (losses, warps and
  the optimizer stay float32). ``auto`` is bfloat16 on a CPU that has it (else float32) and on a GPU
  that has it (else float16). float16 scales the loss (``torch.amp.GradScaler``) so small gradients
  survive; bfloat16 has float32's range and needs no scaling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from rife_live.errors import ConfigError
from rife_live.models.engine import cpu_supports_bfloat16

ADAM_BETAS = (0.9, 0.999)


def make_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    """AdamW over the parameters that train (``requires_grad``)."""
    trained = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(trained, lr=lr, betas=ADAM_BETAS, weight_decay=weight_decay)


def learning_rate(step: int, peak: float, floor: float, warmup: int, total: int) -> float:
    """The learning rate of step ``step`` (0-based) of ``total``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    span = max(1, total - warmup - 1)
    progress = min(1.0, (step - warmup) / span)
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


@dataclass(frozen=True)
class Precision:
    """The autocast dtype of the convolutions (None: float32 throughout) on a device."""

    device_type: str
    dtype: torch.dtype | None

    @property
    def name(self) -> str:
        return "float32" if self.dtype is None else str(self.dtype).removeprefix("torch.")

    @property
    def scales_loss(self) -> bool:
        return self.dtype == torch.float16

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None)

    def scaler(self) -> torch.amp.GradScaler:
        """A loss scaler, enabled for float16 only (a pass-through otherwise)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.scales_loss)


def pick_precision(name: str, device: torch.device) -> Precision:
    if device.type == "cuda":
        if name == "auto":
            name = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
    else:
        if name == "auto":
            name = "bfloat16" if cpu_supports_bfloat16() else "float32"
        elif name == "float16":
            raise ConfigError("--precision float16 is for CUDA; on the CPU use bfloat16 or float32")
        elif name == "bfloat16" and not cpu_supports_bfloat16():
            raise ConfigError("--precision bfloat16: this CPU has no native bfloat16 support; use float32")
    return Precision(device.type, None if name == "float32" else getattr(torch, name))
