"""Stop signals: Ctrl+C (SIGINT), SIGTERM and SIGHUP end a run the same graceful way.

``timeout``, systemd, container stops and job schedulers send SIGTERM; closing a terminal sends
SIGHUP. The command line installs a ``StopSignals`` around every run (main thread). The first stop
signal raises ``Interrupted`` (a ``KeyboardInterrupt``) in the main thread, so the same cleanup as
for Ctrl+C runs: an export's output is finalized and playable, the stats are written, every thread
is joined, and the process exits with 128 + the signal's number (130, 143, 129).

``held()`` marks a stretch that must not be cut (a frame between the encoder and the muxer, a
container's trailer): a signal that arrives inside it is delivered when it ends. ``polled()`` marks
code that looks for a stop itself between units of work that must not be cut (training steps,
which every process of a distributed run must end at the same one): a signal inside it is only
recorded, and the code reads it from the function ``polled`` yields.

A second stop signal quits at once: cleanup that takes too long (a network pass in flight on a
slow CPU) is cut short. The callbacks registered with ``on_abandon`` run first (an export removes
its unfinished temporary file: a user's old output is never touched, and nothing half-written is
left), then the process exits with 128 + that signal's number.

Python delivers signals to the main thread only; in other threads ``held()`` holds nothing (no
signal can interrupt them).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
EXIT_SIGNAL_BASE = 128  # the shell's convention: a run ended by signal N exits with 128 + N


def exit_code_for(signum: int) -> int:
    """The exit status of a run ended by signal ``signum`` (SIGINT 130, SIGTERM 143, SIGHUP 129)."""
    return EXIT_SIGNAL_BASE + int(signum)


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


class Interrupted(KeyboardInterrupt):
    """A stop signal reached the main thread; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal_name(signum))
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return exit_code_for(self.signum)


def signal_of(exc: BaseException) -> int:
    """The signal a ``KeyboardInterrupt`` stands for (a plain one is SIGINT)."""
    return exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)


class StopSignals:
    """The handler of every stop signal while a command runs (see the module text).

    Use as a context manager on the main thread: it installs itself and restores the previous
    handlers on exit. ``quit_now`` is how a second signal ends the process (``os._exit``;
    replaceable in tests), ``say`` prints the one line that tells the user so.
    """

    def __init__(self, prog: str, *, quit_now: Callable[[int], None] = os._exit,
                 say: Callable[[str], None] | None = None) -> None:
        self.prog = prog
        self.received: int | None = None  # the first stop signal, once one came
        self._quit_now = quit_now
        self._say = say or (lambda text: print(text, file=sys.stderr, flush=True))
        self._previous: dict[int, object] = {}
        self._depth = 0  # nesting of held() blocks
        self._polled = 0  # nesting of polled() blocks
        self._pending: int | None = None  # a signal that came inside held(), delivered at its end
        self._abandon: list[Callable[[], None]] = []

    # -- installation ------------------------------------------------------------------------
    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("stop signals can only be handled on the main thread")
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)  # type: ignore[arg-type]
        self._previous.clear()

    # -- the handler ---------------------------------------------------------------------------
    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.received is not None:
            self._force_quit(signum)
            return
        self.received = signum
        if self._polled:
            return  # the code in the polled() block reads it between its steps
        if self._depth:
            self._pending = signum
            return
        raise Interrupted(signum)

    def _force_quit(self, signum: int) -> None:
        self._pending = None
        for callback in reversed(self._abandon):
            try:
                callback()
            except Exception:  # noqa: BLE001 - quitting at once: a failing cleanup must not stop it
                pass
        self._say(f"{self.prog}: {signal_name(signum)} again: quitting at once")
        self._quit_now(exit_code_for(signum))

    # -- for the code that runs under it ---------------------------------------------------------
    @contextmanager
    def held(self) -> Iterator[None]:
        """Delay a stop signal until the block ends (then it is raised as usual)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._pending is not None:
                signum, self._pending = self._pending, None
                raise Interrupted(signum)

    @contextmanager
    def polled(self) -> Iterator[Callable[[], int | None]]:
        """Record a stop signal instead of raising it; yields the function that says which came
        (None while none has)."""
        self._polled += 1
        try:
            yield lambda: self.received
        finally:
            self._polled -= 1

    def on_abandon(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` if a second signal quits at once; returns the function that unregisters it."""
        self._abandon.append(callback)

        def forget() -> None:
            if callback in self._abandon:
                self._abandon.remove(callback)

        return forget


def installed() -> StopSignals | None:
    """The ``StopSignals`` handling SIGINT now, if a command installed one."""
    handler = signal.getsignal(signal.SIGINT)
    return handler if isinstance(handler, StopSignals) else None


@contextmanager
def held() -> Iterator[None]:
    """Hold stop signals back over a block that must not be cut (``StopSignals.held``). Without an
    installed ``StopSignals`` (library use), Ctrl+C alone is held the same way."""
    guard = installed()
    if guard is not None:
        with guard.held():
            yield
        return
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):  # SIG_IGN, SIG_DFL or a handler set outside Python: leave it alone
        yield
        return
    caught: list[tuple[int, FrameType | None]] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        caught.append((signum, frame))

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            previous(*caught[0])


@contextmanager
def polled(prog: str = "rife-live") -> Iterator[Callable[[], int | None]]:
    """A stretch that polls for a stop itself (``StopSignals.polled``); yields the function that
    says which stop signal came, None while none has. Without an installed ``StopSignals`` (library
    use) one is installed for the block on the main thread; in other threads nothing is ever received."""
    guard = installed()
    if guard is not None:
        with guard.polled() as received:
            yield received
        return
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    with StopSignals(prog) as own, own.polled() as received:
        yield received


def on_abandon(callback: Callable[[], None]) -> Callable[[], None]:
    """Register ``callback`` with the installed ``StopSignals`` (a no-op without one)."""
    guard = installed()
    if guard is None:
        return lambda: None
    return guard.on_abandon(callback)
