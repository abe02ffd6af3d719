"""The options of ``rife-play``: sections of declared options, TOML loading, merging, validation.

Merge order, later wins: the declared defaults < ``~/.config/rife-live/rife-live.toml`` (or
``$XDG_CONFIG_HOME/rife-live/rife-live.toml``) < ``--config FILE`` < command-line flags.

Each section is an option record (``options.option`` fields carry the parser, the help and the
flag): ``[video]`` and ``[player]`` and ``[output]`` are declared here, ``[input]`` is
``pipeline.source.SourceOptions``, ``[engine]`` is ``models.settings.EngineConfig`` and
``[scenes]`` is ``pipeline.scenes.SceneConfig``. ``configs/default.toml`` lists every key with its
default. TOML keys are spelled like the flags (``target-fps``; ``target_fps`` is accepted too).
The command line (``cli.py``) passes the flags it was given as a flat mapping of field names
``{"target_fps": "60", "no_audio": True}``; ``None`` means "not given". Field names are unique
across sections.

``target-fps``, ``multi`` and ``exp`` choose the output rate together: a layer that sets one of
them replaces the others set by a lower layer, and one layer may not set two.

Every bad value raises ``ConfigError`` with one line naming where it came from (the flag, or the
file and key) and what is allowed.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

from rife_live.audio.volume import VOLUME_RANGE
from rife_live.color import DEFAULT_TONE_CURVE, TONE_CURVES
from rife_live.errors import ConfigError
from rife_live.models.settings import FLOW_SCALES, EngineConfig
from rife_live.options import (OptionSpec, boolean, check_fields, choice, flag_spellings, in_range, int_choice,
                               integer, number, number_choice, option, option_fields, parse_rate, parse_time, file_path,
                               rate_or_word, text)
from rife_live.pipeline.scenes import SceneConfig
from rife_live.pipeline.source import InputKind, SourceOptions
from rife_live.sinks.base import PNG_BIT_DEPTHS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

APP_DIR = "rife-live"
USER_CONFIG_NAME = "rife-live.toml"

DISPLAY_RATE = "display"  # target-fps = the display's refresh rate (live player)
AUTO = "auto"
EXP_RANGE = (1, 8)  # --exp E: 2**E x the rate (rife-play) or 2**E + 1 frames (rife-interp); one range for both
MULTI_RANGE = (1, 2 ** EXP_RANGE[1])  # the same ceiling as exp
CRF_RANGE = (0, 63)  # x264/x265 use 0-51, VP9/AV1 0-63; the encoder checks its own range
READAHEAD_S = 2.0  # files: interpolation runs this far ahead of the picture (mpv's readahead idea)
READAHEAD_RANGE = (0.1, 60.0)
READAHEAD_MAX_MIB = 768  # ... within this much memory (1080p: 2 s at 60 fps; 4K: 0.5 s)
READAHEAD_MIB_RANGE = (1, 65536)
LIVE_LATENCY_S = 0.4  # live sources: the picture runs this far behind the source
LIVE_LATENCY_RANGE = (0.05, 10.0)
FILE_INPUTS = (InputKind.FILE, InputKind.IMAGES, InputKind.NETWORK)  # read as files (http(s) with a duration too)
LIVE_INPUTS = (InputKind.NETWORK, InputKind.WEBCAM, InputKind.LAVFI)  # may be live
RATE_GROUP = ("target_fps", "multi", "exp")
PLAYBACK, EXPORT = "playback", "export"


def _video_outputs() -> tuple[str, ...]:
    from rife_live.present import VIDEO_OUTPUTS  # the vo table is the list of names (imported when checked)

    return tuple(VIDEO_OUTPUTS)


def _audio_outputs() -> tuple[str, ...]:
    from rife_live.audio.output import AO_CHOICES

    return AO_CHOICES


def _lazy_choice(names: Any) -> Any:
    def check(value: object) -> str:
        return choice(names())(value)
    return check


# -- sections declared here ------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoOptions:
    """``[video]``: the output timeline and how frames are made."""

    target_fps: Fraction | str | None = option(
        None, rate_or_word((DISPLAY_RATE,)), "output frame rate, e.g. 60 or 60000/1001; 'display' (playback): the "
        "monitor's refresh rate", metavar="FPS")
    multi: int | None = option(None, in_range(integer, *MULTI_RANGE), "output rate = N x the source rate", metavar="N")
    exp: int | None = option(None, in_range(integer, *EXP_RANGE), "output rate = 2^E x the source rate (E 1-8)",
                             metavar="E")
    fps: Fraction | None = option(None, parse_rate, "write the output at this rate instead (slow motion; audio is "
                                  "dropped)", mode=EXPORT, metavar="FPS")
    scale: float | str = option(AUTO, number_choice(FLOW_SCALES, (AUTO,)), "flow scale 0.25, 0.5, 1, 2, 4 or auto "
                                "(default auto: 1 up to 1080p, 0.5 above; playback: adapts to keep up)")
    montage: bool = option(False, boolean, "source on the left, interpolated on the right (labelled)", switch=True)
    start: Fraction | None = option(None, parse_time, "start at this source time (seconds or [h:]m:s)", metavar="TIME")
    end: Fraction | None = option(None, parse_time, "stop at this source time", metavar="TIME")
    no_audio: bool = option(False, boolean, "leave the audio out", switch=True)
    tone_mapping: str = option(DEFAULT_TONE_CURVE, choice(TONE_CURVES), "how HDR is shown on SDR (the window, an "
                               "8-bit export): bt.2390 (default), hable or clip, as mpv's --tone-mapping",
                               metavar="CURVE")

    def __post_init__(self) -> None:
        check_fields(self, option_label)


@dataclass(frozen=True)
class PlayerOptions:
    """``[player]``: the live player (``rife-play`` without an output)."""

    fullscreen: bool = option(False, boolean, "start fullscreen", flags=("--fs",), switch=True, mode=PLAYBACK)
    volume: float = option(VOLUME_RANGE[1], in_range(number, *VOLUME_RANGE), "volume in percent, 0-100 (default 100)",
                           mode=PLAYBACK, metavar="PERCENT")
    mute: bool = option(False, boolean, "start muted", switch=True, mode=PLAYBACK)
    loop: bool = option(False, boolean, "start again at the end", switch=True, mode=PLAYBACK)
    no_interp: bool = option(False, boolean, "start with interpolation off (Ctrl+i toggles it)", switch=True,
                             mode=PLAYBACK)
    vo: str = option("gpu", _lazy_choice(_video_outputs), "video output: gpu (a window, default) or null (no window)",
                     mode=PLAYBACK)
    ao: str = option("auto", _lazy_choice(_audio_outputs), "audio output: auto (default) or null (silent, "
                     "real-time)", mode=PLAYBACK)
    input_conf: Path | None = option(None, file_path, "key bindings file (mpv input.conf syntax; default "
                                     "~/.config/rife-live/input.conf)", mode=PLAYBACK, metavar="FILE")
    screenshot_dir: Path | None = option(None, file_path, "where screenshots go (default: here)", mode=PLAYBACK,
                                         metavar="DIR")
    readahead_secs: float = option(READAHEAD_S, in_range(number, *READAHEAD_RANGE),
                                   "playback of a file: how far (seconds of output) interpolation runs ahead of the "
                                   "picture (default 2)", mode=PLAYBACK, inputs=FILE_INPUTS, metavar="SECONDS")
    readahead_max_mib: int = option(READAHEAD_MAX_MIB, in_range(integer, *READAHEAD_MIB_RANGE),
                                    "the most memory the read-ahead may hold, MiB (default 768)", mode=PLAYBACK,
                                    metavar="MIB")
    live_latency: float = option(LIVE_LATENCY_S, in_range(number, *LIVE_LATENCY_RANGE),
                                 "playback of a live source: how far the picture runs behind it, seconds; more "
                                 "delay, smoother motion (default 0.4)", mode=PLAYBACK, inputs=LIVE_INPUTS,
                                 metavar="SECONDS")

    def __post_init__(self) -> None:
        check_fields(self, option_label)


@dataclass(frozen=True)
class OutputOptions:
    """``[output]``: what an export writes (``-o``/``--png``) and the run's statistics."""

    path: Path | None = option(None, file_path, "render to this video file (.mkv, .mp4, .mov, .webm) instead of playing",
                               flags=("-o", "--output"), metavar="FILE")
    png_dir: Path | None = option(None, file_path, "render to a folder of PNG frames", flags=("--png",), metavar="DIR")
    vcodec: str | None = option(None, text, "video encoder (default libx264; libvpx-vp9 for .webm)", mode=EXPORT)
    crf: int | None = option(None, in_range(integer, *CRF_RANGE), "encoder quality (default 18 for x264)",
                             mode=EXPORT)
    pix_fmt: str | None = option(None, text, "pixel format of -o (default yuv420p; yuv420p10le for 10-bit and HDR "
                                 "sources); an 8-bit one from an HDR source is tone-mapped to SDR", mode=EXPORT,
                                 metavar="FMT")
    bit_depth: int | None = option(None, int_choice(PNG_BIT_DEPTHS), "bits per channel of --png frames: 8 (default; "
                                   "HDR is tone-mapped) or 16 (keeps a 10-bit source's precision)", mode=EXPORT,
                                   metavar="BITS")
    stats_json: Path | None = option(None, file_path, "write run statistics to this JSON file", metavar="FILE")

    def __post_init__(self) -> None:
        check_fields(self, option_label)


@dataclass(frozen=True)
class Config:
    video: VideoOptions = field(default_factory=VideoOptions)
    input: SourceOptions = field(default_factory=SourceOptions)
    engine: EngineConfig = field(default_factory=EngineConfig)
    scenes: SceneConfig = field(default_factory=SceneConfig)
    player: PlayerOptions = field(default_factory=PlayerOptions)
    output: OutputOptions = field(default_factory=OutputOptions)


SECTIONS: Mapping[str, type] = {f.name: f.default_factory for f in fields(Config)}  # type: ignore[misc]
# field name -> (section, spec); names are unique across sections
OPTIONS: Mapping[str, tuple[str, OptionSpec]] = {
    f.name: (section, spec) for section, record in SECTIONS.items() for f, spec in option_fields(record)}


def option_label(name: str) -> str:
    """How messages name an option: its long flag (``--fs``, ``--output``), else ``[section] key``."""
    section, spec = OPTIONS[name]
    spellings = flag_spellings(name, spec)
    if spellings:
        return spellings[-1]
    return f"[{section}] {name.replace('_', '-')}"


def parse_flag(name: str, value: object, *, allow_auto: bool = True) -> Any:
    """One option's value checked as the config checks it, for commands that take it outside a
    ``Config`` (``rife-interp --exp/--scale``); ConfigError names the flag."""
    if not allow_auto and isinstance(value, str) and value.strip().lower() == AUTO:
        raise ConfigError(f"{option_label(name)}: {AUTO} is for playback and export (rife-play); give a number")
    try:
        return OPTIONS[name][1].parse(value)
    except ValueError as exc:
        raise ConfigError(f"{option_label(name)}: {exc}") from None


# -- merging ----------------------------------------------------------------------------------
def _suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _apply(config: Config, items: list[tuple[str, str, object, str]]) -> Config:
    """Set (section, field, raw value, where) items; ``where`` prefixes error messages."""
    by_section: dict[str, dict[str, Any]] = {}
    rate_keys = [(name, where) for _, name, _, where in items if name in RATE_GROUP]
    if len(rate_keys) > 1:
        (first, where1), (second, _) = rate_keys[0], rate_keys[1]
        raise ConfigError(f"{where1}: {first.replace('_', '-')} and {second.replace('_', '-')} both set "
                          "the output rate; give one of target-fps, multi, exp")
    for section, name, raw, where in items:
        try:
            value = OPTIONS[name][1].parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        by_section.setdefault(section, {})[name] = value
    if rate_keys:
        video = by_section.setdefault("video", {})
        for name in RATE_GROUP:
            video.setdefault(name, None)
    changes = {section: replace(getattr(config, section), **values) for section, values in by_section.items()}
    return replace(config, **changes)


def apply_toml(config: Config, data: Mapping[str, object], source: str) -> Config:
    """Merge a parsed TOML document (``[section] key = value``) over ``config``."""
    items: list[tuple[str, str, object, str]] = []
    for section, table in data.items():
        field_name = section.replace("-", "_")
        if not isinstance(table, Mapping) and field_name in OPTIONS:
            raise ConfigError(f"{source}: '{section}' must be under a [{OPTIONS[field_name][0]}] section")
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}] (sections: {', '.join(SECTIONS)})"
                              f"{_suggest(section, list(SECTIONS))}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: '{section}' must be a section ([{section}]), not a value")
        known = [f.name for f, _ in option_fields(SECTIONS[section])]
        seen: set[str] = set()
        for key, value in table.items():
            name = key.replace("-", "_")
            if name not in known:
                spelled = [k.replace("_", "-") for k in known]
                raise ConfigError(f"{source}: unknown key [{section}] {key} (known: {', '.join(spelled)})"
                                  f"{_suggest(key.replace('_', '-'), spelled)}")
            if name in seen:
                raise ConfigError(f"{source}: [{section}] {key} is set twice (as - and _ spellings)")
            seen.add(name)
            items.append((section, name, value, f"{source}: [{section}] {name.replace('_', '-')}"))
    return _apply(config, items)


def apply_flags(config: Config, flags: Mapping[str, object]) -> Config:
    """Merge command-line flags ``{"target_fps": "60", ...}`` (field names; ``None``: not given)."""
    items: list[tuple[str, str, object, str]] = []
    for key, value in flags.items():
        if value is None:
            continue
        name = key.lstrip("-").replace("-", "_")
        if name not in OPTIONS or not flag_spellings(name, OPTIONS[name][1]):
            known = [option_label(n) for n, (_, spec) in OPTIONS.items() if flag_spellings(n, spec)]
            raise ConfigError(f"unknown option --{key.lstrip('-')}{_suggest('--' + key.lstrip('-'), known)}")
        items.append((OPTIONS[name][0], name, value, option_label(name)))
    return _apply(config, items)


def validate(config: Config) -> Config:
    """Checks that involve more than one option; returns ``config`` unchanged when it passes."""
    video = config.video
    if video.start is not None and video.end is not None and video.end <= video.start:
        raise ConfigError(f"--end ({float(video.end):g} s) must be after --start ({float(video.start):g} s)")
    set_rates = [name for name in RATE_GROUP if getattr(video, name) is not None]
    if len(set_rates) > 1:  # only reachable when records are built by hand
        raise ConfigError(f"{', '.join(option_label(n) for n in set_rates)}: give only one output rate")
    if config.output.path is not None and config.output.png_dir is not None:
        raise ConfigError("give either -o/--output or --png, not both")
    if config.output.pix_fmt is not None and config.output.png_dir is not None:
        raise ConfigError(f"{option_label('pix_fmt')} applies to -o only (PNG frames are RGB: see --bit-depth)")
    if config.output.bit_depth is not None and config.output.path is not None:
        raise ConfigError(f"{option_label('bit_depth')} applies to --png only (for -o see --pix-fmt)")
    return config


def exporting(config: Config) -> bool:
    """Whether the options ask for an export (``-o`` or ``--png``) rather than playback."""
    return config.output.path is not None or config.output.png_dir is not None


# -- files ------------------------------------------------------------------------------------
def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/rife-live/rife-live.toml``, or ``~/.config/rife-live/rife-live.toml``."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / APP_DIR / USER_CONFIG_NAME


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file is a one-line ConfigError."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None


def load_config(config_file: str | os.PathLike[str] | None = None, flags: Mapping[str, object] | None = None,
                *, user_config: Union[str, os.PathLike[str], None, bool] = True) -> Config:
    """Defaults < the user's config (``user_config``: True for ``user_config_path()`` when it
    exists, a path, or False/None to skip it) < ``config_file`` (must exist) < ``flags``."""
    config = Config()
    if user_config is True:
        user = user_config_path()
        if user.is_file():
            config = apply_toml(config, read_toml(user), str(user))
    elif user_config:
        config = apply_toml(config, read_toml(user_config), str(user_config))
    if config_file is not None:
        config = apply_toml(config, read_toml(config_file), str(config_file))
    if flags:
        config = apply_flags(config, flags)
    return validate(config)
