"""pipeline/drivers.py: the driver table, opening, and reconnecting a live input with backoff."""

from __future__ import annotations

import threading

import pytest

from rife_live.errors import InputError
from rife_live.pipeline.drivers import (RECONNECT_BACKOFF_FACTOR, RECONNECT_FIRST_DELAY_S, RECONNECT_MAX_DELAY_S,
                                        SOURCE_DRIVERS, backoff_delay, open_source, reconnect)
from rife_live.pipeline.source import InputKind, SourceOptions
from tests.live_servers import free_port

SHORT_TIMEOUT = SourceOptions(network_timeout=1.0)


def test_every_kind_of_input_has_a_driver() -> None:
    assert set(SOURCE_DRIVERS) == set(InputKind)


def test_open_source_uses_the_driver_of_the_kind(tmp_path) -> None:
    with pytest.raises(InputError, match="no numbered PNG/JPEG images"):  # a folder: the image driver
        open_source(tmp_path)
    with pytest.raises(InputError, match="input not found"):  # a path: the container driver
        open_source(tmp_path / "clip.mp4")


def test_backoff_doubles_and_caps() -> None:
    delays = [backoff_delay(a) for a in range(8)]
    assert delays[0] == RECONNECT_FIRST_DELAY_S
    for before, after in zip(delays, delays[1:]):
        assert after == min(RECONNECT_MAX_DELAY_S, before * RECONNECT_BACKOFF_FACTOR)
    assert delays[-1] == RECONNECT_MAX_DELAY_S
    with pytest.raises(ValueError):
        backoff_delay(-1)


@pytest.mark.net
def test_reconnect_backs_off_then_gives_up() -> None:
    url = f"rtsp://127.0.0.1:{free_port()}/stream"
    waits: list[float] = []
    failures: list[int] = []

    def record(delay: float) -> bool:
        waits.append(delay)
        return False

    with pytest.raises(InputError, match=f"lost {url}: gave up after 4 reconnect attempts"):
        reconnect(url, SHORT_TIMEOUT, threading.Event(), max_attempts=4, wait=record,
                  on_attempt=lambda attempt, delay, error: failures.append(attempt))
    assert waits == [backoff_delay(a) for a in range(4)]
    assert failures == [0, 1, 2, 3]


def test_reconnect_stops_and_succeeds() -> None:
    stop = threading.Event()
    stop.set()
    assert reconnect("lavfi:testsrc2=size=32x32:rate=10", SourceOptions(), stop) is None
    src = reconnect("lavfi:testsrc2=size=32x32:rate=10", SourceOptions(), threading.Event(),
                    wait=lambda delay: False)
    assert src is not None and src.video.width == 32
    src.close()
