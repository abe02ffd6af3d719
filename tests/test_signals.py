"""signals: stop signals turned into one graceful interrupt, held over critical stretches, and a
second signal that quits at once (real signals sent to this process)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from rife_live import signals
from rife_live.signals import Interrupted, StopSignals, exit_code_for, signal_of


class Quit(Exception):
    """Stands in for os._exit in tests: carries the exit code."""


def quit_now(code: int) -> None:
    raise Quit(code)


def deliver(signum: int) -> None:
    """Send ``signum`` to this process and give Python a point at which it runs the handler."""
    os.kill(os.getpid(), signum)
    time.sleep(0.01)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_each_stop_signal_raises_interrupted_with_its_exit_code(signum, code) -> None:
    with pytest.raises(Interrupted) as caught:
        with StopSignals("test", quit_now=quit_now):
            deliver(signum)
    assert isinstance(caught.value, KeyboardInterrupt)
    assert caught.value.exit_code == code == exit_code_for(signal_of(caught.value))


def test_handlers_restored_on_exit() -> None:
    before = {s: signal.getsignal(s) for s in signals.STOP_SIGNALS}
    with StopSignals("test", quit_now=quit_now) as guard:
        assert signals.installed() is guard
        assert all(signal.getsignal(s) is guard for s in signals.STOP_SIGNALS)
    assert {s: signal.getsignal(s) for s in signals.STOP_SIGNALS} == before
    assert signals.installed() is None


def test_held_delivers_after_the_block() -> None:
    reached_end = False
    with StopSignals("test", quit_now=quit_now):
        with pytest.raises(Interrupted) as caught:
            with signals.held():
                deliver(signal.SIGTERM)
                reached_end = True
    assert reached_end and caught.value.signum == signal.SIGTERM


def test_polled_records_the_signal_for_the_code_to_read() -> None:
    steps = 0
    with StopSignals("test", quit_now=quit_now):
        with signals.polled() as received:
            while received() is None:  # a training loop: it ends itself after the step in hand
                steps += 1
                if steps == 3:
                    deliver(signal.SIGHUP)
        assert received() == signal.SIGHUP and steps == 3
        with pytest.raises(Quit) as quit_code:  # a second signal still quits at once
            with signals.polled():
                deliver(signal.SIGINT)
    assert quit_code.value.args == (130,)


def test_polled_without_an_installed_handler_installs_one_for_the_block() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals.polled() as received:
        assert isinstance(signal.getsignal(signal.SIGTERM), StopSignals)
        deliver(signal.SIGTERM)
        assert received() == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before


def test_second_signal_runs_abandon_callbacks_and_quits() -> None:
    cleaned: list[str] = []
    said: list[str] = []
    with StopSignals("prog", quit_now=quit_now, say=said.append) as guard:
        guard.on_abandon(lambda: cleaned.append("first"))
        forget = guard.on_abandon(lambda: cleaned.append("forgotten"))
        forget()
        with pytest.raises(Interrupted):
            deliver(signal.SIGTERM)
        with pytest.raises(Quit) as quit_code:  # cleanup was running when the second one came
            deliver(signal.SIGHUP)
    assert quit_code.value.args == (129,)
    assert cleaned == ["first"]
    assert said == ["prog: SIGHUP again: quitting at once"]


def test_second_signal_inside_held_block_quits_at_once() -> None:
    with StopSignals("test", quit_now=quit_now, say=lambda _text: None):
        with pytest.raises(Quit):
            with signals.held():
                deliver(signal.SIGINT)  # held
                deliver(signal.SIGINT)  # the user insists


def test_held_without_stop_signals_holds_ctrl_c() -> None:
    reached_end = False
    with pytest.raises(KeyboardInterrupt):
        with signals.held():
            deliver(signal.SIGINT)
            reached_end = True
    assert reached_end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_held_off_main_thread_is_plain() -> None:
    seen: list[bool] = []

    def body() -> None:
        with signals.held():
            seen.append(signal.getsignal(signal.SIGINT) is signal.default_int_handler)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [True]


def test_stop_signals_refuse_other_threads() -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            with StopSignals("test"):
                pass
        except RuntimeError as exc:
            errors.append(exc)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert len(errors) == 1
