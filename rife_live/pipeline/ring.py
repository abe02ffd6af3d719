"""The single-producer single-consumer ring between pipeline stages (DESIGN.md §2).

A ring holds ``capacity`` payloads made once by ``make_slot(i)`` (numpy arrays, pinned or CUDA
tensors ...) and reused forever: no per-frame allocation. Two cursors count slots: the producer
owns ``head`` (slots published), the consumer owns ``tail`` (slots released); ``fill = head -
tail``. A slot's payload and metadata are fully written before ``head`` moves past it, and the
consumer reads it in place until it moves ``tail`` past it.

Threading contract:

- **Producer** (one thread): ``claim`` the next free slot, write its payload in place, then
  ``publish(meta)``. Claiming again before publishing returns the same slot.
- **Consumer** (one thread): ``peek`` the oldest slot (or ``peek_at(i)`` to look further ahead),
  read the payloads in place, then ``release`` them. A payload returned by ``peek``/``peek_at``
  stays untouched until the consumer releases it, or until a later ``peek`` discards it as stale
  (see ``reset``). Ring A's consumer releases every slot after using it (it never drops); ring B's
  live consumer may release late frames unshown.
- **Any thread**: ``close`` (end of stream, error, shutdown) and ``reset`` (seek, reconnect), and
  reading ``fill``, ``epoch``, ``closed``.

A lock guards only the cursors (a few attribute updates); it is never held while a payload is
written or read. Blocking waits are ``threading.Condition`` waits with optional timeouts, woken by
the other side's ``publish``/``release`` and by ``close``/``reset``: nothing spins.

Closing: ``close()`` wakes both sides. The producer's ``claim``/``publish`` then raise
``RingClosed``. The consumer still gets every published slot; once it has drained them, waiting
for more raises the error given to ``close(error)`` (the producer's failure, re-raised in the
consumer's thread) or ``RingClosed`` when there was none.

Epochs: ``reset(epoch)`` raises the ring's epoch; slots whose ``meta.epoch`` is older are stale.
The consumer's next ``peek`` discards stale slots at the front before returning, so the consumer
alone moves ``tail`` and the producer never overwrites a slot the consumer may be reading. The
producer stamps non-decreasing epochs, so stale slots are always a prefix of the filled ones.
"""

from __future__ import annotations

import threading
import time
from typing import Callable, Generic, TypeVar

from rife_live.frames import FrameMeta

T = TypeVar("T")


class RingClosed(Exception):
    """The ring is closed: the producer may not add to it, or the consumer has drained it."""


class Ring(Generic[T]):
    """A fixed ring of preallocated payloads passed from one producer to one consumer."""

    def __init__(self, capacity: int, make_slot: Callable[[int], T]) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._payloads: tuple[T, ...] = tuple(make_slot(i) for i in range(capacity))
        self._metas: list[FrameMeta | None] = [None] * capacity
        self._head = 0  # slots published (producer-owned)
        self._tail = 0  # slots released (consumer-owned)
        self._epoch = 0
        self._closed = False
        self._error: BaseException | None = None
        self._claimed = False  # producer-only: a slot was claimed and not yet published
        self._lock = threading.Lock()
        self._space = threading.Condition(self._lock)  # producer waits here for a free slot
        self._data = threading.Condition(self._lock)  # consumer waits here for a filled slot

    # -- shared state ------------------------------------------------------------------------

    @property
    def fill(self) -> int:
        """Filled slots not yet released (stale ones included until the consumer skips them)."""
        return self._head - self._tail

    @property
    def epoch(self) -> int:
        """The current epoch: slots stamped with an older one are discarded by the consumer."""
        return self._epoch

    @property
    def closed(self) -> bool:
        """True once ``close`` was called (slots may still be waiting to be drained)."""
        return self._closed

    @property
    def payloads(self) -> tuple[T, ...]:
        """Every preallocated payload, in slot order (for pinning or registering them once)."""
        return self._payloads

    # -- producer ----------------------------------------------------------------------------

    def claim(self, timeout: float | None = None) -> T | None:
        """The next free slot's payload, to fill in place before ``publish``.

        Waits up to ``timeout`` seconds for a free slot (None: until one frees or the ring
        closes; 0: not at all). Returns None on timeout; raises ``RingClosed`` once closed.
        """
        deadline = _deadline(timeout)
        with self._lock:
            while not self._closed and self._head - self._tail >= self.capacity:
                if not _wait(self._space, deadline):
                    return None
            if self._closed:
                raise RingClosed("ring closed")
            self._claimed = True
            return self._payloads[self._head % self.capacity]

    def publish(self, meta: FrameMeta) -> None:
        """Make the claimed slot visible to the consumer, described by ``meta``."""
        if not self._claimed:
            raise RuntimeError("publish() without a claimed slot")
        self._metas[self._head % self.capacity] = meta
        with self._lock:
            self._claimed = False
            if self._closed:
                raise RingClosed("ring closed")
            self._head += 1
            self._data.notify()

    # -- consumer ----------------------------------------------------------------------------

    def peek(self, timeout: float | None = None) -> tuple[FrameMeta, T] | None:
        """The oldest filled slot's metadata and payload, without consuming it.

        Discards stale slots (older epoch) first. Waits up to ``timeout`` seconds (None: until
        a slot comes or the ring closes); returns None on timeout. Once the ring is closed and
        drained, raises the error given to ``close`` or ``RingClosed``.
        """
        return self._peek(0, timeout, discard_stale=True)

    def peek_at(self, i: int, timeout: float | None = 0.0) -> tuple[FrameMeta, T] | None:
        """The ``i``-th filled slot (0: the oldest), without consuming anything.

        Does not discard stale slots (``peek`` does); by default does not wait. Returns None if
        slot ``i`` is not there within ``timeout``. When the ring is closed and slot ``i`` will
        never come, raises ``RingClosed`` for ``i > 0`` (the slots before it are still to be
        drained) and, for ``i == 0``, the error given to ``close`` or ``RingClosed``.
        """
        if i < 0:
            raise ValueError(f"slot index must be >= 0, got {i}")
        return self._peek(i, timeout, discard_stale=False)

    def release(self, count: int = 1) -> None:
        """Consume the ``count`` oldest filled slots; the producer may reuse them at once."""
        with self._lock:
            if not 0 < count <= self._head - self._tail:
                raise RuntimeError(f"release({count}) with {self._head - self._tail} filled slots")
            self._tail += count
            self._space.notify()

    def _peek(self, i: int, timeout: float | None, discard_stale: bool) -> tuple[FrameMeta, T] | None:
        deadline = _deadline(timeout)
        with self._lock:
            while True:
                if discard_stale:
                    self._discard_stale_locked()
                if self._head - self._tail > i:
                    index = (self._tail + i) % self.capacity
                    meta = self._metas[index]
                    assert meta is not None  # published slots always carry their meta
                    return meta, self._payloads[index]
                if self._closed:
                    if i > 0 or self._error is None:
                        raise RingClosed("ring closed")
                    raise self._error
                if not _wait(self._data, deadline):
                    return None

    def _discard_stale_locked(self) -> None:
        dropped = 0
        while self._head - self._tail > 0:
            meta = self._metas[self._tail % self.capacity]
            if meta is None or meta.epoch >= self._epoch:
                break
            self._tail += 1
            dropped += 1
        if dropped:
            self._space.notify()

    # -- either side -------------------------------------------------------------------------

    def close(self, error: BaseException | None = None) -> None:
        """Close the ring and wake both sides. The first error given is kept and re-raised to
        the consumer after it drains. Closing twice is harmless."""
        with self._lock:
            self._closed = True
            if error is not None and self._error is None:
                self._error = error
            self._space.notify_all()
            self._data.notify_all()

    def reset(self, epoch: int) -> None:
        """Start ``epoch`` (seek, reconnect): filled slots of older epochs become stale and the
        consumer's next ``peek`` discards them. Epochs never go back."""
        with self._lock:
            if epoch < self._epoch:
                raise ValueError(f"epoch {epoch} is older than the ring's epoch {self._epoch}")
            self._epoch = epoch
            self._space.notify_all()
            self._data.notify_all()


def _deadline(timeout: float | None) -> float | None:
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, got {timeout}")
    return None if timeout is None else time.monotonic() + timeout


def _wait(condition: threading.Condition, deadline: float | None) -> bool:
    """Wait on ``condition`` (its lock held) until notified or ``deadline``; False if past it."""
    if deadline is None:
        condition.wait()
        return True
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return False
    condition.wait(remaining)
    return True
