"""Tests of rife_live.pipeline.ring: the SPSC ring between stages, with real threads."""

from __future__ import annotations

import random
import threading
import time
import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from rife_live.frames import FrameMeta
from rife_live.pipeline.ring import Ring, RingClosed

JOIN_S = 10.0  # generous bound for a thread to finish once woken (a hang fails, not a slow run)
FRAME_SHAPE = (36, 64, 3)


def numpy_ring(capacity: int, shape: tuple[int, ...] = FRAME_SHAPE) -> Ring[np.ndarray]:
    return Ring(capacity, lambda i: np.zeros(shape, dtype=np.uint32))


def meta(i: int, epoch: int = 0) -> FrameMeta:
    return FrameMeta(pts=Fraction(i, 25), epoch=epoch, source_index=i)


def put(ring: Ring[np.ndarray], i: int, epoch: int = 0) -> None:
    payload = ring.claim(timeout=0)
    assert payload is not None
    payload[...] = i
    ring.publish(meta(i, epoch))


class Worker(threading.Thread):
    """A thread that keeps its target's result or exception for the test to check."""

    def __init__(self, target) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.result = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._target_fn()
        except BaseException as exc:  # handed to the test thread, which re-raises or checks it
            self.error = exc

    def finish(self):
        self.join(JOIN_S)
        assert not self.is_alive(), "thread still blocked"
        return self.result


@pytest.mark.parametrize("capacity", [1, 3, 8])
def test_threads_pass_thousands_of_frames_in_order_in_place(capacity):
    count = 3000
    ring = numpy_ring(capacity)
    payload_ids = [id(p) for p in ring.payloads]

    def produce():
        rng = random.Random(1)
        for i in range(count):
            payload = ring.claim(timeout=JOIN_S)
            assert payload is not None
            assert id(payload) == payload_ids[i % capacity]  # the same objects cycle
            payload[...] = i
            if rng.random() < 0.05:
                time.sleep(rng.random() * 0.001)
            ring.publish(meta(i))
        ring.close()

    def consume():
        rng = random.Random(2)
        seen = 0
        while True:
            try:
                got = ring.peek(timeout=JOIN_S)
            except RingClosed:
                return seen
            assert got is not None
            frame_meta, payload = got
            assert frame_meta.source_index == seen and frame_meta.pts == Fraction(seen, 25)
            assert id(payload) == payload_ids[seen % capacity]
            if rng.random() < 0.05:
                time.sleep(rng.random() * 0.001)
            assert payload.min() == payload.max() == seen  # not overwritten while held
            ring.release()
            seen += 1

    producer, consumer = Worker(produce), Worker(consume)
    producer.start()
    consumer.start()
    producer.finish()
    assert consumer.finish() == count
    assert producer.error is None and consumer.error is None
    assert ring.fill == 0


def test_no_allocation_per_frame():
    frame_bytes = 1280 * 720 * 3
    ring: Ring[np.ndarray] = Ring(4, lambda i: np.zeros(frame_bytes, dtype=np.uint8))
    source = np.arange(frame_bytes, dtype=np.uint8)
    tracemalloc.start()
    try:
        for i in range(200):
            payload = ring.claim(timeout=0)
            assert payload is not None
            np.copyto(payload, source)
            ring.publish(meta(i))
            got = ring.peek(timeout=0)
            assert got is not None and got[0].source_index == i
            ring.release()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < frame_bytes // 16  # nothing frame-sized was allocated on the way


def test_timeouts_return_none():
    ring = numpy_ring(2)
    assert ring.peek(timeout=0) is None
    assert ring.peek(timeout=0.02) is None
    assert ring.peek_at(0) is None
    put(ring, 0)
    put(ring, 1)
    assert ring.fill == 2
    assert ring.claim(timeout=0) is None
    assert ring.claim(timeout=0.02) is None
    assert ring.peek_at(2, timeout=0.02) is None
    with pytest.raises(ValueError):
        ring.claim(timeout=-1)


def test_claim_twice_gives_same_slot_and_misuse_is_refused():
    ring = numpy_ring(2)
    with pytest.raises(RuntimeError):
        ring.publish(meta(0))
    first = ring.claim(timeout=0)
    assert ring.claim(timeout=0) is first
    ring.publish(meta(0))
    with pytest.raises(RuntimeError):
        ring.publish(meta(1))
    with pytest.raises(RuntimeError):
        ring.release(2)
    with pytest.raises(ValueError):
        ring.peek_at(-1)
    with pytest.raises(ValueError):
        Ring(0, lambda i: None)


def test_peek_at_looks_ahead_and_release_many_drops():
    ring = numpy_ring(5)
    for i in range(4):
        put(ring, i)
    assert [ring.peek_at(i)[0].source_index for i in range(4)] == [0, 1, 2, 3]
    assert ring.peek_at(4) is None
    assert int(ring.peek_at(2)[1][0, 0, 0]) == 2
    ring.release(3)  # a live presenter drops the late ones
    frame_meta, payload = ring.peek(timeout=0)
    assert frame_meta.source_index == 3 and int(payload[0, 0, 0]) == 3
    assert ring.fill == 1


def test_peek_at_waits_for_the_producer():
    ring = numpy_ring(4)
    put(ring, 0)
    waiter = Worker(lambda: ring.peek_at(1, timeout=JOIN_S))
    waiter.start()
    put(ring, 1)
    frame_meta, payload = waiter.finish()
    assert frame_meta.source_index == 1 and int(payload[0, 0, 0]) == 1


def test_close_lets_consumer_drain_then_raises_ring_closed():
    ring = numpy_ring(4)
    put(ring, 0)
    put(ring, 1)
    ring.close()
    assert ring.closed
    with pytest.raises(RingClosed):
        ring.claim(timeout=0)
    with pytest.raises(RingClosed):
        ring.peek_at(2)  # slot 2 will never come, slots 0 and 1 are still there
    for i in range(2):
        frame_meta, _ = ring.peek()
        assert frame_meta.source_index == i
        ring.release()
    with pytest.raises(RingClosed):
        ring.peek()
    with pytest.raises(RingClosed):
        ring.peek_at(0, timeout=None)


def test_producer_error_reaches_consumer_after_drain():
    ring = numpy_ring(4)
    failure = OSError("decode failed")

    def produce():
        for i in range(3):
            put(ring, i)
        try:
            raise failure
        except OSError as exc:
            ring.close(exc)

    def consume():
        seen = []
        try:
            while True:
                frame_meta, _ = ring.peek(timeout=JOIN_S)
                seen.append(frame_meta.source_index)
                ring.release()
        except OSError as exc:
            return seen, exc

    consumer = Worker(consume)
    consumer.start()
    producer = Worker(produce)
    producer.start()
    producer.finish()
    seen, error = consumer.finish()
    assert seen == [0, 1, 2]
    assert error is failure
    ring.close(ValueError("later"))  # the first error stays
    with pytest.raises(OSError):
        ring.peek(timeout=0)


def test_close_wakes_a_blocked_consumer():
    ring = numpy_ring(2)
    consumer = Worker(lambda: ring.peek(timeout=None))
    consumer.start()
    consumer.join(0.05)
    assert consumer.is_alive()  # really blocked in peek
    ring.close()
    consumer.finish()
    assert isinstance(consumer.error, RingClosed)


def test_close_wakes_a_blocked_producer():
    ring = numpy_ring(1)
    put(ring, 0)
    producer = Worker(lambda: ring.claim(timeout=None))
    producer.start()
    producer.join(0.05)
    assert producer.is_alive()  # really blocked in claim (ring full)
    ring.close()
    producer.finish()
    assert isinstance(producer.error, RingClosed)


def test_consumer_side_close_stops_a_producer_mid_frame():
    ring = numpy_ring(2)
    assert ring.claim(timeout=0) is not None
    ring.close()  # e.g. the sink failed and shut the pipeline down
    with pytest.raises(RingClosed):
        ring.publish(meta(0))
    assert ring.fill == 0


def test_reset_discards_older_epochs_on_next_peek():
    ring = numpy_ring(4)
    for i in range(3):
        put(ring, i, epoch=0)
    ring.reset(1)
    assert ring.epoch == 1
    assert ring.fill == 3  # stale slots count until the consumer skips them
    put(ring, 10, epoch=1)
    frame_meta, payload = ring.peek(timeout=0)
    assert (frame_meta.epoch, frame_meta.source_index, int(payload[0, 0, 0])) == (1, 10, 10)
    assert ring.fill == 1
    with pytest.raises(ValueError):
        ring.reset(0)


def test_reset_never_overwrites_a_slot_the_consumer_holds():
    ring = numpy_ring(2)
    put(ring, 0, epoch=0)
    held_meta, held = ring.peek(timeout=0)
    ring.reset(1)
    put(ring, 1, epoch=1)
    assert ring.claim(timeout=0) is None  # the held stale slot is not handed to the producer
    assert held_meta.source_index == 0 and held.min() == held.max() == 0
    ring.release()
    frame_meta, _ = ring.peek(timeout=0)
    assert frame_meta.source_index == 1


def test_stale_slots_unblock_a_producer_when_the_consumer_peeks():
    ring = numpy_ring(2)
    put(ring, 0)
    put(ring, 1)
    ring.reset(1)
    producer = Worker(lambda: ring.claim(timeout=JOIN_S))
    producer.start()
    producer.join(0.05)
    assert producer.is_alive()
    assert ring.peek(timeout=0) is None  # discards both stale slots, nothing new yet
    assert producer.finish() is not None


def test_threads_with_seeks_see_no_stale_frame_after_a_newer_one():
    ring = numpy_ring(3)
    epochs, per_epoch = 20, 50

    def produce():
        rng = random.Random(3)
        for epoch in range(epochs):
            ring.reset(epoch)
            for i in range(per_epoch):
                payload = ring.claim(timeout=JOIN_S)
                assert payload is not None
                payload[...] = epoch * per_epoch + i
                if rng.random() < 0.05:
                    time.sleep(rng.random() * 0.001)
                ring.publish(meta(i, epoch))
        ring.close()

    def consume():
        rng = random.Random(4)
        seen = []
        while True:
            try:
                frame_meta, payload = ring.peek(timeout=JOIN_S)
            except RingClosed:
                return seen
            if rng.random() < 0.05:
                time.sleep(rng.random() * 0.001)
            assert payload.min() == payload.max() == frame_meta.epoch * per_epoch + frame_meta.source_index
            seen.append((frame_meta.epoch, frame_meta.source_index))
            ring.release()

    producer, consumer = Worker(produce), Worker(consume)
    producer.start()
    consumer.start()
    producer.finish()
    seen = consumer.finish()
    assert producer.error is None and consumer.error is None
    assert seen == sorted(seen)  # by epoch, then in order within it
    for epoch in range(epochs):
        indices = [i for e, i in seen if e == epoch]
        assert indices == list(range(len(indices)))  # a prefix: only the tail of an epoch is dropped
    assert [i for e, i in seen if e == epochs - 1] == list(range(per_epoch))  # the last epoch whole
