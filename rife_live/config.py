"""Options of the player and the exporter: frozen dataclasses, TOML loading, merging, validation.

Merge order, later wins: the dataclass defaults < ``~/.config/rife-live/rife-live.toml`` (or
``$XDG_CONFIG_HOME/rife-live/rife-live.toml``) < ``--config FILE`` < command-line flags.

A TOML file has the sections ``[video]``, ``[engine]``, ``[scenes]``, ``[player]``, ``[output]``;
keys are spelled like the command-line flags (``target-fps``; ``target_fps`` is accepted too).
``configs/default.toml`` lists every key with its default. The command line (``cli.py``) passes the
flags it was given as a flat mapping ``{"target-fps": "60", "no-audio": True}``; values may be the
raw strings or already typed; ``None`` means "not given". Flag names are unique across sections.

``target-fps``, ``multi`` and ``exp`` choose the output rate together: a layer that sets one of
them replaces the others set by a lower layer, and one layer may not set two.

Every bad value raises ``ConfigError`` with one line naming where it came from (the flag, or the
file and key) and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Union

from rife_live.errors import ConfigError
from rife_live.pipeline.source import DEFAULT_IMAGE_FPS, RTSP_TRANSPORTS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

APP_DIR = "rife-live"
USER_CONFIG_NAME = "rife-live.toml"

# Allowed values and ranges.
DISPLAY_RATE = "display"  # target-fps = the display's refresh rate (live player)
AUTO = "auto"
SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
MAX_RATE = Fraction(1000)  # frames per second, for target-fps and fps
EXP_RANGE = (1, 8)  # --exp E: 2**E x the rate (rife-play) or 2**E + 1 frames (rife-interp); one range for both
MULTI_RANGE = (1, 2 ** EXP_RANGE[1])  # the same ceiling as exp
DEVICES = ("auto", "cpu", "cuda")  # as models/engine.py accepts
DTYPES = ("auto", "float32", "bfloat16", "float16")
VIDEO_OUTPUTS = ("gpu", "null")
AUDIO_OUTPUTS = ("auto", "null")
VOLUME_RANGE = (0.0, 100.0)
NETWORK_TIMEOUT_RANGE = (0.5, 600.0)  # seconds
CRF_RANGE = (0, 63)  # x264/x265 use 0-51, VP9/AV1 0-63; the encoder checks its own range
LUMA_RANGE = (0.0, 255.0)
SIMILARITY_RANGE = (-1.0, 1.0)
HIST_DISTANCE_RANGE = (0.0, 1.0)
SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
MAX_TIME_FIELDS = 3  # h:m:s
RATE_NAMES = {  # as FFmpeg names them
    "ntsc": Fraction(30000, 1001),
    "pal": Fraction(25),
    "film": Fraction(24),
    "ntsc-film": Fraction(24000, 1001),
}
TRUE_WORDS = ("yes", "true", "on", "1")
FALSE_WORDS = ("no", "false", "off", "0")
RATE_GROUP = ("target_fps", "multi", "exp")


# -- records ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class VideoOptions:
    target_fps: Fraction | str | None = None  # a rate, "display", or None: 2x the source (or multi/exp)
    multi: int | None = None  # output rate = multi x source rate
    exp: int | None = None  # output rate = 2**exp x source rate
    fps: Fraction | None = None  # slow motion (export): write the outputs at this rate
    scale: float | str = AUTO  # flow scale: 0.25, 0.5, 1, 2, 4, or auto (live: adaptive)
    montage: bool = False  # source and interpolated side by side
    start: Fraction | None = None  # seconds of source time
    end: Fraction | None = None
    no_audio: bool = False
    mf_fps: Fraction = DEFAULT_IMAGE_FPS  # the rate of an image-folder input (mpv's --mf-fps)


@dataclass(frozen=True)
class EngineOptions:
    model: str | None = None  # registry name or path to weights; None: the store's default (rife-hd-v3)
    model_dir: Path | None = None  # None: the store's cache folder
    device: str = "auto"
    dtype: str = "auto"


@dataclass(frozen=True)
class ScenesOptions:
    """The fields of ``pipeline.scenes.SceneConfig``; a threshold left None keeps the measured
    default that scenes.py declares: ``SceneConfig(**options.given())``."""

    detect_static: bool = True
    detect_cuts: bool = True
    static_max_cell_diff: float | None = None  # luma levels, 0-255
    cut_min_mean_diff: float | None = None  # luma levels, 0-255
    cut_max_similarity: float | None = None  # -1..1
    cut_min_hist_distance: float | None = None  # 0-1

    def given(self) -> dict[str, Any]:
        """The fields that are set (not None), as keyword arguments."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


@dataclass(frozen=True)
class PlayerOptions:
    fullscreen: bool = False
    volume: float = 100.0
    mute: bool = False
    loop: bool = False
    no_interp: bool = False  # start with interpolation off (toggle with a key)
    vo: str = "gpu"
    ao: str = "auto"
    input_conf: Path | None = None  # None: ~/.config/rife-live/input.conf when it exists
    rtsp_transport: str = "tcp"
    network_timeout: float = 10.0  # seconds: opening or reading a URL gives up after this


@dataclass(frozen=True)
class OutputOptions:
    path: Path | None = None  # encoded video file
    png_dir: Path | None = None  # or a folder of PNG frames
    vcodec: str | None = None  # None: the container's default (H.264; VP9 for webm)
    crf: int | None = None  # None: the encoder's default for rife-live (x264: 18)
    stats_json: Path | None = None


@dataclass(frozen=True)
class Config:
    video: VideoOptions = field(default_factory=VideoOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    scenes: ScenesOptions = field(default_factory=ScenesOptions)
    player: PlayerOptions = field(default_factory=PlayerOptions)
    output: OutputOptions = field(default_factory=OutputOptions)


SECTIONS: Mapping[str, type] = {
    "video": VideoOptions,
    "engine": EngineOptions,
    "scenes": ScenesOptions,
    "player": PlayerOptions,
    "output": OutputOptions,
}


# -- value parsers (pure; ValueError with the reason) ------------------------------------------
def _reject_bool(value: object, what: str) -> None:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}, not {str(value).lower()}")


def _exact(value: object) -> Fraction:
    """A number as an exact fraction; floats are taken as the decimal they print as."""
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a finite number")
        return Fraction(repr(value))
    raise TypeError


def parse_rate(value: object) -> Fraction:
    """A frame rate as an exact fraction: ``60``, ``"60000/1001"``, ``"59.94"`` (= 2997/50
    exactly, as FFmpeg reads it; write 60000/1001 for NTSC), or ``ntsc``/``pal``/``film``/
    ``ntsc-film``. Positive, at most ``MAX_RATE``."""
    _reject_bool(value, "a frame rate")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in RATE_NAMES:
            return RATE_NAMES[text]
        try:
            rate = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise ValueError(f"'{value}' is not a frame rate (try 60, 59.94 or 60000/1001)") from None
    else:
        try:
            rate = _exact(value)
        except TypeError:
            raise ValueError(f"expected a frame rate, not {type(value).__name__}") from None
    if rate <= 0:
        raise ValueError(f"{value} must be > 0 frames per second")
    if rate > MAX_RATE:
        raise ValueError(f"{value} is above the maximum of {MAX_RATE} frames per second")
    return rate


_TIME_FIELD = re.compile(r"\d+")
_SECONDS_FIELD = re.compile(r"\d+(\.\d*)?|\.\d+")


def parse_time(value: object) -> Fraction:
    """A time as exact seconds: ``90``, ``"1:30"``, ``"0:01:30.5"`` (h:m:s, with minutes and
    seconds below 60 after a larger field). Not negative."""
    _reject_bool(value, "a time")
    if not isinstance(value, str):
        try:
            seconds = _exact(value)
        except TypeError:
            raise ValueError(f"expected a time, not {type(value).__name__}") from None
        if seconds < 0:
            raise ValueError(f"{value} is a negative time")
        return seconds
    parts = value.strip().split(":")
    bad = ValueError(f"'{value}' is not a time (seconds, m:ss or h:mm:ss[.fff])")
    if len(parts) > MAX_TIME_FIELDS or not _SECONDS_FIELD.fullmatch(parts[-1]):
        raise bad
    if not all(_TIME_FIELD.fullmatch(p) for p in parts[:-1]):
        raise bad
    seconds = Fraction(parts[-1])
    whole = [int(p) for p in parts[:-1]]
    if whole and seconds >= SECONDS_PER_MINUTE:
        raise bad
    if len(whole) == 2 and whole[1] >= MINUTES_PER_HOUR:
        raise bad
    minutes = 0
    for number in whole:  # [m] or [h, m]
        minutes = minutes * MINUTES_PER_HOUR + number
    return seconds + minutes * SECONDS_PER_MINUTE


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"expected true or false, not {value!r}")


def _number(value: object) -> float:
    _reject_bool(value, "a number")
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a number") from None
    elif isinstance(value, (int, float, Fraction)):
        number = float(value)
    else:
        raise ValueError(f"expected a number, not {type(value).__name__}")
    if not math.isfinite(number):
        raise ValueError(f"{value} is not a finite number")
    return number


def _integer(value: object) -> int:
    _reject_bool(value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected an integer, not {value!r}")


def _in_range(parse: Callable[[object], Any], lo: float, hi: float) -> Callable[[object], Any]:
    def check(value: object) -> Any:
        number = parse(value)
        if not lo <= number <= hi:
            raise ValueError(f"{value} is outside {lo:g}-{hi:g}")
        return number
    return check


def _choice(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value.strip().lower()
    return check


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, not {value!r}")
    return value.strip()


def _path(value: object) -> Path:
    if isinstance(value, os.PathLike):
        return Path(value).expanduser()
    return Path(_text(value)).expanduser()


def _target_fps(value: object) -> Fraction | str:
    if isinstance(value, str) and value.strip().lower() == DISPLAY_RATE:
        return DISPLAY_RATE
    return parse_rate(value)


def _scale(value: object) -> float | str:
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    allowed = ", ".join(f"{s:g}" for s in SCALES) + f", {AUTO}"
    try:
        number = _number(value)
    except ValueError:
        raise ValueError(f"{value!r} is not one of {allowed}") from None
    if number not in SCALES:
        raise ValueError(f"{value} is not one of {allowed}")
    return number


PARSERS: Mapping[str, Callable[[object], Any]] = {
    "target_fps": _target_fps,
    "multi": _in_range(_integer, *MULTI_RANGE),
    "exp": _in_range(_integer, *EXP_RANGE),
    "fps": parse_rate,
    "scale": _scale,
    "montage": _bool,
    "start": parse_time,
    "end": parse_time,
    "no_audio": _bool,
    "mf_fps": parse_rate,
    "model": _text,
    "model_dir": _path,
    "device": _choice(DEVICES),
    "dtype": _choice(DTYPES),
    "detect_static": _bool,
    "detect_cuts": _bool,
    "static_max_cell_diff": _in_range(_number, *LUMA_RANGE),
    "cut_max_similarity": _in_range(_number, *SIMILARITY_RANGE),
    "cut_min_mean_diff": _in_range(_number, *LUMA_RANGE),
    "cut_min_hist_distance": _in_range(_number, *HIST_DISTANCE_RANGE),
    "fullscreen": _bool,
    "volume": _in_range(_number, *VOLUME_RANGE),
    "mute": _bool,
    "loop": _bool,
    "no_interp": _bool,
    "vo": _choice(VIDEO_OUTPUTS),
    "ao": _choice(AUDIO_OUTPUTS),
    "input_conf": _path,
    "rtsp_transport": _choice(RTSP_TRANSPORTS),
    "network_timeout": _in_range(_number, *NETWORK_TIMEOUT_RANGE),
    "path": _path,
    "png_dir": _path,
    "vcodec": _text,
    "crf": _in_range(_integer, *CRF_RANGE),
    "stats_json": _path,
}

# field name -> section, for flags (names are unique across sections)
FIELD_SECTIONS: Mapping[str, str] = {f.name: section for section, cls in SECTIONS.items() for f in fields(cls)}


def flag_name(name: str) -> str:
    """The command-line spelling of a field: ``target_fps`` -> ``--target-fps``."""
    return "--" + name.replace("_", "-")


def parse_flag(name: str, value: object, *, allow_auto: bool = True) -> Any:
    """One option's value checked as the config checks it, for commands that take it outside a
    ``Config`` (``rife-interp --exp/--scale``); ConfigError names the flag."""
    if not allow_auto and isinstance(value, str) and value.strip().lower() == AUTO:
        raise ConfigError(f"{flag_name(name)}: {AUTO} is for playback and export (rife-play); give a number")
    try:
        return PARSERS[name](value)
    except ValueError as exc:
        raise ConfigError(f"{flag_name(name)}: {exc}") from None


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
            value = PARSERS[name](raw)
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
        if not isinstance(table, Mapping) and field_name in FIELD_SECTIONS:
            raise ConfigError(f"{source}: '{section}' must be under a [{FIELD_SECTIONS[field_name]}] section")
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}] (sections: {', '.join(SECTIONS)})"
                              f"{_suggest(section, list(SECTIONS))}")
        if not isinstance(table, Mapping):
            raise ConfigError(f"{source}: '{section}' must be a section ([{section}]), not a value")
        known = [f.name for f in fields(SECTIONS[section])]
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
    """Merge command-line flags ``{"target-fps": "60", ...}`` (``None``: not given) over ``config``."""
    items: list[tuple[str, str, object, str]] = []
    for key, value in flags.items():
        if value is None:
            continue
        name = key.lstrip("-").replace("-", "_")
        if name not in FIELD_SECTIONS:
            known = [flag_name(n) for n in FIELD_SECTIONS]
            raise ConfigError(f"unknown option {flag_name(name)}{_suggest(flag_name(name), known)}")
        items.append((FIELD_SECTIONS[name], name, value, flag_name(name)))
    return _apply(config, items)


def validate(config: Config) -> Config:
    """Checks that involve more than one option; returns ``config`` unchanged when it passes."""
    video = config.video
    if video.start is not None and video.end is not None and video.end <= video.start:
        raise ConfigError(f"--end ({float(video.end):g} s) must be after --start ({float(video.start):g} s)")
    set_rates = [name for name in RATE_GROUP if getattr(video, name) is not None]
    if len(set_rates) > 1:  # only reachable when records are built by hand
        raise ConfigError(f"{', '.join(flag_name(n) for n in set_rates)}: give only one output rate")
    return config


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
