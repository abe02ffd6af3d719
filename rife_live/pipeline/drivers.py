"""The source drivers behind one table, and the two ways in: ``open_source`` and ``reconnect``.

``SOURCE_DRIVERS`` maps each input kind (``source.classify``) to the driver that opens it, as mpv
lists its demuxers: add a kind of input by writing a ``Source`` subclass and one row here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType

from rife_live.errors import InputError
from rife_live.pipeline.source import InputKind, Source, SourceOptions, classify
from rife_live.pipeline.source_av import ContainerSource
from rife_live.pipeline.source_images import ImageFolderSource

# Reconnect backoff for live sources: FIRST, then x FACTOR per attempt, capped at MAX.
RECONNECT_FIRST_DELAY_S = 0.5
RECONNECT_BACKOFF_FACTOR = 2.0
RECONNECT_MAX_DELAY_S = 1.0  # a server that comes back is found again within this (+ the open)
RECONNECT_MAX_ATTEMPTS = 60  # then the source is reported lost (about a minute of trying)

Driver = Callable[[str, InputKind, SourceOptions], Source]
SOURCE_DRIVERS: Mapping[InputKind, Driver] = MappingProxyType({
    InputKind.FILE: ContainerSource.open,
    InputKind.NETWORK: ContainerSource.open,
    InputKind.WEBCAM: ContainerSource.open,
    InputKind.LAVFI: ContainerSource.open,
    InputKind.IMAGES: ImageFolderSource.open,
})


def open_source(target: str | os.PathLike, options: SourceOptions | None = None) -> Source:
    """Open ``target`` (path, image folder, URL, webcam) with its driver; InputError if it can't be."""
    target = os.fspath(target)
    kind = classify(target)
    return SOURCE_DRIVERS[kind](target, kind, options or SourceOptions())


def backoff_delay(attempt: int, *, first: float = RECONNECT_FIRST_DELAY_S,
                  factor: float = RECONNECT_BACKOFF_FACTOR, cap: float = RECONNECT_MAX_DELAY_S) -> float:
    """Seconds to wait before reconnect ``attempt`` (0-based): first * factor**attempt, capped."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return min(cap, first * factor**attempt)


def reconnect(
    target: str,
    options: SourceOptions,
    stop: threading.Event,
    *,
    max_attempts: int = RECONNECT_MAX_ATTEMPTS,
    wait: Callable[[float], bool] | None = None,
    on_attempt: Callable[[int, float, InputError | None], None] | None = None,
) -> Source | None:
    """Reopen a live source after a drop, waiting ``backoff_delay(attempt)`` before each try.

    ``wait(seconds)`` returns True to abandon (defaults to ``stop.wait``, so ``stop`` cuts a wait
    short). Returns the new Source, None when stopped, or raises InputError after
    ``max_attempts`` failed tries. ``on_attempt(attempt, delay, error)`` reports each failed try.
    """
    waiter = wait or stop.wait
    last: InputError | None = None
    for attempt in range(max_attempts):
        delay = backoff_delay(attempt)
        if waiter(delay) or stop.is_set():
            return None
        try:
            return open_source(target, options)
        except InputError as exc:
            last = exc
            if on_attempt is not None:
                on_attempt(attempt, delay, exc)
    raise InputError(f"lost {target}: gave up after {max_attempts} reconnect attempts ({last})")
