"""A training session: check, load, then steps, validations and checkpoints until the last step or a stop.

``train(config, options, log)`` runs in every process (one, or each of torchrun's). In order:

1. checks that cannot need data: the settings, the device, the output folder (creatable, writable,
   not holding a run unless ``--resume`` or ``-y``), the checkpoint to resume (read and checked);
2. the data (``triplets.load_triplets``: every file checked, videos decoded and cut) and the model
   (``--init``: published weights with their teacher, a weights file, or a seeded random start);
3. the process group (torchrun), the output folder and the log are made; a fresh run saves its
   starting point as step 0, so the folder always holds one consistent run;
4. the loop. Each step: the batch of this rank (``sampler``), the forward under autocast, the loss
   (``loss.training_loss``), backward (DistributedDataParallel averages the gradients over the
   processes), gradient clipping, the AdamW step at the step's learning rate. Every ``log_every``
   steps a progress line and a log record (losses averaged over the processes), every
   ``val_every`` steps the held-back PSNR, every ``checkpoint_every`` steps and at the end a
   checkpoint. A stop request (Ctrl+C, SIGTERM, SIGHUP; ``signals.polled``) on any process ends every
   process after the same step, with a final checkpoint.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from rife_live import signals
from rife_live.errors import ConfigError, InputError
from rife_live.models import store
from rife_live.train import checkpoint, validate
from rife_live.train.config import INIT_SCRATCH, RunOptions, TrainConfig
from rife_live.train.distributed import Group, Placement, placement
from rife_live.train.loss import LossTerms, training_loss
from rife_live.train.network import TrainableIFNet
from rife_live.train.optim import Precision, learning_rate, make_optimizer, pick_precision, set_learning_rate
from rife_live.train.progress import Progress
from rife_live.train.sampler import BatchPlan, RankBatches, TripletDataset
from rife_live.train.triplets import TripletSplit, load_triplets

PROG = "rife-train"
U8_MAX = 255.0
LOSS_NAMES = ("loss", "student", "teacher", "distill")  # the log's names of LossTerms' fields

Log = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """How a session ended."""

    output: Path
    start_step: int
    step: int
    total_steps: int
    interrupted: bool
    seconds: float
    samples_per_s: float
    val_psnr: float | None  # the last validation (None without a held-back split)
    blend_psnr: float | None
    main: bool  # this process reports (rank 0)
    signum: int | None = None  # the stop signal this process received (another rank's ends it too)


def _quiet(_message: str) -> None:
    pass


def _ignore_interrupts(_worker: int) -> None:
    """DataLoader worker start: Ctrl+C is the main process's business (it stops between steps)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def build_model(config: TrainConfig, model_dir: Path | None, log: Log) -> TrainableIFNet:
    """The starting network: seeded random weights, then ``--init``'s weights (and teacher) over them."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = TrainableIFNet()
    if config.init == INIT_SCRATCH:
        return model
    path, _ = store.resolve(config.init, model_dir, log)
    student, teacher = store.load_training_state(path)
    model.load_state_dict({**student, **(teacher or {})}, strict=teacher is not None)
    if teacher is None:
        log(f"{path} holds no teacher block (block_tea): the teacher starts from random weights")
    return model


def _terms(terms: LossTerms) -> torch.Tensor:
    return torch.stack((terms.total, terms.student, terms.teacher, terms.distill)).detach()


@dataclass
class _Run:
    """Everything one session trains with (built by ``train``, used by ``_loop``)."""

    config: TrainConfig
    options: RunOptions
    where: Placement
    group: Group
    precision: Precision
    data: TripletSplit
    model: TrainableIFNet
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    start: int
    resumed: bool


def train(config: TrainConfig | None, options: RunOptions, log: Log, stream: TextIO | None = None) -> TrainResult:
    """Run (or continue, with ``options.resume``) a training run; see the module docstring. Progress
    goes to ``stream`` (default: standard error)."""
    options.check()
    if not options.resume:
        assert config is not None, "a fresh run needs its settings"
        config.check()
    where = placement(options.device)
    main_log = log if where.is_main else _quiet
    checkpoint.check_output(options.output, options.resume, options.replace)
    saved = checkpoint.load(options.output) if options.resume else None
    if saved is not None:
        config = saved.config
        config.check()
    assert config is not None
    config = config.resolved()
    precision = pick_precision(config.precision, where.device)
    if config.batch % where.world:
        raise ConfigError(f"--batch {config.batch} (the global batch) does not split over {where.world} "
                          f"processes: give a multiple of {where.world}")
    data = load_triplets(config, main_log)
    if saved is not None and saved.fingerprint != data.fingerprint():
        raise InputError(f"the data differs from the run saved in {options.output} (mismatched dataset: "
                         f"triplets changed, added or removed since it started)")
    model = build_model(config, options.model_dir, main_log) if saved is None else TrainableIFNet()
    optimizer = make_optimizer(model, config.lr, config.weight_decay)
    scaler = precision.scaler()
    if saved is not None:
        path = options.output / checkpoint.CHECKPOINT_FILE
        try:
            model.load_state_dict(saved.model, strict=True)
            optimizer.load_state_dict(saved.optimizer)
            if saved.scaler:
                scaler.load_state_dict(saved.scaler)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"{path} does not fit this network or optimizer ({first[:160]})") from exc
    model.to(where.device)
    _move_optimizer_state(optimizer, where.device)
    start = saved.step if saved is not None else 0
    group = Group(where)
    group.start()
    try:
        run = _Run(config, options, where, group, precision, data, model, optimizer, scaler, start, saved is not None)
        return _loop(run, main_log, stream if stream is not None else sys.stderr)
    finally:
        group.stop()


def _move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Loaded optimizer moments live on the CPU; move them to the parameters' device."""
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and key != "step":
                state[key] = value.to(device)


def _save(run: _Run, step: int) -> None:
    if run.where.is_main:
        saved = checkpoint.Checkpoint(step=step, config=run.config, fingerprint=run.data.fingerprint(),
                                      model=run.model.state_dict(), optimizer=run.optimizer.state_dict(),
                                      scaler=run.scaler.state_dict())
        checkpoint.save(run.options.output, saved, run.model.state_dict())
    run.group.barrier()


def _train_step(run: _Run, net: torch.nn.Module, batch: torch.Tensor, step: int) -> torch.Tensor:
    """One optimizer step on this rank's batch ((B, 3, c, c, 3) uint8); returns the loss terms."""
    config = run.config
    x = batch.to(run.where.device, non_blocking=True).permute(0, 1, 4, 2, 3).float().div_(U8_MAX)
    img0, truth, img1 = (x[:, k].contiguous() for k in range(3))
    set_learning_rate(run.optimizer, learning_rate(step, config.lr, config.lr_min, config.warmup, config.steps))
    with run.precision.autocast():
        out = net(img0, img1, truth)
    terms = training_loss(out, truth)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(terms.total).backward()
    run.scaler.unscale_(run.optimizer)
    torch.nn.utils.clip_grad_norm_(run.model.parameters(), config.clip)
    run.scaler.step(run.optimizer)
    run.scaler.update()
    return _terms(terms)


def _validate(run: _Run, progress: Progress | None, step: int) -> float | None:
    if not len(run.data.val):
        return None
    value = validate.network_psnr(run.model, run.data.val, run.precision, run.where.device, run.group)
    if progress is not None and value is not None:
        progress.record({"kind": "val", "step": step, "val_psnr": value, "val_items": len(run.data.val)})
        progress.note(f"step {step}: held-back PSNR {value:.2f} dB ({len(run.data.val)} triplets)")
    return value


def _loop(run: _Run, log: Log, stream: TextIO) -> TrainResult:
    config, options, where = run.config, run.options, run.where
    total = config.steps
    plan = BatchPlan(len(run.data.train), config.batch, config.seed)
    per_rank = config.batch // where.world
    for note in run.data.notes:
        log(note)
    log(f"{'resuming at step ' + str(run.start) if run.resumed else 'starting from ' + config.init}: "
        f"{total} steps of {config.batch} triplets ({per_rank} x {where.world} process"
        f"{'es' if where.world > 1 else ''}), crop {config.crop}, lr {config.lr:g} -> {config.lr_min:g} "
        f"(warm-up {config.warmup}), {run.precision.name} on {where.device.type}")
    if run.start >= total:
        log(f"the run in {options.output} is complete ({run.start} of {total} steps); nothing to do")
        return TrainResult(options.output, run.start, run.start, total, False, 0.0, 0.0, None, None, where.is_main)

    loader = DataLoader(TripletDataset(run.data.train, config.crop, config.augment, config.seed),
                        batch_sampler=RankBatches(plan, where.rank, where.world, run.start, total),
                        num_workers=options.workers, pin_memory=where.device.type == "cuda",
                        worker_init_fn=_ignore_interrupts if options.workers else None)
    net: torch.nn.Module = run.model
    if where.distributed:
        devices = [where.device.index] if where.device.type == "cuda" else None
        net = DistributedDataParallel(run.model, device_ids=devices)
    progress = None
    if where.is_main:
        checkpoint.create_output(options.output)
        progress = Progress(PROG, options.output / checkpoint.LOG_FILE, stream, options.progress, total,
                            run.start, config.batch)
    try:
        return _session(run, net, loader, plan, progress)
    finally:
        if progress is not None:
            progress.close()


def _session(run: _Run, net: torch.nn.Module, loader: DataLoader, plan: BatchPlan,
             progress: Progress | None) -> TrainResult:
    config, where = run.config, run.where
    total = config.steps
    blend = validate.blend_psnr(run.data.val, run.group) if len(run.data.val) else None
    if progress is not None:
        progress.open(resumed=run.resumed)
        progress.record({"kind": "start", "step": run.start, "resumed": run.resumed, "world": where.world,
                         "device": where.device.type, "precision": run.precision.name,
                         "train_triplets": len(run.data.train), "val_triplets": len(run.data.val),
                         "val_blend_psnr": blend, "config": config.to_dict()})
        if blend is not None:
            progress.note(f"held-back 50/50 blend PSNR {blend:.2f} dB (the baseline)")
    val_psnr = None
    if not run.resumed:
        _save(run, 0)
        val_psnr = _validate(run, progress, 0)
    if progress is not None:
        progress.start_clock()  # samples/s and ETA count training, from here
    sums = torch.zeros(len(LOSS_NAMES), device=where.device)
    summed = 0
    step = run.start
    interrupted = False
    run.model.train()
    signum: int | None = None
    with signals.polled("rife-train") as stop_signal:
        for batch in loader:
            sums += _train_step(run, net, batch, step)
            summed += 1
            step += 1
            if step % config.log_every == 0 or step == total:
                means = run.group.all_sum((sums / summed).tolist())
                if progress is not None:
                    terms = {name: value / where.world for name, value in zip(LOSS_NAMES, means)}
                    lr = learning_rate(step - 1, config.lr, config.lr_min, config.warmup, total)
                    progress.step(step, plan.epoch(step), terms, lr)
                sums.zero_()
                summed = 0
            if step % config.val_every == 0 or step == total:
                val_psnr = _validate(run, progress, step)
            stopping = run.group.any(stop_signal() is not None)
            if stopping or step % config.checkpoint_every == 0 or step == total:
                _save(run, step)
            if stopping:
                interrupted = True
                signum = stop_signal()
                break
    elapsed, samples_per_s = (progress.rate(step)[:2] if progress is not None else (0.0, 0.0))
    if progress is not None:
        progress.record({"kind": "end", "step": step, "interrupted": interrupted, "elapsed_s": elapsed,
                         "samples_per_s": samples_per_s, "val_psnr": val_psnr, "val_blend_psnr": blend})
    return TrainResult(run.options.output, run.start, step, total, interrupted, elapsed, samples_per_s,
                       val_psnr, blend, where.is_main, signum)
