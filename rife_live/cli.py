"""Command lines: argv -> config -> a run. The only module that parses arguments.

Entry points: ``rife-play`` (the live player; with -o/--png an export),
``rife-interp`` (frames between two images), ``rife-eval`` (quality on datasets and videos) and
``rife-train`` (train or fine-tune the network).
Every user error ends with one line ``PROG: error: ...`` and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Callable, NoReturn, Sequence

from rife_live import __version__
from rife_live.errors import ConfigError, RifeError

EXIT_INTERRUPTED = 130
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
    """Run a command; turn every failure into one line and an exit code."""
    _log_to_stderr(prog)
    try:
        return run()
    except RifeError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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


def _engine_arguments(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--model/--model-dir/--device/--dtype; ``defaults`` False leaves them None (config merge)."""
    group = parser.add_argument_group("model and device")
    group.add_argument("--model", default=None,
                       help="model name (rife-hd-v3, the default) or path to your own flownet.pkl / train_log folder")
    group.add_argument("--model-dir", type=Path, default=None,
                       help="where fetched models are cached (default $RIFE_LIVE_MODEL_DIR or ~/.cache/rife-live/models)")
    group.add_argument("--device", default="auto" if defaults else None, help="auto, cpu or cuda (default auto)")
    group.add_argument("--dtype", default="auto" if defaults else None,
                       help="auto, float32, bfloat16 or float16 (default auto: bfloat16 on CPUs that have it, "
                            "float16 on CUDA, else float32)")


# -- rife-interp ----------------------------------------------------------------------------
def _interp_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rife-interp",
        description="Make the frames between two images with RIFE. Without images, runs on a built-in demo pair.",
    )
    parser.add_argument("images", nargs="*", type=Path, metavar="IMG", help="IMG0 IMG1 (PNG or JPEG, same size)")
    parser.add_argument("--exp", type=int, default=4, help="write 2^EXP+1 frames img0.png..imgN.png (default 4)")
    parser.add_argument("--ratio", type=float, default=None, help="write only the frame at time RATIO in [0, 1]")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="flow scale 0.25, 0.5, 1, 2 or 4 (smaller: faster, for large motion/4K; default 1)")
    parser.add_argument("--method", default="flow",
                        help="flow: one network pass, flow scaled for each t (default); "
                             "bisect: the network at t=1/2, recursively (2^EXP-1 passes)")
    parser.add_argument("-o", "--output", type=Path, default=Path("output"), help="output folder (default output/)")
    parser.add_argument("--bit-depth", type=int, default=8, help="PNG bit depth, 8 or 16 (default 8)")
    parser.add_argument("--gif", type=Path, default=None, help="also write the sequence as an animated GIF")
    parser.add_argument("--video", type=Path, default=None, help="also write the sequence as a video (mp4, mkv, ...)")
    parser.add_argument("--fps", type=_fraction, default=Fraction(12), help="rate of --gif/--video (default 12)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _engine_arguments(parser, defaults=True)
    return parser


def interp_main(argv: Sequence[str] | None = None) -> int:
    args = _interp_parser().parse_args(argv)

    def run() -> int:
        from rife_live.imagepair import PairJob, run_pair
        from rife_live.models.engine import EngineConfig

        if len(args.images) not in (0, 2):
            raise ConfigError(f"give two images (IMG0 IMG1), or none for the demo pair; got {len(args.images)}")
        img0, img1 = (args.images if args.images else (None, None))
        job = PairJob(img0=img0, img1=img1, exp=args.exp, ratio=args.ratio, scale=args.scale, method=args.method,
                      out_dir=args.output, bit_depth=args.bit_depth, gif=args.gif, video=args.video, fps=args.fps,
                      engine=EngineConfig(device=args.device, dtype=args.dtype, model=args.model,
                                          model_dir=args.model_dir))
        run_pair(job, _log("rife-interp"))
        return 0

    return _guard("rife-interp", run)


# -- rife-play ------------------------------------------------------------------------------
def _play_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rife-play",
        description="Play a video with its frame rate raised live by RIFE (no input: a demo clip). "
                    "With -o/--png, render to a file or PNG folder instead.",
        epilog="Rate options (one of): --target-fps, --multi, --exp; default twice the source rate.",
    )
    parser.add_argument("input", nargs="?", default=None,
                        help="a video file, an image folder, or a URL (rtsp://, udp://, http(s)://)")
    parser.add_argument("-o", "--output", dest="path", type=Path, default=None,
                        help="render to this video file (.mkv, .mp4, .mov, .webm) instead of playing")
    parser.add_argument("--png", dest="png_dir", type=Path, default=None, help="render to a folder of PNG frames")
    rates = parser.add_argument_group("rate and quality")
    rates.add_argument("--target-fps", default=None,
                       help="output frame rate, e.g. 60 or 60000/1001; 'display' (player): the monitor's refresh rate")
    rates.add_argument("--multi", default=None, help="output rate = N x the source rate")
    rates.add_argument("--exp", default=None, help="output rate = 2^E x the source rate")
    rates.add_argument("--fps", default=None,
                       help="write the output at this rate instead (slow motion; audio is dropped)")
    rates.add_argument("--scale", default=None,
                       help="flow scale 0.25, 0.5, 1, 2, 4 or auto (default auto: 1 up to 1080p, 0.5 above)")
    rates.add_argument("--montage", action="store_const", const=True, default=None,
                       help="source on the left, interpolated on the right")
    rates.add_argument("--start", default=None, help="start at this source time (seconds or [h:]m:s)")
    rates.add_argument("--end", default=None, help="stop at this source time")
    rates.add_argument("--no-audio", action="store_const", const=True, default=None, help="leave the audio out")
    live = parser.add_argument_group("playback (without -o/--png)")
    live.add_argument("--fs", dest="fullscreen", action="store_const", const=True, default=None, help="start fullscreen")
    live.add_argument("--volume", default=None, help="volume in percent, 0-100 (default 100)")
    live.add_argument("--mute", action="store_const", const=True, default=None, help="start muted")
    live.add_argument("--loop", action="store_const", const=True, default=None, help="start again at the end")
    live.add_argument("--no-interp", action="store_const", const=True, default=None,
                      help="start with interpolation off (Ctrl+i toggles it)")
    live.add_argument("--vo", default=None, help="video output: gpu (a window, default) or null (no window)")
    live.add_argument("--ao", default=None, help="audio output: auto (default) or null (silent, real-time)")
    live.add_argument("--input-conf", default=None, help="key bindings file (mpv input.conf syntax)")
    live.add_argument("--screenshot-dir", type=Path, default=None, help="where screenshots go (default: here)")
    enc = parser.add_argument_group("encoding")
    enc.add_argument("--vcodec", default=None, help="video encoder (default libx264; libvpx-vp9 for .webm)")
    enc.add_argument("--crf", default=None, help="encoder quality (default 18 for x264)")
    enc.add_argument("--stats-json", default=None, help="write run statistics to this JSON file")
    other = parser.add_argument_group("other")
    other.add_argument("--config", type=Path, default=None,
                       help="TOML config file (over ~/.config/rife-live/rife-live.toml, under flags)")
    other.add_argument("--rtsp-transport", default=None, help="tcp (default) or udp, for rtsp:// inputs")
    other.add_argument("--network-timeout", default=None,
                       help="seconds before opening or reading a URL gives up (default 10); live inputs then reconnect")
    other.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _engine_arguments(parser, defaults=False)
    return parser


CONFIG_FLAGS = ("path", "png_dir", "target_fps", "multi", "exp", "fps", "scale", "montage", "start", "end",
                "no_audio", "vcodec", "crf", "stats_json", "rtsp_transport", "network_timeout", "model", "model_dir", "device", "dtype",
                "fullscreen", "volume", "mute", "loop", "no_interp", "vo", "ao", "input_conf")


def play_main(argv: Sequence[str] | None = None) -> int:
    args = _play_parser().parse_args(argv)

    def run() -> int:
        from rife_live.config import load_config
        from rife_live.player import export

        flags = {name.replace("_", "-"): getattr(args, name) for name in CONFIG_FLAGS}
        config = load_config(args.config, flags)
        if config.output.path is not None and config.output.png_dir is not None:
            raise ConfigError("give either -o/--output or --png, not both")
        if config.output.path is None and config.output.png_dir is None:
            return _play_live(config, args.input, args.screenshot_dir)
        if args.input is None:
            raise ConfigError("no input given: name a video file, an image folder or a URL")
        result = export(config, args.input, log=_log("rife-play"), progress=sys.stderr.isatty())
        where = config.output.png_dir or config.output.path
        if result.interrupted:
            print(f"rife-play: interrupted: wrote {result.frames} frames to {where} (finalized)", file=sys.stderr)
            return EXIT_INTERRUPTED
        written_at = config.video.fps or result.rate  # --fps (slow motion) writes the frames at that rate
        print(f"rife-play: wrote {result.frames} frames at {float(written_at):g} fps to {where}", file=sys.stderr)
        return 0

    return _guard("rife-play", run)


def _play_live(config, target: str | None, screenshot_dir: Path | None) -> int:
    """The live player: a window (or --vo null) until quit, the end, or Ctrl+C."""
    from rife_live.live import LiveSession

    session = LiveSession(config, target, log=_log("rife-play"), screenshot_dir=screenshot_dir)
    result = session.run()
    if result.interrupted:
        print("rife-play: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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
    parser.add_argument("--scale", type=float, default=1.0, help="flow scale (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N items only")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON")
    parser.add_argument("--csv", type=Path, default=None, help="write per-item rows as CSV")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _engine_arguments(parser, defaults=True)
    return parser


def eval_main(argv: Sequence[str] | None = None) -> int:
    args = _eval_parser().parse_args(argv)

    def run() -> int:
        from rife_live.evaluate.runner import EvalOptions, run_eval

        methods = tuple(m.strip() for m in args.method.split(",") if m.strip())
        options = EvalOptions(protocol=args.protocol, path=args.path, factor=args.factor, methods=methods,
                              arbitrary_t=args.arbitrary_t, scale=args.scale, model=args.model,
                              model_dir=args.model_dir, device=args.device, dtype=args.dtype, limit=args.limit,
                              json_path=args.json, csv_path=args.csv)
        run_eval(options, sys.stdout)
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


def _train_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="rife-train",
        description="Train or fine-tune the RIFE network on Vimeo90K triplets or your own videos. Runs as one "
                    "process, or under torchrun on several GPUs or machines: torchrun --nproc-per-node 4 "
                    "-m rife_live.train ARGS (the same arguments).",
        epilog="Fine-tune (default): --init rife-hd-v3, peak lr 2e-05. From scratch: --init scratch, "
               "peak lr 3e-04 (the paper). See docs/train.md.",
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
                      help="videos: frames i and i+2G predict i+G; comma-separated for several (default 1: "
                           "i, i+2 -> i+1; larger gaps: larger motion)")
    data.add_argument("--stride", type=int, default=None, help="videos: a triplet starts every N frames (default 1)")
    data.add_argument("--crop", type=int, default=None, help="random square crop side, a multiple of 32 (default 224)")
    data.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                      help="crops only: no flips, channel reversal, input swap or rotations")
    data.add_argument("--val-split", type=float, default=None,
                      help="fraction held back for validation (default 0.05; videos: the end of each)")
    data.add_argument("--val-items", type=int, default=None, help="held-back triplets scored (default 32)")
    opt = parser.add_argument_group("training")
    opt.add_argument("--init", default=None,
                     help="start from: rife-hd-v3 (the published weights, default), a flownet.pkl / run folder, "
                          "or scratch")
    opt.add_argument("--steps", type=int, default=None, help="optimizer steps (default 1000)")
    opt.add_argument("--batch", type=int, default=None,
                     help="global batch, split over the processes (default 16; the paper: 64 on 4 GPUs)")
    opt.add_argument("--lr", type=float, default=None,
                     help="peak learning rate (default 2e-05 fine-tuning, 3e-04 from scratch)")
    opt.add_argument("--lr-min", type=float, default=None, help="final learning rate of the cosine (default lr/100)")
    opt.add_argument("--warmup", type=int, default=None,
                     help="warm-up steps (default 2000, at most a tenth of --steps)")
    opt.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay (default 1e-4)")
    opt.add_argument("--clip", type=float, default=None, help="gradient norm clipping (default 1.0)")
    opt.add_argument("--precision", default=None,
                     help="auto, float32, bfloat16 or float16 (default auto: bfloat16 where the CPU/GPU has it; "
                          "float16 on older GPUs)")
    opt.add_argument("--seed", type=int, default=None, help="seed of the data order, augmentation and init (default 0)")
    run = parser.add_argument_group("run")
    run.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default 500)")
    run.add_argument("--log-every", type=int, default=None, help="steps between progress lines (default 10)")
    run.add_argument("--val-every", type=int, default=None, help="steps between validations (default 250)")
    run.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    run.add_argument("--device", default="auto",
                     help="auto, cpu or cuda (default auto; under torchrun each process takes GPU LOCAL_RANK)")
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
        if not result.main:
            return EXIT_INTERRUPTED if result.interrupted else 0
        where = result.output
        if result.interrupted:
            print(f"rife-train: interrupted at step {result.step} of {result.total_steps}: checkpoint saved "
                  f"in {where} (continue with: rife-train --resume -o {where})", file=sys.stderr)
            return EXIT_INTERRUPTED
        quality = "" if result.val_psnr is None else (
            f"; held-back PSNR {result.val_psnr:.2f} dB (50/50 blend {result.blend_psnr:.2f} dB)")
        print(f"rife-train: done: step {result.step} of {result.total_steps}, {result.step - result.start_step} "
              f"steps in {result.seconds:.0f} s ({result.samples_per_s:.2f} samples/s){quality}; "
              f"weights in {where / 'flownet.pkl'} (use --model {where})", file=sys.stderr)
        return 0

    return _guard("rife-train", run)
