"""The interpolation thread: ring A (source frames) -> ring B (output frames), DESIGN.md §2.

It holds the previous source frame in ring A (slot 0) while the next one arrives (slot 1), asks
the timing scheduler which output timestamps fall in the pair and at which t, classifies the pair
(scene cut, static, or motion) and runs the network **once per pair**, only when some output of
the pair needs it; every output frame of the pair is synthesized from that one pass. t = 0 is the
source frame itself, a cut or a static pair repeats the earlier frame (no ghosting across a cut).

Ring B slots are HxWx3 uint8 (Hx2Wx3 with ``montage``: the source frame left, the output right,
labelled "source" and "interpolated"); uint16 for sources deeper than 8 bits, like ring A.
Output frames carry their source frame's ``FrameMeta.color``.
Errors end the thread and reach the consumer of ring B (re-raised by its ``peek``).

Live mode (``InterpolateOptions.clock`` given: the presenter's clock, media seconds): the thread
runs ahead of the presenter as far as ring B allows (the read-ahead), and ``pacing.Pacing``
decides the flow scale and the stride from how full that read-ahead stays, and turns outputs that
cannot make their deadline into misses (the source frame stands in), so the thread never falls
behind the clock because of the network. ``set_interpolation`` and ``set_scale`` change behaviour
at any time from any thread (taken at the next pair). Source frames of an epoch that ring A has
left behind (a seek) are skipped without a pass.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

import numpy as np

from rife_live.font import scale_for_height, stamp_label
from rife_live.frames import FrameKind, FrameMeta
from rife_live.pipeline.pacing import Pacing, PacingStats
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.scenes import PairKind, SceneConfig, SceneDetector
from rife_live.timing import OutputScheduler, OutputSlot

if TYPE_CHECKING:  # the engine (torch) loads only when the caller builds one
    from rife_live.models.engine import FlowState, Interpolator, PreparedFrame

POLL_S = 0.1  # blocked waits re-check the stop flag this often (timed waits, not a spin)
JOIN_TIMEOUT_S = 5.0
MS_PER_S = 1000.0
MONTAGE_LABELS = ("source", "interpolated")  # the montage's left and right halves


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
    clock: Callable[[], float] | None = None  # live mode: the presenter's clock (None: export)
    lead_s: float = 0.0  # live: the read-ahead to keep (ring B's length in seconds)
    adaptive: bool = False  # live: move the scale (up to ``scale``) to what the machine sustains


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
    stale_frames: int = 0  # source frames of an old epoch dropped without a pass
    pacing: PacingStats = field(default_factory=PacingStats)

    def as_dict(self) -> dict[str, object]:
        return {
            "source_frames": self.source_frames, "pairs": self.pairs, "network_passes": self.network_passes,
            "outputs": self.outputs, "kinds": {str(k): v for k, v in self.kinds.items()},
            "network_ms_per_pass": 1000 * self.network_s / self.network_passes if self.network_passes else None,
            "synthesize_ms_per_frame": (1000 * self.synthesize_s / self.kinds[FrameKind.INTERP]
                                        if self.kinds[FrameKind.INTERP] else None),
            "stale_frames": self.stale_frames, **self.pacing.as_dict(),
        }


def output_shape(height: int, width: int, montage: bool) -> tuple[int, int, int]:
    return (height, 2 * width if montage else width, 3)


def make_output_ring(height: int, width: int, montage: bool, capacity: int,
                     dtype: np.dtype = np.dtype(np.uint8)) -> Ring[np.ndarray]:
    shape = output_shape(height, width, montage)
    return Ring(capacity, lambda _i: np.zeros(shape, dtype))


class InterpolateThread:
    """Owns its thread; ``start``/``stop``/``join``. Owns the engine while it runs."""

    def __init__(self, engine: Interpolator, ring_in: Ring[np.ndarray], ring_out: Ring[np.ndarray],
                 options: InterpolateOptions) -> None:
        self.engine = engine
        self.ring_in = ring_in
        self.ring_out = ring_out
        self.options = options
        self.pacing = Pacing(options.scale, clock=options.clock, lead_s=options.lead_s, adaptive_on=options.adaptive,
                             interpolate=options.interpolate)
        self.stats = InterpolateStats(pacing=self.pacing.stats)
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._prepared_scale: float | None = None
        self._newest: Fraction | None = None  # pts of the newest output published
        self._waited_s = 0.0  # this pair's time blocked on a full ring B
        self._thread = threading.Thread(target=self._run, name="rife-interpolate", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end after the work in hand (a network pass in flight finishes); on its
        way out it closes both rings, so every side wakes."""
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
            stale = prev[0].epoch < max(self.ring_in.epoch, self.ring_out.epoch)
            if meta1.epoch != prev[0].epoch or stale:
                # a seek or reconnect: the pair spans two timelines, or its timeline was left
                self.ring_in.release(1)
                self.stats.stale_frames += stale
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
                self._publish(prev, None, slot, FrameKind.SOURCE, None)
        if stream_done:
            self.ring_in.release(1)
            self.ring_in.peek(timeout=0)  # re-raises the decoder's error, if one ended the stream

    def _slot_kind(self, slot: OutputSlot, pair_kind: PairKind, interpolate: bool) -> FrameKind:
        if slot.t == 0 or not interpolate:
            return FrameKind.SOURCE
        return pair_kind.frame_kind

    def _emit_pair(self, prev: tuple[FrameMeta, np.ndarray], cur: tuple[FrameMeta, np.ndarray],
                   slots: list[OutputSlot], pair_kind: PairKind, prepared: PreparedFrame | None) -> PreparedFrame | None:
        """Every output of the pair (prev, cur); returns ``cur`` prepared if the network ran."""
        pacing = self.pacing
        started = time.perf_counter()
        self._waited_s = 0.0  # time blocked on a full ring B: not work
        scale, interpolate = pacing.begin_pair(prev[0].pts)
        if prepared is not None and self._prepared_scale != scale:
            prepared = None  # prepared for another scale's padding
        kinds = [self._slot_kind(slot, pair_kind, interpolate) for slot in slots]
        wanted = FrameKind.INTERP in kinds and pacing.takes_pair()  # a stride may leave the pair out
        wanted_outputs = kinds.count(FrameKind.INTERP) if wanted else 0
        if wanted:
            kinds = pacing.plan(slots, kinds, scale)  # live: outputs the pass cannot make in time are misses
            if FrameKind.INTERP not in kinds:
                pacing.skipped_pass(scale)
        else:
            kinds = [FrameKind.MISS if k is FrameKind.INTERP else k for k in kinds]
        state: FlowState | None = None
        new_prepared: PreparedFrame | None = None
        interval = 1 / self.options.target_fps
        if pacing.warm_up_due() and pair_kind is PairKind.INTERPOLATE:
            # live, interpolation off from the start: one pass now, while the session holds its
            # clock for the first frames, so turning it on later finds the engine warm and timed
            state, new_prepared = self._pass(prev, cur, prepared, scale)
        for slot, kind in zip(slots, kinds):
            if kind is FrameKind.INTERP and state is None:
                state, new_prepared = self._pass(prev, cur, prepared, scale)
            if kind is FrameKind.INTERP and pacing.too_late(slot, interval):
                kind = FrameKind.MISS  # already stale: a newer frame is due before this one could be shown
            self._publish(prev, cur, slot, kind, state)
        if pair_kind is PairKind.INTERPOLATE and interpolate:
            busy_s = time.perf_counter() - started - self._waited_s
            pacing.end_pair(prev[0].pts, cur[0].pts, busy_s, wanted, wanted_outputs if state is None else 0,
                            self._newest, scale)
        return new_prepared

    def _pass(self, prev: tuple[FrameMeta, np.ndarray], cur: tuple[FrameMeta, np.ndarray],
              prepared: PreparedFrame | None, scale: float) -> tuple[FlowState, PreparedFrame]:
        """One network pass over the pair; returns its state and ``cur`` prepared."""
        expected = self.pacing.times.expected_s(scale) if self.pacing.times.measured else None
        t0 = time.perf_counter()
        p0 = prepared if prepared is not None else self.engine.prepare(prev[1], scale)
        p1 = self.engine.prepare(cur[1], scale)
        self._prepared_scale = scale
        state = self.engine.flow(p0, p1, scale)
        elapsed = time.perf_counter() - t0
        self.stats.network_s += elapsed
        self.stats.network_passes += 1
        self.pacing.record_pass(scale, elapsed, expected)
        return state, p1

    def _publish(self, prev: tuple[FrameMeta, np.ndarray], cur: tuple[FrameMeta, np.ndarray] | None,
                 slot: OutputSlot, kind: FrameKind, state: FlowState | None) -> None:
        """Write one output into ring B."""
        out = self._claim()
        width = prev[1].shape[1]
        target = out[:, width:] if self.options.montage else out
        if kind is FrameKind.INTERP:
            t0 = time.perf_counter()
            np.copyto(target, np.asarray(self.engine.synthesize(state, slot.t)))
            spent = time.perf_counter() - t0
            self.stats.synthesize_s += spent
            self.pacing.times.record_synth(spent * MS_PER_S)
        else:
            np.copyto(target, prev[1])
        if self.options.montage:
            np.copyto(out[:, :width], prev[1])
            scale = scale_for_height(out.shape[0])
            stamp_label(out[:, :width], MONTAGE_LABELS[0], scale)
            stamp_label(target, MONTAGE_LABELS[1], scale)
        meta = prev[0]
        self.ring_out.publish(FrameMeta(pts=slot.pts, epoch=meta.epoch, source_index=meta.source_index,
                                        duration=1 / self.options.target_fps, kind=kind, t=slot.t, color=meta.color))
        self.stats.outputs += 1
        self.stats.kinds[kind] += 1
        self._newest = slot.pts

    def _claim(self) -> np.ndarray:
        started = time.perf_counter()
        try:
            while True:
                if self._stop.is_set():
                    raise RingClosed("stopped")
                out = self.ring_out.claim(timeout=POLL_S)
                if out is not None:
                    return out
        finally:
            self._waited_s += time.perf_counter() - started
