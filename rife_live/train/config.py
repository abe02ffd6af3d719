"""The settings of a training run: one frozen record, checked in one place, saved in every checkpoint.

``TrainConfig`` holds everything that decides what a run computes (data, schedule, precision, seed,
...): ``rife-train --resume`` reads it back from the checkpoint, so a resumed run is the same run.
``RunOptions`` holds what only decides where and how it runs (output folder, device, loader
workers, resume or replace) and may differ between sessions of one run.

Defaults that depend on the start (``--init``): a fine-tune of published weights uses a low peak
learning rate (``FINETUNE_LR``); training from scratch the paper's range (``SCRATCH_LR`` down to a
hundredth of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from rife_live.errors import ConfigError
from rife_live.models.settings import DEVICES, DTYPES, pad_multiple

TRAIN_SCALE = 1.0  # the flow scale training runs at (levels 4, 2, 1), as the paper
TRAIN_MULTIPLE = pad_multiple(TRAIN_SCALE)  # crop sides must be a multiple of this (32)
INIT_SCRATCH = "scratch"
DEFAULT_INIT = "rife-hd-v3"

SCRATCH_LR = 3e-4  # the paper: warm-up to 3e-4, cosine down to 3e-6
FINETUNE_LR = 2e-5  # published weights: a gentle peak (bench/finetune.py measures it)
LR_FLOOR_RATIO = 0.01  # the cosine ends at this fraction of the peak unless --lr-min says otherwise
WARMUP_STEPS = 2000  # the paper's warm-up, capped at WARMUP_MAX_SHARE of a shorter run
WARMUP_MAX_SHARE = 0.1

DEFAULT_STEPS = 1000
DEFAULT_BATCH = 16
DEFAULT_CROP = 224
DEFAULT_WEIGHT_DECAY = 1e-4
DEFAULT_CLIP = 1.0
DEFAULT_VAL_SPLIT = 0.05
DEFAULT_VAL_ITEMS = 32
DEFAULT_GAPS = (1,)


@dataclass(frozen=True)
class TrainConfig:
    """What a run computes. Paths are absolute; optional hyper-parameters are resolved by ``resolved``."""

    vimeo: Path | None = None  # a Vimeo90K triplet folder (tri_trainlist.txt, sequences/)
    videos: tuple[Path, ...] = ()  # or the user's videos, cut into triplets
    gaps: tuple[int, ...] = DEFAULT_GAPS  # videos: the middle frame is G frames from each input
    stride: int = 1  # videos: a triplet starts every STRIDE frames
    val_split: float = DEFAULT_VAL_SPLIT
    val_items: int = DEFAULT_VAL_ITEMS
    crop: int = DEFAULT_CROP
    augment: bool = True
    init: str = DEFAULT_INIT  # "rife-hd-v3", a weights path, or "scratch"
    steps: int = DEFAULT_STEPS
    batch: int = DEFAULT_BATCH  # global: split over the processes
    lr: float | None = None
    lr_min: float | None = None
    warmup: int | None = None
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    clip: float = DEFAULT_CLIP
    precision: str = "auto"
    seed: int = 0
    checkpoint_every: int = 500
    log_every: int = 10
    val_every: int = 250

    def resolved(self) -> TrainConfig:
        """The same settings with every default that depends on others filled in."""
        lr = self.lr if self.lr is not None else (SCRATCH_LR if self.init == INIT_SCRATCH else FINETUNE_LR)
        lr_min = self.lr_min if self.lr_min is not None else lr * LR_FLOOR_RATIO
        warmup = self.warmup if self.warmup is not None else min(WARMUP_STEPS, int(self.steps * WARMUP_MAX_SHARE))
        return replace(self, lr=lr, lr_min=lr_min, warmup=warmup)

    def check(self) -> None:
        """Reject impossible settings with one line (``ConfigError``)."""
        if (self.vimeo is None) == (not self.videos):
            raise ConfigError("give the training data: a Vimeo90K triplet folder (--vimeo DIR) "
                              "or your videos (--from-videos FILE...), one of the two")
        _at_least("--steps", self.steps, 1)
        _at_least("--batch", self.batch, 1)
        _at_least("--stride", self.stride, 1)
        _at_least("--val-items", self.val_items, 1)
        for name in ("checkpoint_every", "log_every", "val_every"):
            _at_least(f"--{name.replace('_', '-')}", getattr(self, name), 1)
        if not self.gaps or any(g < 1 for g in self.gaps) or len(set(self.gaps)) != len(self.gaps):
            raise ConfigError(f"--gap must list distinct whole numbers >= 1, not {','.join(map(str, self.gaps))}")
        if self.crop < TRAIN_MULTIPLE or self.crop % TRAIN_MULTIPLE:
            raise ConfigError(f"--crop must be a multiple of {TRAIN_MULTIPLE} (the network's stride), not {self.crop}")
        if not 0.0 <= self.val_split < 1.0:
            raise ConfigError(f"--val-split must be a fraction in [0, 1), not {self.val_split:g}")
        if self.precision not in DTYPES:  # the engine's dtypes: training precision takes the same names
            raise ConfigError(f"--precision must be one of {', '.join(DTYPES)}, not '{self.precision}'")
        for name, value in (("--lr", self.lr), ("--lr-min", self.lr_min)):
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be above 0, not {value:g}")
        if self.lr is not None and self.lr_min is not None and self.lr_min > self.lr:
            raise ConfigError(f"--lr-min ({self.lr_min:g}) is above --lr ({self.lr:g})")
        if self.warmup is not None and not 0 <= self.warmup <= self.steps:
            raise ConfigError(f"--warmup must lie within 0..--steps ({self.steps}), not {self.warmup}")
        if self.weight_decay < 0 or self.clip <= 0:
            raise ConfigError("--weight-decay must be >= 0 and --clip above 0")

    def to_dict(self) -> dict[str, Any]:
        """Plain values (str, int, float, bool, list, None) for the checkpoint."""
        out = asdict(self)
        out["vimeo"] = None if self.vimeo is None else str(self.vimeo)
        out["videos"] = [str(p) for p in self.videos]
        out["gaps"] = list(self.gaps)
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown settings {', '.join(unknown)}")
        data = dict(values)
        data["vimeo"] = None if data.get("vimeo") is None else Path(data["vimeo"])
        data["videos"] = tuple(Path(p) for p in data.get("videos", ()))
        data["gaps"] = tuple(int(g) for g in data.get("gaps", DEFAULT_GAPS))
        return cls(**data)


@dataclass(frozen=True)
class RunOptions:
    """Where and how this session runs; not part of what the run computes."""

    output: Path
    resume: bool = False  # continue the run saved in ``output``
    replace: bool = False  # -y: start afresh over the run saved in ``output``
    device: str = "auto"
    workers: int = 0  # torch DataLoader worker processes
    model_dir: Path | None = None  # where registered models are cached (--init rife-hd-v3)
    progress: bool = False  # a live progress line (a terminal)

    def check(self) -> None:
        if self.resume and self.replace:
            raise ConfigError("give either --resume (continue the run) or -y/--yes (replace it), not both")
        if self.device not in DEVICES:
            raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not '{self.device}'")
        _at_least("--workers", self.workers, 0)


def _at_least(flag: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{flag} must be at least {low}, not {value}")
