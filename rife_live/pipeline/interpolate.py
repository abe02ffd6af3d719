"""The interpolation thread: ring A (source frames) -> ring B (output frames), DESIGN.md §1.

It holds the previous source frame in ring A (slot 0) while the next one arrives (slot 1), asks
the timing scheduler which output timestamps fall in the pair and at which t, classifies the pair
(scene cut, static, or motion) and runs the network **once per pair**, only when some output of
the pair needs it; every output frame of the pair is synthesized from that one pass. t = 0 is the
source frame itself, a cut or a static pair repeats the earlier frame (no ghosting across a cut).

Ring B slots are HxWx3 uint8 (Hx2Wx3 with ``montage``: the source frame left, the output right).
Errors end the thread and reach the consumer of ring B (re-raised by its ``peek``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from rife_live.frames import FrameMeta
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.scenes import PairKind, SceneConfig, SceneDetector
from rife_live.timing import OutputScheduler, OutputSlot

if TYPE_CHECKING:  # the engine (torch) loads only when the caller builds one
    from rife_live.models.engine import FlowState, Interpolator, PreparedFrame

POLL_S = 0.1  # blocked waits re-check the stop flag this often (timed waits, not a spin)
JOIN_TIMEOUT_S = 5.0
KIND_SOURCE = "source"


@dataclass(frozen=True)
class InterpolateOptions:
    """``frame_duration``: how long the last source frame lasts (1/fps for a CFR file; None: as
    long as the pair before it). ``start``/``end`` trim the output timeline (source seconds)."""

    target_fps: Fraction
    scale: float = 1.0
    start: Fraction | None = None
    end: Fraction | None = None
    frame_duration: Fraction | None = None
    montage: bool = False
    interpolate: bool = True
    scenes: SceneConfig = field(default_factory=SceneConfig)


@dataclass
class InterpolateStats:
    """Counters written by the interpolation thread only (others may read them at any time)."""

    source_frames: int = 0
    pairs: int = 0
    network_passes: int = 0
    outputs: int = 0
    kinds: Counter = field(default_factory=Counter)
    network_s: float = 0.0
    synthesize_s: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "source_frames": self.source_frames, "pairs": self.pairs, "network_passes": self.network_passes,
            "outputs": self.outputs, "kinds": dict(self.kinds),
            "network_ms_per_pass": 1000 * self.network_s / self.network_passes if self.network_passes else None,
            "synthesize_ms_per_frame": (1000 * self.synthesize_s / self.kinds["interp"]
                                        if self.kinds["interp"] else None),
        }


def output_shape(height: int, width: int, montage: bool) -> tuple[int, int, int]:
    return (height, 2 * width if montage else width, 3)


def make_output_ring(height: int, width: int, montage: bool, capacity: int) -> Ring[np.ndarray]:
    shape = output_shape(height, width, montage)
    return Ring(capacity, lambda _i: np.zeros(shape, np.uint8))


class InterpolateThread:
    """Owns its thread; ``start``/``stop``/``join``. Owns the engine while it runs."""

    def __init__(self, engine: Interpolator, ring_in: Ring[np.ndarray], ring_out: Ring[np.ndarray],
                 options: InterpolateOptions) -> None:
        self.engine = engine
        self.ring_in = ring_in
        self.ring_out = ring_out
        self.options = options
        self.stats = InterpolateStats()
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rife-interpolate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end soon; both rings are closed so every side wakes."""
        self._stop.set()

    def join(self, timeout: float | None = JOIN_TIMEOUT_S) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        error: BaseException | None = None
        try:
            self._loop()
        except RingClosed:
            pass  # the consumer of ring B went away (stop, or the sink failed): nothing to report
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the consumer of ring B
            error = exc
            self.error = exc
        finally:
            self.ring_out.close(error)
            self.ring_in.close()  # tells the decode thread that nobody reads any more

    def _loop(self) -> None:
        opts = self.options
        detector = SceneDetector(opts.scenes)
        scheduler: OutputScheduler | None = None
        prev: tuple[FrameMeta, np.ndarray] | None = None
        prepared: PreparedFrame | None = None
        while not self._stop.is_set():
            if prev is None:
                got = self.ring_in.peek(timeout=POLL_S)  # discards slots of older epochs
                if got is None:
                    continue
                prev = got
                scheduler = OutputScheduler(opts.target_fps, opts.start, opts.end)
                scheduler.push(got[0].pts)
                detector.reset()
                detector.push(got[1])
                prepared = None
                self.stats.source_frames += 1
                continue
            try:
                got = self.ring_in.peek_at(1, timeout=POLL_S)
            except RingClosed:
                self._finish(prev, scheduler)
                return
            if got is None:
                continue
            meta1, image1 = got
            if meta1.epoch != prev[0].epoch:  # a seek or reconnect: the pair spans two timelines
                self.ring_in.release(1)
                prev = None
                continue
            self.stats.source_frames += 1
            self.stats.pairs += 1
            slots = scheduler.push(meta1.pts)
            decision = detector.push(image1)
            prepared = self._emit_pair(prev, got, slots, decision.kind, prepared)
            self.ring_in.release(1)
            prev = got
            if scheduler.finished:
                self._finish(prev, scheduler, stream_done=False)
                return

    def _finish(self, prev: tuple[FrameMeta, np.ndarray], scheduler: OutputScheduler, stream_done: bool = True) -> None:
        """The last frame's tail (copies of it up to its end), then end ring B."""
        if not scheduler.finished:
            end = prev[0].pts + self.options.frame_duration if self.options.frame_duration else None
            for slot in scheduler.finish(end):
                self._publish(prev, None, slot, KIND_SOURCE, None)
        if stream_done:
            self.ring_in.release(1)
            self.ring_in.peek(timeout=0)  # re-raises the decoder's error, if one ended the stream

    def _emit_pair(self, prev: tuple[FrameMeta, np.ndarray], cur: tuple[FrameMeta, np.ndarray],
                   slots: list[OutputSlot], pair_kind: PairKind, prepared: PreparedFrame | None) -> PreparedFrame | None:
        """Every output of the pair (prev, cur); returns ``cur`` prepared if the network ran."""
        state: FlowState | None = None
        new_prepared: PreparedFrame | None = None
        for slot in slots:
            if slot.t == 0:
                kind = KIND_SOURCE
            elif not self.options.interpolate:
                kind = KIND_SOURCE
            elif pair_kind is PairKind.CUT:
                kind = PairKind.CUT.value
            elif pair_kind is PairKind.STATIC:
                kind = PairKind.STATIC.value
            else:
                kind = PairKind.INTERPOLATE.value
                if state is None:
                    scale = self.options.scale
                    t0 = time.perf_counter()
                    p0 = prepared if prepared is not None else self.engine.prepare(prev[1], scale)
                    new_prepared = self.engine.prepare(cur[1], scale)
                    state = self.engine.flow(p0, new_prepared, scale)
                    self.stats.network_s += time.perf_counter() - t0
                    self.stats.network_passes += 1
            self._publish(prev, cur, slot, kind, state)
        return new_prepared

    def _publish(self, prev: tuple[FrameMeta, np.ndarray], cur: tuple[FrameMeta, np.ndarray] | None,
                 slot: OutputSlot, kind: str, state: FlowState | None) -> None:
        out = self._claim()
        width = prev[1].shape[1]
        target = out[:, width:] if self.options.montage else out
        if kind == PairKind.INTERPOLATE.value:
            t0 = time.perf_counter()
            np.copyto(target, np.asarray(self.engine.synthesize(state, slot.t)))
            self.stats.synthesize_s += time.perf_counter() - t0
        else:
            np.copyto(target, prev[1])
        if self.options.montage:
            np.copyto(out[:, :width], prev[1])
        meta = prev[0]
        self.ring_out.publish(FrameMeta(pts=slot.pts, epoch=meta.epoch, source_index=meta.source_index,
                                        duration=1 / self.options.target_fps, kind=kind, t=slot.t))
        self.stats.outputs += 1
        self.stats.kinds[kind] += 1

    def _claim(self) -> np.ndarray:
        while True:
            if self._stop.is_set():
                raise RingClosed("stopped")
            out = self.ring_out.claim(timeout=POLL_S)
            if out is not None:
                return out
