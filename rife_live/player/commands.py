"""The player's commands and properties, as tables (mpv's ``command.c`` idea, small).

``COMMAND_HANDLERS`` maps every command of the binding table (``input/bindings.COMMANDS``: names,
arguments, help) to the function that runs it on a ``LiveSession``. ``PROPERTY_ACCESS`` maps every
property of ``input/bindings.PROPERTIES`` (name, kind, range, choices) to how the session reads and
sets it, so ``set``, ``cycle``, ``add`` and ``multiply`` work on any property the table names:

- ``set P V``: the value (already checked against the property by the binding parser);
- ``cycle P``: a flag toggles; a choice moves to the next choice;
- ``add P N``: a number moves by N (clamped to its range);
- ``multiply P F``: a number is scaled (clamped); a choice of numbers moves to the choice nearest
  to F times the current value (``multiply scale 2`` is one step up the flow-scale ladder).

To add a key command: declare it in ``input/bindings.COMMANDS`` and give it a handler here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from rife_live.audio.volume import VOLUME_RANGE
from rife_live.config import AUTO
from rife_live.errors import OutputError
from rife_live.pipeline.build import resolve_scale
from rife_live.sinks.stills import write_png
from rife_live.input.bindings import PROPERTIES, Property, Value, parse_key
from rife_live.present import CloseEvent, KeyEvent

if TYPE_CHECKING:
    from rife_live.player.session import LiveSession

CLOSE_KEY = "CLOSE_WIN"  # the key name input.conf binds to closing the window (mpv's)
SCREENSHOT_PATTERN = "rife-shot-{:04d}.png"


@dataclass(frozen=True)
class Access:
    """How the session reads and sets one property. ``number``/``scaled``: what ``multiply`` reads
    and sets when that differs from ``get``/``set`` (the flow scale: its ceiling, keeping auto)."""

    get: Callable[[LiveSession], Value]
    set: Callable[[LiveSession, Any], None]
    number: Callable[[LiveSession], float] | None = None
    scaled: Callable[[LiveSession, Any], None] | None = None




# -- what each property's setter does ----------------------------------------------------------------

def set_pause(s: LiveSession, on: bool) -> None:
    s.transition(s.transport.set_pause(on))
    s.message("Paused" if on else "Playing")


def set_fullscreen(s: LiveSession, on: bool) -> None:
    if on != s.settings.fullscreen:
        assert s.vo is not None
        s.vo.toggle_fullscreen()
        s.settings.fullscreen = on


def set_mute(s: LiveSession, on: bool) -> None:
    s.settings.muted = on
    if s.audio is not None:
        s.audio.set_mute(on)
    s.message(f"Mute: {'yes' if on else 'no'}{'' if s.audio else ' (no audio)'}")


def set_stats(s: LiveSession, on: bool) -> None:
    s.osd.show_stats = on


def set_interpolation(s: LiveSession, on: bool) -> None:
    assert s.pipeline is not None
    s.settings.interpolate = on
    s.pipeline.set_interpolation(on)
    s.message(f"Interpolation: {'on' if on else 'off'}")


def set_volume(s: LiveSession, volume: float) -> None:
    s.settings.volume = min(max(volume, VOLUME_RANGE[0]), VOLUME_RANGE[1])
    if s.audio is not None:
        s.settings.volume = s.audio.set_volume(s.settings.volume)
    s.message(f"Volume: {s.settings.volume:.0f}%{'' if s.audio else ' (no audio)'}")


def set_scale(s: LiveSession, value: float | str, keep_mode: bool = False) -> None:
    """A fixed flow scale, ``auto`` (adaptive up to the size's default), or with ``keep_mode`` a
    new value in the mode in use (the ceiling when adaptive)."""
    assert s.pipeline is not None and s.video is not None
    video = s.video
    auto = s.settings.scale_auto if keep_mode else value == AUTO
    cap = resolve_scale(AUTO, video.width, video.height) if value == AUTO else float(value)
    s.settings.scale_auto, s.settings.scale_cap = auto, cap
    s.pipeline.set_scale(cap, auto)
    s.message(f"Flow scale: {'up to ' if auto else ''}{cap:g}{' (auto)' if auto else ''}")


def seek(s: LiveSession, delta: float, mode: str = "relative") -> None:
    """Seek by (or to) ``delta`` seconds: decode seeks, audio flushes, a new epoch begins."""
    assert s.pipeline is not None and s.presenter is not None and s.video is not None
    if s.is_live:
        s.message("Cannot seek in a live stream")
        return
    shown = s.presenter.last_shown
    base = s.transport.seek_to if s.transport.seek_to is not None else (
        shown.pts if shown is not None else Fraction(0))
    target = seek_target(base, delta, s.video.duration, mode)
    epoch = s.pipeline.seek(target)
    if s.audio is not None:
        s.audio.flush(float(target), epoch=epoch)
    s.presenter.forget()
    s.transition(s.transport.hold(epoch, target))
    s.presenter.stats.seeks += 1
    s.message(f"Seek to {float(target):.1f} s")


def seek_target(position: Fraction, delta: float, duration: Fraction | None, mode: str = "relative") -> Fraction:
    """Where a seek lands: ``position + delta`` (or ``delta`` for absolute), within the input."""
    target = Fraction(delta).limit_denominator(1000) + (position if mode == "relative" else 0)
    if duration is not None:
        target = min(target, max(Fraction(0), duration - Fraction(1, 10)))
    return max(Fraction(0), target)


def read_back(s: LiveSession) -> np.ndarray | None:
    """The picture on screen as drawn (letterboxed, without the OSD): the window's pixels, or with
    ``--vo null`` the frame itself; None before the first frame."""
    assert s.vo is not None
    s.vo.set_osd(())
    image = s.vo.read_back()
    s.vo.set_osd(s.osd_lines)
    if image is None:
        frame = s.current_frame()
        image = None if frame is None else frame.copy()
    return image


def next_screenshot(folder: Path) -> Path:
    """The first free ``rife-shot-NNNN.png`` in ``folder``."""
    index = 1
    while (folder / SCREENSHOT_PATTERN.format(index)).exists():
        index += 1
    return folder / SCREENSHOT_PATTERN.format(index)


def screenshot(s: LiveSession) -> Path | None:
    """Save the picture on screen (as drawn, without the OSD) as PNG; returns its path."""
    image = read_back(s)
    if image is None:
        s.message("Screenshot: nothing on screen yet")
        return None
    path = next_screenshot(s.screenshot_dir)
    try:
        write_png(path, image)
    except OutputError as exc:  # a full disk must not end the playback
        s.message(f"Screenshot failed: {exc}")
        return None
    assert s.presenter is not None
    s.presenter.stats.screenshots += 1
    s.message(f"Screenshot: {path.name}")
    return path


def _clamp(prop: Property, value: float) -> float:
    low = prop.minimum if prop.minimum is not None else value
    high = prop.maximum if prop.maximum is not None else value
    return min(max(value, low), high)


def cycled(prop: Property, value: Value) -> Value:
    """The value ``cycle`` moves a property to."""
    if prop.kind == "flag":
        return not value
    if prop.kind == "choice":
        index = prop.choices.index(value) if value in prop.choices else -1
        return prop.choices[(index + 1) % len(prop.choices)]
    raise ValueError(f"{prop.name} is a number: use add or set")


def multiplied(prop: Property, value: Value, factor: float) -> Value:
    """The value ``multiply`` moves a property to."""
    wanted = float(value) * factor
    if prop.kind == "number":
        return _clamp(prop, wanted)
    numbers = [c for c in prop.choices if not isinstance(c, (str, bool))]
    if prop.kind != "choice" or not numbers:
        raise ValueError(f"{prop.name} cannot be multiplied")
    return min(numbers, key=lambda c: (abs(float(c) - wanted), c))


def _set(s: LiveSession, args: tuple) -> None:
    PROPERTY_ACCESS[str(args[0])].set(s, args[1])


def _cycle(s: LiveSession, args: tuple) -> None:
    name = str(args[0])
    PROPERTY_ACCESS[name].set(s, cycled(PROPERTIES[name], PROPERTY_ACCESS[name].get(s)))


def _add(s: LiveSession, args: tuple) -> None:
    name = str(args[0])
    access = PROPERTY_ACCESS[name]
    access.set(s, _clamp(PROPERTIES[name], float(access.get(s)) + float(args[1])))


def _multiply(s: LiveSession, args: tuple) -> None:
    name = str(args[0])
    access = PROPERTY_ACCESS[name]
    current = access.number(s) if access.number is not None else access.get(s)
    (access.scaled or access.set)(s, multiplied(PROPERTIES[name], current, float(args[1])))


def _quit(s: LiveSession, args: tuple) -> None:
    s.exit_code = int(args[0])
    s.request_quit()


PROPERTY_ACCESS: Mapping[str, Access] = MappingProxyType({
    "pause": Access(lambda s: s.transport.paused, lambda s, v: set_pause(s, bool(v))),
    "fullscreen": Access(lambda s: s.settings.fullscreen, lambda s, v: set_fullscreen(s, bool(v))),
    "mute": Access(lambda s: s.settings.muted, lambda s, v: set_mute(s, bool(v))),
    "stats": Access(lambda s: s.osd.show_stats, lambda s, v: set_stats(s, bool(v))),
    "interpolation": Access(lambda s: s.settings.interpolate, lambda s, v: set_interpolation(s, bool(v))),
    "volume": Access(lambda s: s.settings.volume, lambda s, v: set_volume(s, float(v))),
    "scale": Access(lambda s: AUTO if s.settings.scale_auto else s.settings.scale_cap, lambda s, v: set_scale(s, v),
                    number=lambda s: s.settings.scale_cap, scaled=lambda s, v: set_scale(s, v, keep_mode=True)),
})

COMMAND_HANDLERS: Mapping[str, Callable[[LiveSession, tuple], None]] = MappingProxyType({
    "ignore": lambda s, args: None,
    "quit": _quit,
    "cycle": _cycle,
    "set": _set,
    "add": _add,
    "multiply": _multiply,
    "seek": lambda s, args: seek(s, float(args[0]), str(args[1])),
    "frame-step": lambda s, args: s.transition(s.transport.step()),
    "screenshot": lambda s, args: screenshot(s),
})

def run_command(session: LiveSession, name: str, args: tuple) -> None:
    """Run one command of the binding table with typed arguments (defaults filled in)."""
    COMMAND_HANDLERS[name](session, args)


def handle_event(session: LiveSession, event: object) -> None:
    """A window event: a key runs its binding, closing the window runs ``CLOSE_WIN``'s (quit by
    default), a resize while the picture stands still redraws it."""
    assert session.bindings is not None
    if isinstance(event, CloseEvent):
        binding = session.bindings.lookup(CLOSE_KEY)
        run_command(session, *(("quit", (0,)) if binding is None else (binding.command, binding.args)))
    elif isinstance(event, KeyEvent):
        try:
            key = parse_key(event.name)
        except ValueError:
            return
        binding = session.bindings.lookup(key)
        if binding is not None:
            run_command(session, binding.command, binding.args)
    elif not session.transport.clock_runs:  # a resize while still: redraw
        assert session.presenter is not None
        session.presenter.redraw()
