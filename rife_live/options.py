"""Options declared once: a dataclass field carries its parser, its help, its command-line spelling
and where it applies, and every other place reads it from there.

A component declares its options as a frozen dataclass whose fields are made with ``option(...)``
(``SourceOptions`` in ``pipeline/source.py``, ``SceneConfig`` in ``pipeline/scenes.py``,
``EngineConfig`` in ``models/settings.py``, the player's and the export's in ``config.py``).
From that one declaration:

- ``config.py`` parses and checks values from TOML files and flags (``spec.parse``);
- ``cli.py`` builds the ``rife-play`` arguments (``spec.flags``, ``spec.help``, ``spec.switch``) and
  refuses a flag in a mode or for an input it does nothing for (``spec.mode``, ``spec.inputs``);
- ``check_fields`` validates a record built in code (``__post_init__``) with the same parsers.

Adding an option is one field (and its line in ``configs/default.toml``, which a test checks).

The parsers are pure functions: a raw value (a string from a flag or a TOML value, or an already
typed value) in, the typed value out, ``ValueError`` with the reason (one line) when it is bad.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import Field, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

OPTION_KEY = "rife_live.option"  # where a field's OptionSpec sits in its metadata
MODES = ("playback", "export")  # what a flag may be limited to (None: both)

MAX_RATE = Fraction(1000)  # frames per second, for every rate option
RATE_NAMES = {  # as FFmpeg names them
    "ntsc": Fraction(30000, 1001),
    "pal": Fraction(25),
    "film": Fraction(24),
    "ntsc-film": Fraction(24000, 1001),
}
TRUE_WORDS = ("yes", "true", "on", "1")
FALSE_WORDS = ("no", "false", "off", "0")
SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
MAX_TIME_FIELDS = 3  # h:m:s

Parser = Callable[[object], Any]


@dataclass(frozen=True)
class OptionSpec:
    """Everything said about one option besides its name, type and default.

    ``flags``: its command-line spellings; ``()`` means the default ``--name-with-dashes``; None
    means config files only. ``switch``: a flag that takes no value (sets True). ``mode``:
    "playback" or "export" when the option only works there. ``inputs``: the input kinds
    (``pipeline.source.classify``) it applies to, None for all.
    """

    parse: Parser
    help: str
    flags: tuple[str, ...] | None = ()
    switch: bool = False
    mode: str | None = None
    inputs: tuple[str, ...] | None = None
    metavar: str | None = None


def option(default: Any, parse: Parser, help: str, *, flags: tuple[str, ...] | None = (), switch: bool = False,
           mode: str | None = None, inputs: tuple[str, ...] | None = None, metavar: str | None = None) -> Any:
    """A dataclass field declared as an option (see the module text)."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"option mode must be one of {MODES}, not {mode!r}")
    spec = OptionSpec(parse=parse, help=help, flags=flags, switch=switch, mode=mode, inputs=inputs, metavar=metavar)
    return field(default=default, metadata={OPTION_KEY: spec})


def option_fields(record: type | object) -> list[tuple[Field, OptionSpec]]:
    """The option fields of a dataclass (type or instance) with their specs, in declaration order."""
    return [(f, f.metadata[OPTION_KEY]) for f in fields(record) if OPTION_KEY in f.metadata]  # type: ignore[arg-type]


def flag_name(name: str) -> str:
    """The default command-line spelling of a field: ``target_fps`` -> ``--target-fps``."""
    return "--" + name.replace("_", "-")


def flag_spellings(name: str, spec: OptionSpec) -> tuple[str, ...]:
    """How a field is written on the command line (empty for config-file-only options)."""
    if spec.flags is None:
        return ()
    return spec.flags or (flag_name(name),)


def check_fields(record: object, describe: Callable[[str], str] = flag_name) -> None:
    """Run every option field's parser on its value (None stays None); a ``ConfigError`` names the
    option with ``describe(field name)``. For ``__post_init__`` of option records built in code."""
    from rife_live.errors import ConfigError

    for f, spec in option_fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        try:
            spec.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{describe(f.name)}: {exc}") from None


# -- parsers ------------------------------------------------------------------------------------


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


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return value.strip().lower() in TRUE_WORDS
    raise ValueError(f"expected true or false, not {value!r}")


def number(value: object) -> float:
    _reject_bool(value, "a number")
    if isinstance(value, str):
        try:
            parsed = float(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a number") from None
    elif isinstance(value, (int, float, Fraction)):
        parsed = float(value)
    else:
        raise ValueError(f"expected a number, not {type(value).__name__}")
    if not math.isfinite(parsed):
        raise ValueError(f"{value} is not a finite number")
    return parsed


def integer(value: object) -> int:
    _reject_bool(value, "an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ValueError(f"expected an integer, not {value!r}")


def in_range(parse: Parser, lo: float, hi: float) -> Parser:
    """``parse``, then a check that the value lies in [lo, hi]."""
    def check(value: object) -> Any:
        parsed = parse(value)
        if not lo <= parsed <= hi:
            raise ValueError(f"{value} is outside {lo:g}-{hi:g}")
        return parsed
    return check


def choice(choices: tuple[str, ...]) -> Parser:
    """One of ``choices`` (case-insensitive)."""
    def check(value: object) -> str:
        if not isinstance(value, str) or value.strip().lower() not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value.strip().lower()
    return check


def int_choice(choices: tuple[int, ...]) -> Parser:
    """One of the integers ``choices`` (as a number or its text)."""
    return _one_of(integer, choices, [str(c) for c in choices])


def number_choice(choices: tuple[float, ...], words: tuple[str, ...] = ()) -> Parser:
    """One of the numbers ``choices`` (as a number or its text), or one of ``words``."""
    return _one_of(number, choices, [f"{c:g}" for c in choices], words)


def _one_of(parse: Parser, choices: tuple, names: list[str], words: tuple[str, ...] = ()) -> Parser:
    allowed = ", ".join(names + list(words))

    def check(value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in words:
            return value.strip().lower()
        try:
            parsed = parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not one of {allowed}") from None
        if parsed not in choices:
            raise ValueError(f"{value} is not one of {allowed}")
        return parsed
    return check


def text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, not {value!r}")
    return value.strip()


def file_path(value: object) -> Path:
    if isinstance(value, os.PathLike):
        return Path(value).expanduser()
    return Path(text(value)).expanduser()


def rate_or_word(words: tuple[str, ...]) -> Parser:
    """A frame rate (``parse_rate``) or one of ``words`` (e.g. "display")."""
    def check(value: object) -> Fraction | str:
        if isinstance(value, str) and value.strip().lower() in words:
            return value.strip().lower()
        return parse_rate(value)
    return check
