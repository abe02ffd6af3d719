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
from rife_live.config import EXPORT, OPTIONS, PLAYBACK, SECTIONS, option_label, parse_flag
from rife_live.errors import ConfigError, RifeError
from rife_live.models.settings import EngineConfig
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
