"""Key bindings in mpv's input.conf syntax: key names, a declared command table, the parser, and
the defaults merged with the user's file.

A line is ``KEY command args  # comment``. Keys are a single character (case matters: ``q`` is not
``Q``; write ``SHARP`` for ``#``) or a key name (``SPACE``, ``ESC``, ``LEFT``, ``F1``, ``KP_ADD``,
``WHEEL_UP``...; case-insensitive), with any of the modifiers ``Ctrl+``, ``Alt+``, ``Shift+``,
``Meta+``. Arguments may be quoted ('...' literal, "..." with backslash escapes). ``ignore`` unbinds
a key. A bad line is reported (file:line: why) and skipped; it never stops the player.

Unlike mpv, a binding runs exactly one command (no ``;`` lists), and there are no input sections
(``{encode}``) or command prefixes (``no-osd``); such lines are reported and skipped.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Union

from rife_live.audio.volume import VOLUME_RANGE
from rife_live.config import AUTO
from rife_live.errors import ConfigError
from rife_live.models.settings import FLOW_SCALES

Value = Union[str, float, int, bool]
Log = Callable[[str], None]

PACKAGE = "rife_live"
DEFAULT_CONF_RESOURCE = ("data", "input.conf")  # inside the package; configs/input.conf is a copy
USER_CONF_NAME = "input.conf"
APP_DIR = "rife-live"
COMMENT = "#"

MODIFIERS = ("Ctrl", "Alt", "Shift", "Meta")  # canonical order in a key string
KEY_ALIASES = {"SHARP": "#"}
FUNCTION_KEYS = 25  # F1..F25, as GLFW reports them
NAMED_KEYS = frozenset(
    {
        "SPACE", "ESC", "ENTER", "TAB", "BS", "DEL", "INS", "HOME", "END", "PGUP", "PGDWN",
        "LEFT", "RIGHT", "UP", "DOWN", "PRINT", "PAUSE", "MENU",
        "KP_DEC", "KP_ADD", "KP_SUBTRACT", "KP_MULTIPLY", "KP_DIVIDE", "KP_ENTER",
        "MBTN_LEFT", "MBTN_MID", "MBTN_RIGHT", "MBTN_LEFT_DBL", "MBTN_BACK", "MBTN_FORWARD",
        "WHEEL_UP", "WHEEL_DOWN", "WHEEL_LEFT", "WHEEL_RIGHT", "CLOSE_WIN",
    }
    | {f"F{n}" for n in range(1, FUNCTION_KEYS + 1)}
    | {f"KP{n}" for n in range(10)}
)

# GLFW key constant names (``glfw.KEY_*`` without importing glfw here) -> our key names. Printable
# keys map to their US-layout unshifted character: use them for Ctrl/Alt combinations, which
# produce no character event; plain printable keys should come from GLFW's character callback
# (layout-aware, already shifted).
GLFW_KEY_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "KEY_SPACE": "SPACE", "KEY_ESCAPE": "ESC", "KEY_ENTER": "ENTER", "KEY_TAB": "TAB",
        "KEY_BACKSPACE": "BS", "KEY_DELETE": "DEL", "KEY_INSERT": "INS", "KEY_HOME": "HOME",
        "KEY_END": "END", "KEY_PAGE_UP": "PGUP", "KEY_PAGE_DOWN": "PGDWN", "KEY_LEFT": "LEFT",
        "KEY_RIGHT": "RIGHT", "KEY_UP": "UP", "KEY_DOWN": "DOWN", "KEY_PRINT_SCREEN": "PRINT",
        "KEY_PAUSE": "PAUSE", "KEY_MENU": "MENU", "KEY_KP_DECIMAL": "KP_DEC", "KEY_KP_ADD": "KP_ADD",
        "KEY_KP_SUBTRACT": "KP_SUBTRACT", "KEY_KP_MULTIPLY": "KP_MULTIPLY",
        "KEY_KP_DIVIDE": "KP_DIVIDE", "KEY_KP_ENTER": "KP_ENTER",
        "KEY_APOSTROPHE": "'", "KEY_COMMA": ",", "KEY_MINUS": "-", "KEY_PERIOD": ".", "KEY_SLASH": "/",
        "KEY_SEMICOLON": ";", "KEY_EQUAL": "=", "KEY_LEFT_BRACKET": "[", "KEY_BACKSLASH": "\\",
        "KEY_RIGHT_BRACKET": "]", "KEY_GRAVE_ACCENT": "`",
        **{f"KEY_F{n}": f"F{n}" for n in range(1, FUNCTION_KEYS + 1)},
        **{f"KEY_KP_{n}": f"KP{n}" for n in range(10)},
        **{f"KEY_{n}": str(n) for n in range(10)},
        **{f"KEY_{c}": c.lower() for c in string.ascii_uppercase},
    }
)


# -- keys -------------------------------------------------------------------------------------
def key_from_event(name: str, *, ctrl: bool = False, alt: bool = False, shift: bool = False,
                   meta: bool = False) -> str:
    """The canonical key string for a key event: a key name (``"LEFT"``) or one character, with
    modifiers in the order Ctrl+Alt+Shift+Meta. Shift with a letter is folded into its case
    (``Shift+a`` is ``A``); a character from a character event is passed as it is, without Shift."""
    if name == " ":
        name = "SPACE"
    if len(name) == 1:
        if name.isalpha() and shift:
            name, shift = name.upper(), False
    else:
        upper = name.upper()
        name = KEY_ALIASES.get(upper, upper)
        if len(name) != 1 and name not in NAMED_KEYS:
            raise ValueError(f"unknown key name '{name}'")
    mods = [mod for mod, on in zip(MODIFIERS, (ctrl, alt, shift, meta)) if on]
    return "+".join([*mods, name])


def parse_key(text: str) -> str:
    """Normalize a key as written in input.conf (``ctrl+shift+a`` -> ``Ctrl+A``); ValueError if bad."""
    mods: set[str] = set()
    rest = text
    while True:
        plus = rest.find("+")
        if plus <= 0:
            break
        candidate = rest[:plus].capitalize()
        if candidate not in MODIFIERS:
            break
        mods.add(candidate)
        rest = rest[plus + 1:]
    if not rest:
        raise ValueError(f"no key after the modifiers in '{text}'")
    if len(rest) == 1 and (rest.isspace() or not rest.isprintable()):
        raise ValueError(f"unknown key '{text}'")
    return key_from_event(rest, ctrl="Ctrl" in mods, alt="Alt" in mods, shift="Shift" in mods,
                          meta="Meta" in mods)


# -- the command table ------------------------------------------------------------------------
@dataclass(frozen=True)
class Property:
    """A player property commands act on. ``kind``: "flag" (yes/no), "number" (within
    [minimum, maximum]) or "choice" (one of ``choices``)."""

    name: str
    kind: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Value, ...] = ()
    help: str = ""


SCALE_CHOICES: tuple[Value, ...] = (*FLOW_SCALES, AUTO)  # auto: the adaptive scale

PROPERTIES: Mapping[str, Property] = MappingProxyType(
    {
        p.name: p
        for p in (
            Property("pause", "flag", help="playback paused"),
            Property("fullscreen", "flag", help="window fills the screen"),
            Property("mute", "flag", help="audio muted"),
            Property("stats", "flag", help="statistics overlay shown"),
            Property("interpolation", "flag", help="RIFE interpolation on (off: source frames only)"),
            Property("volume", "number", *VOLUME_RANGE, help="software volume, percent"),
            Property("scale", "choice", choices=SCALE_CHOICES, help="flow scale (auto: adaptive)"),
        )
    }
)

FLAG_WORDS = {"yes": True, "no": False}
SEEK_MODES = ("relative", "absolute")


@dataclass(frozen=True)
class Param:
    """One command argument: its name, its type (a key of ``ARG_TYPES``) and, when optional, the
    value it takes when left out."""

    name: str
    type: str
    optional: bool = False
    default: Value | None = None


@dataclass(frozen=True)
class Command:
    name: str
    params: tuple[Param, ...]
    help: str


COMMANDS: Mapping[str, Command] = MappingProxyType(
    {
        c.name: c
        for c in (
            Command("ignore", (), "do nothing (unbinds the key)"),
            Command("quit", (Param("code", "exit-code", True, 0),), "stop playback and exit"),
            Command("cycle", (Param("property", "flag-property"),), "toggle a yes/no property"),
            Command("set", (Param("property", "property"), Param("value", "property-value")),
                    "set a property"),
            Command("add", (Param("property", "number-property"), Param("value", "number")),
                    "add to a numeric property (clamped to its range)"),
            Command("multiply", (Param("property", "scalable-property"), Param("factor", "positive")),
                    "multiply a number, or move a choice of numbers (the flow scale) to the nearest one"),
            Command("seek", (Param("target", "number"), Param("mode", "seek-mode", True, "relative")),
                    "seek by or to a number of seconds"),
            Command("frame-step", (), "show the next frame and pause"),
            Command("screenshot", (), "save the frame on screen"),
        )
    }
)


def _number(text: str, _: tuple[Value, ...]) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"'{text}' is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"'{text}' is not a finite number")
    return value


def _positive(text: str, previous: tuple[Value, ...]) -> float:
    value = _number(text, previous)
    if value <= 0:
        raise ValueError(f"'{text}' is not a positive number")
    return value


def _exit_code(text: str, _: tuple[Value, ...]) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"'{text}' is not an integer exit code") from None


def scalable(prop: Property) -> bool:
    """Whether ``multiply`` applies: a number, or a choice among numbers."""
    return prop.kind == "number" or any(not isinstance(c, (str, bool)) for c in prop.choices)


def _property_of(kinds: tuple[str, ...], test: Callable[[Property], bool] = lambda _p: True) \
        -> Callable[[str, tuple[Value, ...]], str]:
    def parse(text: str, _: tuple[Value, ...]) -> str:
        prop = PROPERTIES.get(text)
        if prop is None or prop.kind not in kinds or not test(prop):
            names = [n for n, p in PROPERTIES.items() if p.kind in kinds and test(p)]
            raise ValueError(f"'{text}' is not one of {', '.join(names)}")
        return text
    return parse


def _property_value(text: str, previous: tuple[Value, ...]) -> Value:
    prop = PROPERTIES[str(previous[0])]
    if prop.kind == "flag":
        if text not in FLAG_WORDS:
            raise ValueError(f"{prop.name} takes yes or no, not '{text}'")
        return FLAG_WORDS[text]
    if prop.kind == "number":
        value = _number(text, previous)
        if prop.minimum is not None and prop.maximum is not None and not prop.minimum <= value <= prop.maximum:
            raise ValueError(f"{prop.name} must be within {prop.minimum:g}-{prop.maximum:g}, not {text}")
        return value
    for choice in prop.choices:
        if isinstance(choice, str) and text == choice:
            return choice
        if not isinstance(choice, str):
            try:
                if float(text) == choice:
                    return choice
            except ValueError:
                continue
    allowed = ", ".join(f"{c:g}" if isinstance(c, float) else str(c) for c in prop.choices)
    raise ValueError(f"{prop.name} must be one of {allowed}, not '{text}'")


def _seek_mode(text: str, _: tuple[Value, ...]) -> str:
    if text not in SEEK_MODES:
        raise ValueError(f"seek mode must be {' or '.join(SEEK_MODES)}, not '{text}'")
    return text


ARG_TYPES: Mapping[str, Callable[[str, tuple[Value, ...]], Value]] = MappingProxyType(
    {
        "number": _number,
        "positive": _positive,
        "exit-code": _exit_code,
        "flag-property": _property_of(("flag",)),
        "number-property": _property_of(("number",)),
        "scalable-property": _property_of(("number", "choice"), scalable),
        "property": _property_of(("flag", "number", "choice")),
        "property-value": _property_value,
        "seek-mode": _seek_mode,
    }
)


def parse_command(tokens: list[str]) -> tuple[str, tuple[Value, ...]]:
    """Check ``[command, *args]`` against the table; returns (command, typed args with defaults
    filled in). ValueError with the reason when it does not fit."""
    if not tokens:
        raise ValueError("no command")
    name, raw = tokens[0], tokens[1:]
    command = COMMANDS.get(name)
    if command is None:
        raise ValueError(f"unknown command '{name}'")
    required = sum(not p.optional for p in command.params)
    if not required <= len(raw) <= len(command.params):
        usage = " ".join(f"[{p.name}]" if p.optional else f"<{p.name}>" for p in command.params)
        raise ValueError(f"'{name}' takes {usage or 'no arguments'}, got {len(raw)} argument(s)")
    args: tuple[Value, ...] = ()
    for param, text in zip(command.params, raw):
        try:
            args += (ARG_TYPES[param.type](text, args),)
        except ValueError as exc:
            raise ValueError(f"{name} {param.name}: {exc}") from None
    for param in command.params[len(raw):]:
        args += (param.default,)  # type: ignore[operator]
    return name, args


# -- bindings ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Binding:
    """One key bound to one command with typed arguments; ``origin`` is ``file:line``."""

    key: str
    command: str
    args: tuple[Value, ...] = ()
    comment: str = ""
    origin: str = ""


@dataclass(frozen=True)
class BindingTable:
    """Key -> Binding, read-only. ``lookup`` answers None for unbound and ignored keys."""

    bindings: Mapping[str, Binding] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, bindings: Iterable[Binding]) -> BindingTable:
        """A table from bindings in order (a later binding of the same key wins)."""
        return cls(MappingProxyType({b.key: b for b in bindings}))

    def merged(self, overrides: Iterable[Binding]) -> BindingTable:
        """This table with ``overrides`` bound over it (``ignore`` unbinds a default key)."""
        return BindingTable.of([*self.bindings.values(), *overrides])

    def lookup(self, key: str) -> Binding | None:
        binding = self.bindings.get(key)
        if binding is None or binding.command == "ignore":
            return None
        return binding

    def __len__(self) -> int:
        return len(self.bindings)

    def __iter__(self) -> Iterator[Binding]:
        return iter(self.bindings.values())


def tokenize(text: str) -> tuple[list[str], str]:
    """Split the command part of a line into arguments and the trailing comment.

    Whitespace separates; '...' is literal; "..." takes backslash escapes; ``#`` outside quotes
    starts the comment. ValueError on an unterminated quote."""
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char == COMMENT:
            return tokens, text[i + 1:].strip()
        elif char in "'\"":
            quote, i, chars = char, i + 1, []
            while i < n and text[i] != quote:
                if quote == '"' and text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise ValueError("unterminated quote")
            tokens.append("".join(chars))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace():
                i += 1
            tokens.append(text[start:i])
    return tokens, ""


def parse_line(line: str, origin: str = "") -> Binding | None:
    """One input.conf line -> a Binding, or None for a blank or comment line. ValueError if bad."""
    stripped = line.strip()
    if not stripped or stripped.startswith(COMMENT):
        return None
    parts = stripped.split(None, 1)
    key = parse_key(parts[0])
    tokens, comment = tokenize(parts[1] if len(parts) > 1 else "")
    if tokens and tokens[0].startswith("{"):
        raise ValueError(f"input sections like {tokens[0]} are not supported")
    if any(";" in token for token in tokens):
        raise ValueError("one command per binding (';' command lists are not supported)")
    command, args = parse_command(tokens)
    return Binding(key, command, args, comment, origin)


def parse_input_conf(text: str, source: str = "<input.conf>") -> tuple[tuple[Binding, ...], tuple[str, ...]]:
    """Parse a whole file: (bindings in file order, warnings ``source:line: reason``)."""
    bindings: list[Binding] = []
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        origin = f"{source}:{number}"
        try:
            binding = parse_line(line, origin)
        except ValueError as exc:
            warnings.append(f"{origin}: {exc}; line skipped")
            continue
        if binding is not None:
            bindings.append(binding)
    return tuple(bindings), tuple(warnings)


def default_input_conf_text() -> str:
    """The default bindings file shipped inside the package."""
    return resources.files(PACKAGE).joinpath(*DEFAULT_CONF_RESOURCE).read_text(encoding="utf-8")


def user_input_conf_path() -> Path:
    """``$XDG_CONFIG_HOME/rife-live/input.conf``, or ``~/.config/rife-live/input.conf``."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / APP_DIR / USER_CONF_NAME


def _default_log(message: str) -> None:
    logging.getLogger(__name__).warning(message)


def default_bindings() -> BindingTable:
    bindings, warnings = parse_input_conf(default_input_conf_text(), "rife_live/data/input.conf")
    if warnings:  # the shipped file is tested to parse cleanly; this is a packaging bug
        raise RuntimeError(f"the default input.conf has bad lines: {warnings[0]}")
    return BindingTable.of(bindings)


def load_bindings(path: str | os.PathLike[str] | None = None, *, log: Log = _default_log) -> BindingTable:
    """The default bindings with the user's file merged over them: ``path`` when given (it must
    exist), else the user's input.conf when there is one. Bad lines are logged and skipped."""
    table = default_bindings()
    if path is not None:
        user = Path(path).expanduser()
        if not user.is_file():
            raise ConfigError(f"--input-conf: {user}: no such file")
    else:
        user = user_input_conf_path()
        if not user.is_file():
            return table
    try:
        text = user.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--input-conf: cannot read {user}: {exc}") from exc
    bindings, warnings = parse_input_conf(text, str(user))
    for warning in warnings:
        log(warning)
    return table.merged(bindings)
