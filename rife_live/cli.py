"""Command lines: argv -> config -> a run. The only module that parses arguments.

Entry points: ``rife-play`` (the live player; with -o/--png an export),
``rife-interp`` (frames between two images) and ``rife-eval`` (quality on datasets and videos).
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
    _engine_arguments(parser, defaults=True)
    return parser


def interp_main(argv: Sequence[str] | None = None) -> int:
    args = _interp_parser().parse_args(argv)

    def run() -> int:
        from rife_live.config import parse_flag
        from rife_live.imagepair import PairJob, run_pair
        from rife_live.models.engine import EngineConfig

        if len(args.images) not in (0, 2):
            raise ConfigError(f"give two images (IMG0 IMG1), or none for the demo pair; got {len(args.images)}")
        img0, img1 = (args.images if args.images else (None, None))
        job = PairJob(img0=img0, img1=img1, exp=parse_flag("exp", args.exp), ratio=args.ratio,
                      scale=parse_flag("scale", args.scale, allow_auto=False), method=args.method,
                      out_dir=args.output, bit_depth=args.bit_depth, gif=args.gif, video=args.video, fps=args.fps,
                      overwrite=args.yes, engine=EngineConfig(device=args.device, dtype=args.dtype, model=args.model,
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
    _yes_argument(parser)
    rates = parser.add_argument_group("rate and quality")
    rates.add_argument("--target-fps", default=None,
                       help="output frame rate, e.g. 60 or 60000/1001; 'display' (player): the monitor's refresh rate")
    rates.add_argument("--multi", default=None, help="output rate = N x the source rate")
    rates.add_argument("--exp", default=None, help="output rate = 2^E x the source rate")
    rates.add_argument("--fps", default=None,
                       help="export: write the output at this rate instead (slow motion; audio is dropped)")
    rates.add_argument("--scale", default=None,
                       help="flow scale 0.25, 0.5, 1, 2, 4 or auto (default auto: 1 up to 1080p, 0.5 above)")
    rates.add_argument("--montage", action="store_const", const=True, default=None,
                       help="source on the left, interpolated on the right (labelled)")
    rates.add_argument("--start", default=None, help="start at this source time (seconds or [h:]m:s)")
    rates.add_argument("--end", default=None, help="stop at this source time")
    rates.add_argument("--no-audio", action="store_const", const=True, default=None, help="leave the audio out")
    rates.add_argument("--mf-fps", default=None, help="frame rate of an image-folder input (default 25)")
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
    enc = parser.add_argument_group("encoding (with -o/--png)")
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
                "no_audio", "mf_fps", "vcodec", "crf", "stats_json", "rtsp_transport", "network_timeout", "model",
                "model_dir", "device", "dtype", "fullscreen", "volume", "mute", "loop", "no_interp", "vo", "ao",
                "input_conf")
# Flags that work in one mode only: given in the other, they are refused (never accepted and ignored).
PLAYBACK_ONLY = {"fullscreen": "--fs", "volume": "--volume", "mute": "--mute", "loop": "--loop",
                 "no_interp": "--no-interp", "vo": "--vo", "ao": "--ao", "input_conf": "--input-conf",
                 "screenshot_dir": "--screenshot-dir"}
EXPORT_ONLY = {"fps": "--fps", "vcodec": "--vcodec", "crf": "--crf"}
# Flags that apply to one kind of input (``source.classify``): given for another, they are refused.
INPUT_KIND_ONLY = {"mf_fps": ("--mf-fps", ("images",), "an image-folder input"),
                   "rtsp_transport": ("--rtsp-transport", ("network",), "an rtsp:// input"),
                   "network_timeout": ("--network-timeout", ("network",), "a URL input")}


def _refuse_unused(args: argparse.Namespace, exporting: bool) -> None:
    """One line for a flag that would do nothing in this mode or for this input."""
    for name, flag in (PLAYBACK_ONLY if exporting else EXPORT_ONLY).items():
        if getattr(args, name) is not None:
            mode = "playback (no -o/--png)" if exporting else "an export (-o/--png)"
            raise ConfigError(f"{flag} applies to {mode} only")
    if args.input is None:
        return
    from rife_live.pipeline.source import classify

    kind = classify(args.input)
    for name, (flag, kinds, what) in INPUT_KIND_ONLY.items():
        applies = kind in kinds and (name != "rtsp_transport" or args.input.lower().startswith(("rtsp", "rtsps")))
        if getattr(args, name) is not None and not applies:
            raise ConfigError(f"{flag} applies to {what} only, not to {args.input}")


def play_main(argv: Sequence[str] | None = None) -> int:
    args = _play_parser().parse_args(argv)

    def run() -> int:
        from rife_live.config import load_config
        from rife_live.player import check_outputs, export, rate_line

        flags = {name.replace("_", "-"): getattr(args, name) for name in CONFIG_FLAGS}
        config = load_config(args.config, flags)
        if config.output.path is not None and config.output.png_dir is not None:
            raise ConfigError("give either -o/--output or --png, not both")
        exporting = config.output.path is not None or config.output.png_dir is not None
        _refuse_unused(args, exporting)
        check_outputs(config, args.input, args.yes, args.screenshot_dir)
        if not exporting:
            return _play_live(config, args.input, args.screenshot_dir)
        if args.input is None:
            raise ConfigError("no input given: name a video file, an image folder or a URL")
        result = export(config, args.input, log=_log("rife-play"), progress=sys.stderr.isatty(), overwrite=args.yes)
        where = config.output.png_dir or config.output.path
        written = f"wrote {result.frames} frames at {rate_line(result.rate, config.video.fps)} to {where}"
        if result.interrupted is not None:
            signum = signal_of(result.interrupted)
            print(f"rife-play: interrupted ({signal_name(signum)}): {written} (finalized)", file=sys.stderr)
            return exit_code_for(signum)
        print(f"rife-play: {written}", file=sys.stderr)
        return 0

    return _guard("rife-play", run)


def _play_live(config, target: str | None, screenshot_dir: Path | None) -> int:
    """The live player: a window (or --vo null) until quit, the end, or a stop signal."""
    from rife_live.live import LiveSession

    session = LiveSession(config, target, log=_log("rife-play"), screenshot_dir=screenshot_dir)
    result = session.run()
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
    parser.add_argument("--scale", type=float, default=1.0, help="flow scale (default 1)")
    parser.add_argument("--limit", type=int, default=None, help="evaluate the first N items only")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON")
    parser.add_argument("--csv", type=Path, default=None, help="write per-item rows as CSV")
    _yes_argument(parser)
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
                              json_path=args.json, csv_path=args.csv, overwrite=args.yes)
        run_eval(options, sys.stdout, _log("rife-eval"))
        return 0

    return _guard("rife-eval", run)
