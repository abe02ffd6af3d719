"""Command lines: argv -> config -> a run. The only module that parses arguments.

Entry points: ``rife-play`` (the live player; with -o/--png an export),
``rife-interp`` (frames between two images), ``rife-eval`` (quality on datasets and videos) and
``rife-train`` (train or fine-tune the network).
Every user error ends with one line ``PROG: error: ...`` and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from rife_live import __version__
from rife_live.config import EXPORT, OPTIONS, PLAYBACK, SECTIONS, option_label, parse_flag
from rife_live.errors import ConfigError, RifeError
from rife_live.models.settings import DEVICES, DTYPES, EngineConfig
from rife_live.options import flag_spellings, option_fields
from rife_live.signals import StopSignals, exit_code_for, signal_name, signal_of

EXIT_INTERNAL = 3
DEBUG_ENV = "RIFE_LIVE_DEBUG"  # set to 1 to see tracebacks of unexpected errors


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (argparse prints the usage block too)."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _log(prog: str) -> Callable[[str], None]:
    return lambda message: print(f"{prog}: {message}", file=sys.stderr, flush=True)


def _log_to_stderr(prog: str) -> None:
    """Notices the library logs (``rife_live.*`` loggers) reach stderr as ``PROG: message``."""
    logger = logging.getLogger("rife_live")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{prog}: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _guard(prog: str, run: Callable[[], int]) -> int:
    """Run a command under ``StopSignals`` (Ctrl+C, SIGTERM and SIGHUP end it gracefully); turn
    every failure into one line and an exit code."""
    _log_to_stderr(prog)
    try:
        with StopSignals(prog):
            return run()
    except RifeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        print(f"\n{prog}: interrupted ({signal_name(signal_of(exc))})", file=sys.stderr)
        return exit_code_for(signal_of(exc))
    except Exception as exc:  # noqa: BLE001 - a bug still ends with one line, not a traceback
        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"{prog}: internal error: {type(exc).__name__}: {first} (set {DEBUG_ENV}=1 for details)",
              file=sys.stderr)
        return EXIT_INTERNAL


def _fraction(text: str) -> Fraction:
    try:
        value = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    return value


def _yes_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-y", "--yes", action="store_true",
                        help="replace existing output files (and a PNG folder's old frames) instead of stopping")


def _option_arguments(group: argparse._ArgumentGroup, record: type) -> None:
    """The flags of an option record's fields, as their declarations spell them (``options``)."""
    for f, spec in option_fields(record):
        spellings = flag_spellings(f.name, spec)
        if not spellings:
            continue
        if spec.switch:
            group.add_argument(*spellings, dest=f.name, action="store_const", const=True, default=None, help=spec.help)
        else:
            group.add_argument(*spellings, dest=f.name, default=None, metavar=spec.metavar, help=spec.help)


def _engine_config(args: argparse.Namespace) -> EngineConfig:
    """The ``[engine]`` options given on a command line without a config file (rife-interp, rife-eval)."""
    given = {f.name: getattr(args, f.name) for f, _ in option_fields(EngineConfig) if getattr(args, f.name) is not None}
    return EngineConfig(**{name: parse_flag(name, value) for name, value in given.items()})


# -- rife-interp ----------------------------------------------------------------------------
def _interp_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rife-interp",
        description="Make the frames between two images with RIFE. Without images, runs on a built-in demo pair.",
    )
    parser.add_argument("images", nargs="*", type=Path, metavar="IMG", help="IMG0 IMG1 (PNG or JPEG, same size)")
    parser.add_argument("--exp", default="4", help="write 2^EXP+1 frames img0.png..imgN.png, EXP 1-8 (default 4)")
    parser.add_argument("--ratio", type=float, default=None, help="write only the frame at time RATIO in [0, 1]")
    parser.add_argument("--scale", default="1",
                        help="flow scale 0.25, 0.5, 1, 2 or 4 (smaller: faster, for large motion/4K; default 1)")
    parser.add_argument("--method", default="flow",
                        help="flow: one network pass, flow scaled for each t (default); "
                             "bisect: the network at t=1/2, recursively (2^EXP-1 passes)")
    parser.add_argument("-o", "--output", type=Path, default=Path("output"), help="output folder (default output/)")
    parser.add_argument("--bit-depth", type=int, default=8, help="PNG bit depth, 8 or 16 (default 8)")
    parser.add_argument("--gif", type=Path, default=None, help="also write the sequence as an animated GIF")
    parser.add_argument("--video", type=Path, default=None, help="also write the sequence as a video (mp4, mkv, ...)")
    parser.add_argument("--fps", type=_fraction, default=Fraction(12), help="rate of --gif/--video (default 12)")
    _yes_argument(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _option_arguments(parser.add_argument_group("model and device"), EngineConfig)
    return parser


def interp_main(argv: Sequence[str] | None = None) -> int:
    args = _interp_parser().parse_args(argv)

    def run() -> int:
        from rife_live.imagepair import PairJob, run_pair

        if len(args.images) not in (0, 2):
            raise ConfigError(f"give two images (IMG0 IMG1), or none for the demo pair; got {len(args.images)}")
        img0, img1 = (args.images if args.images else (None, None))
        job = PairJob(img0=img0, img1=img1, exp=parse_flag("exp", args.exp), ratio=args.ratio,
                      scale=parse_flag("scale", args.scale, allow_auto=False), method=args.method,
                      out_dir=args.output, bit_depth=args.bit_depth, gif=args.gif, video=args.video, fps=args.fps,
                      overwrite=args.yes, engine=_engine_config(args))
        run_pair(job, _log("rife-interp"))
        return 0

    return _guard("rife-interp", run)


# -- rife-play ------------------------------------------------------------------------------
# The argument groups of rife-play: the config sections, in the order --help shows them.
PLAY_GROUPS = (("video", "rate and quality"), ("input", "input"), ("player", "playback (without -o/--png)"),
               ("output", "output and statistics"), ("engine", "model and device"))
INPUT_NAMES = {"images": "an image-folder input", "network": "a URL input", "rtsp": "an rtsp:// input",
               "rtsps": "an rtsps:// input"}


def _play_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rife-play",
        description="Play a video with its frame rate raised live by RIFE (no input: a demo clip). "
                    "With -o/--png, render to a file or PNG folder instead.",
        epilog="Rate options (one of): --target-fps, --multi, --exp; default twice the source rate. "
               "Options also come from ~/.config/rife-live/rife-live.toml (see configs/default.toml).",
    )
    parser.add_argument("input", nargs="?", default=None,
                        help="a video file, an image folder, or a URL (rtsp://, udp://, http(s)://)")
    _yes_argument(parser)
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="TOML config file (over ~/.config/rife-live/rife-live.toml, under flags)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    for section, title in PLAY_GROUPS:
        _option_arguments(parser.add_argument_group(title), SECTIONS[section])
    return parser


def _refuse_unused(args: argparse.Namespace, export: bool) -> None:
    """One line for a flag that would do nothing in this mode or for this input (``OptionSpec``'s
    ``mode`` and ``inputs``): no flag is accepted and then ignored."""
    from rife_live.pipeline.source import classify, url_scheme

    kind = classify(args.input) if args.input is not None else None
    for name, (_, spec) in OPTIONS.items():
        if getattr(args, name, None) is None:
            continue
        if spec.mode is not None and spec.mode != (EXPORT if export else PLAYBACK):
            mode = "an export (-o/--png)" if spec.mode == EXPORT else "playback (no -o/--png)"
            raise ConfigError(f"{option_label(name)} applies to {mode} only")
        if spec.inputs is not None and kind is not None:
            if kind not in spec.inputs and url_scheme(args.input) not in spec.inputs:
                what = " or ".join(INPUT_NAMES.get(str(i), str(i)) for i in spec.inputs)
                raise ConfigError(f"{option_label(name)} applies to {what} only, not to {args.input}")


def play_main(argv: Sequence[str] | None = None) -> int:
    args = _play_parser().parse_args(argv)

    def run() -> int:
        from rife_live.config import exporting, load_config
        from rife_live.outputs import check_play_outputs

        flags = {name: getattr(args, name) for name in OPTIONS if hasattr(args, name)}
        config = load_config(args.config, flags)
        export = exporting(config)
        _refuse_unused(args, export)
        check_play_outputs(config, args.input, args.yes)
        if not export:
            return _play_live(config, args.input)
        if args.input is None:
            raise ConfigError("no input given: name a video file, an image folder or a URL")
        return _export(config, args.input, args.yes)

    return _guard("rife-play", run)


def _export(config, target: str, overwrite: bool) -> int:
    """``rife-play INPUT -o/--png``: render, with a progress line on a terminal."""
    from rife_live.export import export, rate_line

    result = export(config, target, log=_log("rife-play"), progress=sys.stderr.isatty(), overwrite=overwrite)
    where = config.output.png_dir or config.output.path
    written = f"wrote {result.frames} frames at {rate_line(result.rate, config.video.fps)} to {where}"
    if result.interrupted is not None:
        signum = signal_of(result.interrupted)
        print(f"rife-play: interrupted ({signal_name(signum)}): {written} (finalized)", file=sys.stderr)
        return exit_code_for(signum)
    print(f"rife-play: {written}", file=sys.stderr)
    return 0


def _play_live(config, target: str | None) -> int:
    """The live player: a window (or --vo null) until quit, the end, or a stop signal."""
    from rife_live.player import LiveSession

    result = LiveSession(config, target, log=_log("rife-play")).run()
    if result.interrupted is not None:
        signum = signal_of(result.interrupted)
        print(f"rife-play: interrupted ({signal_name(signum)})", file=sys.stderr)
        return exit_code_for(signum)
    return result.exit_code


# -- rife-eval ------------------------------------------------------------------------------
def _eval_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rife-eval",
                     description="Measure interpolation quality (PSNR, SSIM) on a dataset or a video.")
    parser.add_argument("protocol", help="vimeo90k, ucf101, middlebury, hd or video")
    parser.add_argument("path", type=Path, help="dataset folder (or video file for 'video')")
    parser.add_argument("--factor", type=int, default=2, help="video protocol: 2 (drop every other frame) or 4")
    parser.add_argument("--method", default="network",
                        help="comma-separated: network, blend, repeat, minterpolate (default network)")
    parser.add_argument("--arbitrary-t", default="flow",
                        help="network at t != 1/2: flow (one pass, flow scaling) or bisect (recursive)")
    parser.add_argument("--scale", default="1", help="flow scale 0.25, 0.5, 1, 2 or 4 (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N items only")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON")
    parser.add_argument("--csv", type=Path, default=None, help="write per-item rows as CSV")
    _yes_argument(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _option_arguments(parser.add_argument_group("model and device"), EngineConfig)
    return parser


def eval_main(argv: Sequence[str] | None = None) -> int:
    args = _eval_parser().parse_args(argv)

    def run() -> int:
        from rife_live.evaluate.runner import EvalOptions, run_eval

        methods = tuple(m.strip() for m in args.method.split(",") if m.strip())
        options = EvalOptions(protocol=args.protocol, path=args.path, factor=args.factor, methods=methods,
                              arbitrary_t=args.arbitrary_t, scale=parse_flag("scale", args.scale, allow_auto=False),
                              engine=_engine_config(args),
                              limit=args.limit, json_path=args.json, csv_path=args.csv, overwrite=args.yes)
        run_eval(options, sys.stdout, _log("rife-eval"))
        return 0

    return _guard("rife-eval", run)


# -- rife-train -----------------------------------------------------------------------------
TRAIN_SETTINGS = ("vimeo", "videos", "gaps", "stride", "val_split", "val_items", "crop", "augment", "init", "steps",
                  "batch", "lr", "lr_min", "warmup", "weight_decay", "clip", "precision", "seed",
                  "checkpoint_every", "log_every", "val_every")  # TrainConfig's fields: a resumed run keeps its own


def _gaps(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of whole numbers") from None


def _listed(values: tuple[int, ...]) -> str:
    return ",".join(str(v) for v in values)


def _train_parser() -> argparse.ArgumentParser:
    from rife_live.train.config import (DEFAULT_INIT, FINETUNE_LR, INIT_SCRATCH, LR_FLOOR_RATIO, SCRATCH_LR,
                                        TRAIN_MULTIPLE, WARMUP_MAX_SHARE, WARMUP_STEPS, TrainConfig)

    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)}  # the defaults, declared there once
    parser = _Parser(
        prog="rife-train",
        description="Train or fine-tune the RIFE network on Vimeo90K triplets or your own videos. Runs as one "
                    "process, or under torchrun on several GPUs or machines: torchrun --nproc-per-node 4 "
                    "-m rife_live.train ARGS (the same arguments).",
        epilog=f"Fine-tune (default): --init {DEFAULT_INIT}, peak lr {FINETUNE_LR:.0e}. From scratch: --init "
               f"{INIT_SCRATCH}, peak lr {SCRATCH_LR:.0e} (the paper). See docs/train.md.",
    )
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="run folder: checkpoint.pt, flownet.pkl (use with --model DIR) and train.jsonl")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in the output folder, with its own settings")
    parser.add_argument("-y", "--yes", action="store_true", help="replace a run the output folder already holds")
    data = parser.add_argument_group("data")
    data.add_argument("--vimeo", type=Path, default=None,
                      help="Vimeo90K triplet folder (tri_trainlist.txt, sequences/<seq>/im1.png..im3.png)")
    data.add_argument("--from-videos", dest="videos", nargs="+", type=Path, default=None, metavar="FILE",
                      help="your videos (or numbered image folders), cut into triplets; scene cuts and "
                           "static pairs are left out")
    data.add_argument("--gap", dest="gaps", type=_gaps, default=None,
                      help="videos: frames i and i+2G predict i+G; comma-separated for several (default "
                           f"{_listed(d['gaps'])}: "
                           "i, i+2 -> i+1; larger gaps: larger motion)")
    data.add_argument("--stride", type=int, default=None,
                      help=f"videos: a triplet starts every N frames (default {d['stride']})")
    data.add_argument("--crop", type=int, default=None,
                      help=f"random square crop side, a multiple of {TRAIN_MULTIPLE} (default {d['crop']})")
    data.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                      help="crops only: no flips, channel reversal, input swap or rotations")
    data.add_argument("--val-split", type=float, default=None,
                      help=f"fraction held back for validation (default {d['val_split']:g}; videos: the end of each)")
    data.add_argument("--val-items", type=int, default=None,
                      help=f"held-back triplets scored (default {d['val_items']})")
    opt = parser.add_argument_group("training")
    opt.add_argument("--init", default=None,
                     help=f"start from: {DEFAULT_INIT} (the published weights, default), a flownet.pkl / run "
                          f"folder, or {INIT_SCRATCH}")
    opt.add_argument("--steps", type=int, default=None, help=f"optimizer steps (default {d['steps']})")
    opt.add_argument("--batch", type=int, default=None,
                     help=f"global batch, split over the processes (default {d['batch']}; the paper: 64 on 4 GPUs)")
    opt.add_argument("--lr", type=float, default=None,
                     help=f"peak learning rate (default {FINETUNE_LR:.0e} fine-tuning, {SCRATCH_LR:.0e} from scratch)")
    opt.add_argument("--lr-min", type=float, default=None,
                     help=f"final learning rate of the cosine (default lr x {LR_FLOOR_RATIO:g})")
    opt.add_argument("--warmup", type=int, default=None,
                     help=f"warm-up steps (default {WARMUP_STEPS}, at most {WARMUP_MAX_SHARE:g} of --steps)")
    opt.add_argument("--weight-decay", type=float, default=None,
                     help=f"AdamW weight decay (default {d['weight_decay']:g})")
    opt.add_argument("--clip", type=float, default=None, help=f"gradient norm clipping (default {d['clip']:g})")
    opt.add_argument("--precision", default=None,
                     help=f"{', '.join(DTYPES)} (default {d['precision']}: bfloat16 where the CPU/GPU has it; "
                          "float16 on older GPUs)")
    opt.add_argument("--seed", type=int, default=None,
                     help=f"seed of the data order, augmentation and init (default {d['seed']})")
    run = parser.add_argument_group("run")
    run.add_argument("--checkpoint-every", type=int, default=None,
                     help=f"steps between checkpoints (default {d['checkpoint_every']})")
    run.add_argument("--log-every", type=int, default=None,
                     help=f"steps between progress lines (default {d['log_every']})")
    run.add_argument("--val-every", type=int, default=None,
                     help=f"steps between validations (default {d['val_every']})")
    run.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    run.add_argument("--device", default=DEVICES[0],
                     help=f"{', '.join(DEVICES)} (default {DEVICES[0]}; under torchrun each process takes GPU "
                          "LOCAL_RANK)")
    run.add_argument("--model-dir", type=Path, default=None,
                     help="where fetched models are cached (default $RIFE_LIVE_MODEL_DIR or ~/.cache/rife-live/models)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def train_main(argv: Sequence[str] | None = None) -> int:
    args = _train_parser().parse_args(argv)

    def run() -> int:
        from rife_live.train.config import RunOptions, TrainConfig
        from rife_live.train.loop import train

        given = {name: getattr(args, name) for name in TRAIN_SETTINGS if getattr(args, name) is not None}
        if "videos" in given:
            given["videos"] = tuple(p.expanduser().absolute() for p in given["videos"])
        if "vimeo" in given:
            given["vimeo"] = given["vimeo"].expanduser().absolute()
        if args.resume and given:
            flags = ", ".join("--" + ("from-videos" if k == "videos" else "gap" if k == "gaps"
                                      else "no-augment" if k == "augment" else k.replace("_", "-")) for k in given)
            raise ConfigError(f"--resume continues the run with its saved settings; leave out {flags}")
        options = RunOptions(output=args.output.expanduser(), resume=args.resume, replace=args.yes,
                             device=args.device, workers=args.workers, model_dir=args.model_dir,
                             progress=sys.stderr.isatty())
        result = train(None if args.resume else TrainConfig(**given), options, _log("rife-train"))
        # another process of a distributed run may have been the one stopped (torchrun sends SIGTERM)
        stopped = exit_code_for(result.signum if result.signum is not None else signal.SIGTERM)
        if not result.main:
            return stopped if result.interrupted else 0
        where = result.output
        if result.interrupted:
            print(f"rife-train: interrupted at step {result.step} of {result.total_steps}: checkpoint saved "
                  f"in {where} (continue with: rife-train --resume -o {where})", file=sys.stderr)
            return stopped
        quality = "" if result.val_psnr is None else (
            f"; held-back PSNR {result.val_psnr:.2f} dB (50/50 blend {result.blend_psnr:.2f} dB)")
        print(f"rife-train: done: step {result.step} of {result.total_steps}, {result.step - result.start_step} "
              f"steps in {result.seconds:.0f} s ({result.samples_per_s:.2f} samples/s){quality}; "
              f"weights in {where / 'flownet.pkl'} (use --model {where})", file=sys.stderr)
        return 0

    return _guard("rife-train", run)
