"""The interpolation thread on real footage, fed by hand through ring A (no decoder, no sink).

Each test publishes source frames into ring A, runs ``InterpolateThread`` with the real engine and
reads ring B on the test thread. Frames are small downscales of bigbuckbunny and bikes (real motion,
real cuts) so the network costs little on the CPU.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import InputError
from rife_live.frames import FrameMeta
from rife_live.models.engine import Interpolator
from rife_live.pipeline.interpolate import InterpolateOptions, InterpolateThread, make_output_ring
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.scenes import PairKind, SceneDetector
from rife_live.timing import outputs_in_pair, outputs_in_tail
from tests import media

WIDTH, HEIGHT = 96, 64
FPS = Fraction(25)
BIKES = Path(__file__).resolve().parent / "data" / "bikes.mp4"
BIKES_CUT = 30  # first frame of bikes' second shot
BIKES_SIZE = (160, 68)  # a quarter of 640x272
WAIT_S = 60.0  # generous bound for one output under a loaded machine (a hang fails, a slow run does not)
OUTPUT_RING_SLOTS = 4


@pytest.fixture(scope="module")
def engine() -> Interpolator:
    return Interpolator(log=lambda _m: None)


@pytest.fixture(scope="module")
def bbb() -> list[np.ndarray]:
    return media.bbb_frames(WIDTH, HEIGHT, 6, start=60)


def _bikes(start: int, count: int) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    with av.open(str(BIKES)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= start:
                out.append(frame.to_ndarray(width=BIKES_SIZE[0], height=BIKES_SIZE[1], format="rgb24"))
            if len(out) == count:
                break
    return out


def _source_ring(frames: list[np.ndarray], pts: list[Fraction], epochs: list[int] | None = None,
                 close: bool = True, error: BaseException | None = None) -> Ring[np.ndarray]:
    """Ring A holding every frame (room for all: the test thread publishes them up front)."""
    shape = frames[0].shape
    ring: Ring[np.ndarray] = Ring(len(frames) + 1, lambda _i: np.zeros(shape, np.uint8))
    for index, (image, when) in enumerate(zip(frames, pts)):
        slot = ring.claim(timeout=0)
        assert slot is not None
        np.copyto(slot, image)
        ring.publish(FrameMeta(pts=when, epoch=epochs[index] if epochs else 0, source_index=index))
    if close:
        ring.close(error)
    return ring


def _cfr(count: int) -> list[Fraction]:
    return [Fraction(i) / FPS for i in range(count)]


def _run(engine: Interpolator, ring_a: Ring[np.ndarray], options: InterpolateOptions,
         ) -> tuple[list[tuple[FrameMeta, np.ndarray]], InterpolateThread]:
    """Start the thread, collect every output (copied) until ring B ends, join."""
    height, width = ring_a.payloads[0].shape[:2]
    ring_b = make_output_ring(height, width, options.montage, OUTPUT_RING_SLOTS)
    thread = InterpolateThread(engine, ring_a, ring_b, options)
    thread.start()
    outputs: list[tuple[FrameMeta, np.ndarray]] = []
    try:
        while True:
            try:
                got = ring_b.peek(timeout=WAIT_S)
            except RingClosed:
                break
            assert got is not None, "no output within the wait: the interpolation thread hangs"
            outputs.append((got[0], got[1].copy()))
            ring_b.release()
    finally:
        thread.stop()
        assert thread.join(WAIT_S)
    return outputs, thread


def test_outputs_follow_the_timing_rule_with_one_network_pass_per_pair(engine, bbb) -> None:
    frames = bbb[:4]
    options = InterpolateOptions(target_fps=4 * FPS, frame_duration=1 / FPS)
    outputs, thread = _run(engine, _source_ring(frames, _cfr(4)), options)

    assert [m.pts for m, _ in outputs] == [Fraction(k, 100) for k in range(16)]
    assert [m.t for m, _ in outputs] == [Fraction(k % 4, 4) for k in range(12)] + [Fraction(0)] * 4  # tail: copies
    assert [m.source_index for m, _ in outputs] == [k // 4 for k in range(16)]
    assert all(m.duration == Fraction(1, 100) for m, _ in outputs)
    assert thread.stats.network_passes == 3 and thread.stats.pairs == 3 and thread.stats.outputs == 16
    # The last frame's tail (it lasts 1/25 s) is copies of it.
    for k, (meta, image) in enumerate(outputs):
        pair = k // 4
        if pair == 3 or meta.t == 0:
            assert meta.kind == "source"
            np.testing.assert_array_equal(image, frames[pair])
        else:
            assert meta.kind == PairKind.INTERPOLATE.value
            expected = engine.synthesize(engine.flow(frames[pair], frames[pair + 1]), meta.t)
            np.testing.assert_array_equal(image, expected)  # bit for bit: the pipeline never alters frames
    middle = outputs[2][1]
    np.testing.assert_array_equal(middle, engine.interpolate(frames[0], frames[1]))
    assert not np.array_equal(middle, frames[0]) and not np.array_equal(middle, frames[1])


def test_variable_frame_rate_pairs_use_their_real_pts(engine, bbb) -> None:
    pts = [Fraction(0), Fraction(40, 1000), Fraction(100, 1000), Fraction(120, 1000)]
    rate = Fraction(50)
    outputs, thread = _run(engine, _source_ring(bbb[:4], pts), InterpolateOptions(target_fps=rate))

    expected = [s for a, b in zip(pts, pts[1:]) for s in outputs_in_pair(a, b, 0, rate)]
    expected += outputs_in_tail(pts[-1], pts[-1] + (pts[-1] - pts[-2]), 0, rate)  # lasts as long as the last pair
    assert [(m.pts, m.t) for m, _ in outputs] == [(s.pts, s.t) for s in expected]
    # Pair (0.1, 0.12) only holds the output at 0.1 (t = 0): the network runs for the other two only.
    assert thread.stats.network_passes == 2
    assert {m.kind for m, _ in outputs} == {"source", "interp"}


def test_static_pairs_are_copied_without_the_network(engine, bbb) -> None:
    frames = [bbb[0]] * 3
    outputs, thread = _run(engine, _source_ring(frames, _cfr(3)),
                           InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS))

    assert len(outputs) == 6
    assert thread.stats.network_passes == 0
    assert [m.kind for m, _ in outputs] == ["source", "copy", "source", "copy", "source", "source"]
    for _meta, image in outputs:
        np.testing.assert_array_equal(image, bbb[0])


def test_a_scene_cut_repeats_the_last_frame_of_the_first_shot(engine) -> None:
    frames = _bikes(BIKES_CUT - 2, 4)
    detector = SceneDetector()
    kinds = [d.kind for d in map(detector.push, frames) if d is not None]
    assert kinds == [PairKind.INTERPOLATE, PairKind.CUT, PairKind.INTERPOLATE]  # the premise: a real cut
    outputs, thread = _run(engine, _source_ring(frames, _cfr(4)),
                           InterpolateOptions(target_fps=3 * FPS, frame_duration=1 / FPS))

    assert thread.stats.network_passes == 2
    cut = [(m, image) for m, image in outputs if m.source_index == 1]
    assert [m.kind for m, _ in cut] == ["source", "cut", "cut"]
    for _meta, image in cut:
        np.testing.assert_array_equal(image, frames[1])  # never a mix of the two shots
    after = [m.kind for m, _ in outputs if m.source_index == 2]
    assert after == ["source", "interp", "interp"]


def test_interpolation_off_repeats_each_source_frame(engine, bbb) -> None:
    outputs, thread = _run(engine, _source_ring(bbb[:3], _cfr(3)),
                           InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS, interpolate=False))

    assert thread.stats.network_passes == 0
    assert [m.kind for m, _ in outputs] == ["source"] * 6
    for meta, image in outputs:
        np.testing.assert_array_equal(image, bbb[meta.source_index])


def test_montage_puts_the_source_left_and_the_output_right(engine, bbb) -> None:
    outputs, _thread = _run(engine, _source_ring(bbb[:2], _cfr(2)),
                            InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS, montage=True))

    assert len(outputs) == 4
    for meta, image in outputs:
        assert image.shape == (HEIGHT, 2 * WIDTH, 3)
        np.testing.assert_array_equal(image[:, :WIDTH], media.labelled(bbb[meta.source_index], "source"))
    np.testing.assert_array_equal(outputs[1][1][:, WIDTH:], media.labelled(engine.interpolate(bbb[0], bbb[1]), "interpolated"))
    np.testing.assert_array_equal(outputs[0][1][:, WIDTH:], media.labelled(bbb[0], "interpolated"))


def test_start_and_end_trim_the_output_and_skip_unneeded_pairs(engine, bbb) -> None:
    start, end = Fraction(1, 25), Fraction(3, 25)
    ring_a = _source_ring(bbb[:6], _cfr(6), close=False)  # the decoder would still be running
    outputs, thread = _run(engine, ring_a, InterpolateOptions(target_fps=2 * FPS, start=start, end=end,
                                                              frame_duration=1 / FPS))

    assert [m.pts for m, _ in outputs] == [start + Fraction(k, 50) for k in range(4)]
    assert thread.stats.network_passes == 2  # pair (0, 1/25) lies before start: no pass for it
    assert ring_a.closed  # the decoder is told that nobody reads any more


def test_a_decoder_error_reaches_the_consumer_after_the_frames_before_it(engine, bbb) -> None:
    ring_a = _source_ring(bbb[:3], _cfr(3), error=InputError("decode failed at frame 3"))
    ring_b = make_output_ring(HEIGHT, WIDTH, False, OUTPUT_RING_SLOTS)
    thread = InterpolateThread(engine, ring_a, ring_b, InterpolateOptions(target_fps=2 * FPS))
    thread.start()
    seen = 0
    with pytest.raises(InputError, match="decode failed at frame 3"):
        while True:
            got = ring_b.peek(timeout=WAIT_S)
            assert got is not None, "no output within the wait: the interpolation thread hangs"
            seen += 1
            ring_b.release()
    assert thread.join(WAIT_S)
    assert seen == 6  # two pairs and the last frame's tail came first
    assert isinstance(thread.error, InputError)


def test_a_pair_across_a_seek_is_never_interpolated(engine, bbb) -> None:
    frames = [bbb[0], bbb[1], bbb[4], bbb[5]]
    pts = [Fraction(0), Fraction(1, 25), Fraction(4, 25), Fraction(5, 25)]
    outputs, thread = _run(engine, _source_ring(frames, pts, epochs=[0, 0, 1, 1]),
                           InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS))

    assert [(m.epoch, m.pts) for m, _ in outputs] == [
        (0, Fraction(0)), (0, Fraction(1, 50)),
        (1, Fraction(4, 25)), (1, Fraction(9, 50)), (1, Fraction(5, 25)), (1, Fraction(11, 50)),
    ]
    assert thread.stats.network_passes == 2
    np.testing.assert_array_equal(outputs[2][1], frames[2])  # the new timeline starts on its own frame


def test_stop_ends_a_thread_blocked_on_a_full_output_ring(engine, bbb) -> None:
    ring_a = _source_ring(bbb[:4], _cfr(4), close=False)
    ring_b = make_output_ring(HEIGHT, WIDTH, False, 1)
    thread = InterpolateThread(engine, ring_a, ring_b, InterpolateOptions(target_fps=4 * FPS))
    thread.start()
    assert ring_b.peek(timeout=WAIT_S) is not None  # one output waits unread; the thread blocks on the next
    thread.stop()
    assert thread.join(WAIT_S)
    assert ring_b.closed and ring_a.closed
    assert thread.error is None


def test_live_far_ahead_of_the_clock_every_pair_gets_the_network(engine, bbb) -> None:
    frames = bbb[:5]
    options = InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS, scale=0.25, clock=lambda: -1e6,
                                 lead_s=1.0, adaptive=True)
    outputs, thread = _run(engine, _source_ring(frames, _cfr(5)), options)
    kinds = [str(m.kind) for m, _ in outputs]
    assert kinds == ["source", "interp"] * 4 + ["source", "source"]  # full read-ahead: nothing left out (the tail copies)
    pacing = thread.stats.pacing
    assert thread.stats.network_passes == 4 and pacing.stride_skips == 0 and pacing.skipped_passes == 0
    assert pacing.scale == 0.25 and pacing.share == 1 and pacing.changes == []


def test_live_outputs_that_cannot_make_their_deadline_are_misses_never_late(engine, bbb) -> None:
    frames = bbb[:6]
    options = InterpolateOptions(target_fps=2 * FPS, frame_duration=1 / FPS, scale=0.25, clock=lambda: 1e6,
                                 lead_s=1.0)  # every output is long overdue
    outputs, thread = _run(engine, _source_ring(frames, _cfr(6)), options)
    kinds = [str(m.kind) for m, _ in outputs]
    assert "interp" not in kinds and kinds.count("miss") == 5  # the source frame stands in
    assert thread.stats.network_passes == 1  # the first pass warms the engine and times it; then none
    pacing = thread.stats.pacing
    assert pacing.skipped_passes + pacing.stride_skips == 4 and pacing.scale == 0.25  # a fixed scale only strides
