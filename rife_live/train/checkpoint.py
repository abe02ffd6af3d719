"""The files of a training run in its output folder, written atomically, and the checks before any.

``DIR/checkpoint.pt``: everything a resume needs (format, step, the run's settings, a fingerprint of
its data, the model with its teacher, the optimizer, the loss scaler); readable with
``torch.load(weights_only=True)``. ``DIR/flownet.pkl``: the weights alone in the published key
layout (``module.`` prefix, teacher included), which every command loads with ``--model DIR`` or
``--model DIR/flownet.pkl`` through the validated loader (``models.store``). Each file is written to a
temporary name in the same folder and moved into place with ``os.replace``: a reader, a crash or
Ctrl+C never leaves a half-written file under either name.

The output folder is checked before data or models are loaded: it must be creatable and writable,
and a folder that already holds a run is only continued (``--resume``) or replaced (``-y``) when
the user says so.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.models import store
from rife_live.train.config import TrainConfig

CHECKPOINT_FILE = "checkpoint.pt"
WEIGHTS_FILE = store.WEIGHTS_FILE
LOG_FILE = "train.jsonl"
RUN_FILES = (CHECKPOINT_FILE, WEIGHTS_FILE)  # a folder holding one of them holds a run
CHECKPOINT_FORMAT = "rife-train checkpoint"
CHECKPOINT_VERSION = 1
_FIELDS = ("format", "version", "step", "config", "fingerprint", "model", "optimizer", "scaler")


@dataclass(frozen=True)
class Checkpoint:
    """A run's state after ``step`` optimizer steps."""

    step: int
    config: TrainConfig
    fingerprint: str  # of the data (``TripletSplit.fingerprint``)
    model: dict[str, torch.Tensor] = field(repr=False)  # TrainableIFNet.state_dict(), teacher included
    optimizer: dict[str, Any] = field(repr=False)
    scaler: dict[str, Any] = field(repr=False)

    def payload(self) -> dict[str, Any]:
        return {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "step": self.step,
                "config": self.config.to_dict(), "fingerprint": self.fingerprint, "model": self.model,
                "optimizer": self.optimizer, "scaler": self.scaler}


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_output(folder: Path, resume: bool, replace: bool) -> None:
    """Everything about ``-o DIR`` that can fail, before anything is loaded or written."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"-o {folder} is a file, not a folder")
    held = [name for name in RUN_FILES if (folder / name).exists()]
    if resume and not (folder / CHECKPOINT_FILE).is_file():
        raise InputError(f"--resume: {folder} holds no {CHECKPOINT_FILE} to continue from")
    if held and not resume and not replace:
        raise ConfigError(f"{folder} already holds a training run ({', '.join(held)}): give --resume to "
                          f"continue it or -y/--yes to replace it")
    probe = _nearest_existing(folder)
    if not probe.is_dir():
        raise OutputError(f"cannot create {folder}: {probe} is not a folder")
    try:
        handle, name = tempfile.mkstemp(prefix=".rife-train-probe-", dir=probe)
        os.close(handle)
        os.unlink(name)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {exc.strerror or exc}") from exc


def create_output(folder: Path) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from exc


def save(folder: Path, checkpoint: Checkpoint, weights: dict[str, torch.Tensor]) -> None:
    """Write ``checkpoint.pt``, then ``flownet.pkl`` (``weights``: unprefixed names, teacher included)."""
    folder = Path(folder)
    store.write_atomically(folder / CHECKPOINT_FILE, lambda handle: torch.save(checkpoint.payload(), handle))
    store.save_state(folder / WEIGHTS_FILE, weights)


def _corrupt(path: Path, why: str) -> InputError:
    return InputError(f"{path} is not a usable rife-train checkpoint ({why}); "
                      f"start afresh with -y, or resume from an intact copy")


def load(folder: Path) -> Checkpoint:
    """Read ``DIR/checkpoint.pt`` (``weights_only``) and check its structure."""
    path = Path(folder) / CHECKPOINT_FILE
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere inside the unpickler
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _corrupt(path, first[:160]) from exc
    if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
        raise _corrupt(path, "not written by rife-train")
    if raw.get("version") != CHECKPOINT_VERSION:
        raise _corrupt(path, f"format version {raw.get('version')!r}, this rife-train reads {CHECKPOINT_VERSION}")
    missing = [name for name in _FIELDS if name not in raw]
    if missing:
        raise _corrupt(path, f"missing {', '.join(missing)}")
    if not isinstance(raw["step"], int) or raw["step"] < 0 or not isinstance(raw["model"], dict):
        raise _corrupt(path, "bad step or model")
    try:
        config = TrainConfig.from_dict(raw["config"])
    except (TypeError, ValueError) as exc:
        raise _corrupt(path, f"bad settings: {exc}") from exc
    return Checkpoint(step=raw["step"], config=config, fingerprint=str(raw["fingerprint"]), model=raw["model"],
                      optimizer=raw["optimizer"], scaler=raw["scaler"])
