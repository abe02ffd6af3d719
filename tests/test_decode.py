"""pipeline/decode.py: the decode thread into ring A, audio for playback, range, seeks, reconnects, errors.

Real clips from ``tests/media.py`` and bigbuckbunny; the PCM target is the real ``AudioFifo``.
References are decoded independently with plain PyAV calls.
"""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live import color
from rife_live.audio.fifo import AudioFifo
from rife_live.colorinfo import WIDEN_8_TO_16
from rife_live.frames import FrameMeta
from rife_live.pipeline.convert import make_frame_ring
from rife_live.pipeline.decode import DecodeOptions, DecodeThread
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.source import SourceOptions
from tests import media

WAIT_S = 30.0  # upper bound for a step that should take a fraction of a second
RATE = 48000


def drain(ring: Ring[np.ndarray], limit: int | None = None) -> list[tuple[FrameMeta, np.ndarray]]:
    """Consume ring A until it closes (re-raising the producer's error) or ``limit`` frames."""
    out: list[tuple[FrameMeta, np.ndarray]] = []
    while limit is None or len(out) < limit:
        try:
            got = ring.peek(timeout=WAIT_S)
        except RingClosed:
            break
        assert got is not None, "decode produced nothing within the wait bound"
        meta, slot = got
        out.append((meta, slot.copy()))
        ring.release()
    return out


def decode_all(target, options: DecodeOptions | None = None, capacity: int = 4, **kwargs):
    src = open_source(target)
    ring = make_frame_ring(src.video, capacity)
    thread = DecodeThread(src, ring, options, **kwargs)
    thread.start()
    frames = drain(ring)
    assert thread.join(WAIT_S)
    return frames, thread


def reference_frames(path: Path, format: str = "rgb24", **to_ndarray) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format=format, **to_ndarray) for f in container.decode(video=0)]


# --- video --------------------------------------------------------------------------------------


def test_bbb_exact_pts_and_bt709_pixels(bbb_path: Path) -> None:
    frames, thread = decode_all(bbb_path)
    assert [m.pts for m, _ in frames] == [Fraction(k, 25) for k in range(132)]
    assert all(isinstance(m.pts, Fraction) for m, _ in frames)
    assert [m.source_index for m, _ in frames] == list(range(132))
    assert {m.epoch for m, _ in frames} == {0}
    assert thread.error is None and thread.stats.frames == 132 and thread.stats.corrupt_packets == 0
    with av.open(str(bbb_path)) as container:
        first = next(container.decode(video=0))
        bt709 = first.to_ndarray(format="rgb24", src_colorspace="itu709")
        bt601 = first.to_ndarray(format="rgb24")  # PyAV's default for untagged streams
    assert frames[0][1].shape == (720, 1280, 3) and frames[0][1].dtype == np.uint8
    np.testing.assert_array_equal(frames[0][1], bt709)
    assert not np.array_equal(frames[0][1], bt601)


def test_rotated_clip_is_upright(media_cache) -> None:
    path = media_cache.get("rot.mp4", media.make_rotated_clip, rotation=90, width=64, height=48)
    frames, _ = decode_all(path)
    stored = reference_frames(path)
    assert len(frames) == len(stored) == 4
    for (_, upright), raw in zip(frames, stored):
        assert upright.shape == (64, 48, 3)
        np.testing.assert_array_equal(upright, np.rot90(raw, k=1))  # PyAV: 90 counter-clockwise


def test_odd_size(media_cache) -> None:
    path = media_cache.get("odd.mp4", media.make_odd_size_clip)
    frames, _ = decode_all(path)
    ref = reference_frames(path)
    assert [f.shape for _, f in frames] == [(241, 321, 3)] * 4
    for (_, got), want in zip(frames, ref):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("codec", ["libx265", "libx264"])
def test_10bit_to_16bit_rgb(tmp_path: Path, codec: str) -> None:
    path = media.make_10bit_clip(tmp_path / "ten.mkv", codec=codec, width=128, height=96)
    frames, _ = decode_all(path)
    source = media.bbb_frames(128, 96, 4)
    assert [(f.shape, f.dtype) for _, f in frames] == [((96, 128, 3), np.dtype(np.uint16))] * 4
    for (meta, got), want in zip(frames, source):
        assert media.psnr(color.narrow_to_uint8(got), want) > 30  # the picture that went in, through 10 bits
        assert np.any(got % WIDEN_8_TO_16)  # more than 8 bits kept: not every value is an 8-bit one widened
        assert meta.color is not None and meta.color.bit_depth == 10
    reference = reference_frames(path, format="rgb48le", src_colorspace="itu601")
    for (_, got), want in zip(frames, reference):  # untagged 96-line video: BT.601, PyAV's own conversion
        np.testing.assert_array_equal(got, want)


def test_image_folder_in_numeric_order(media_cache) -> None:
    folder = media_cache.get("imgs", media.make_image_folder, count=12)
    frames, _ = decode_all(folder)
    assert [m.pts for m, _ in frames] == [Fraction(k, 25) for k in range(12)]
    for k, (_, got) in enumerate(frames):
        with av.open(str(folder / f"{k}.png")) as c:
            np.testing.assert_array_equal(got, next(c.decode(video=0)).to_ndarray(format="rgb24"))


def test_jpeg_folder_full_range(tmp_path: Path) -> None:
    folder = media.make_image_folder(tmp_path / "jpg", count=3, ext="jpg", width=128, height=96)
    frames, _ = decode_all(folder)
    for (_, got), want in zip(frames, media.bbb_frames(128, 96, 3)):
        assert media.psnr(got, want) > 28  # full-range JPEG read as full range (no washed-out grey)


def test_vfr_pts(media_cache) -> None:
    path = media_cache.get("vfr.mkv", media.make_vfr_clip)
    frames, _ = decode_all(path)
    assert [m.pts for m, _ in frames] == [Fraction(ms, 1000) for ms in media.DEFAULT_VFR_PTS_MS]


# --- range --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "first", "last"),
    [
        (2.0, 3.0, Fraction(2), Fraction(74, 25)),
        (2.01, 2.99, Fraction(2), Fraction(74, 25)),
        (None, 0.5, Fraction(0), Fraction(12, 25)),
        (5.0, None, Fraction(5), Fraction(131, 25)),
    ],
)
def test_start_end(bbb_path: Path, start, end, first, last) -> None:
    frames, _ = decode_all(bbb_path, DecodeOptions(start=start, end=end))
    pts = [m.pts for m, _ in frames]
    assert pts[0] == first and pts[-1] == last
    assert pts == [first + Fraction(k, 25) for k in range(len(pts))]


def test_trimmed_frame_pixels_match_the_untrimmed_ones(bbb_path: Path) -> None:
    trimmed, _ = decode_all(bbb_path, DecodeOptions(start=2.0, end=2.2))
    full = reference_frames(bbb_path, src_colorspace="itu709")
    for meta, pixels in trimmed:
        np.testing.assert_array_equal(pixels, full[int(meta.pts * 25)])


def test_seek_request_starts_a_new_epoch(bbb_path: Path) -> None:
    src = open_source(bbb_path)
    ring = make_frame_ring(src.video, 3)
    thread = DecodeThread(src, ring)
    thread.start()
    before = drain(ring, limit=2)
    thread.request_seek(4.0)
    while True:  # frames decoded before the request was seen may still come, in the old epoch
        meta, _ = drain(ring, limit=1)[0]
        if meta.epoch == 1:
            break
    assert meta.pts == 4 and meta.source_index == 0
    rest = drain(ring)
    assert [m.pts for m, _ in rest] == [4 + Fraction(k, 25) for k in range(1, 32)]  # to 131/25
    assert [m.pts for m, _ in before] == [0, Fraction(1, 25)]
    assert thread.join(WAIT_S)


# --- audio --------------------------------------------------------------------------------------


def test_pcm_for_playback_is_exact_in_range(bbb_path: Path) -> None:
    fifo = AudioFifo(2, 10 * RATE)
    frames, thread = decode_all(bbb_path, DecodeOptions(start=2.0, end=3.0), pcm=fifo)
    assert len(frames) == 25
    assert fifo.fill == RATE  # exactly one second of samples: [2, 3)
    assert fifo.eof
    out = np.zeros((RATE, 2), np.float32)
    count, first_pts = fifo.read_into(out)
    assert count == RATE and first_pts == 2.0
    assert np.abs(out).max() > 0.01  # real sound, not silence


def test_pcm_whole_file_and_downmix(bbb_path: Path) -> None:
    fifo = AudioFifo(1, 10 * RATE)
    _, thread = decode_all(bbb_path, DecodeOptions(pcm_rate=44100, pcm_channels=1), pcm=fifo)
    assert thread.stats.audio_items == 249
    expected = 249 * 1024 * 44100 // 48000
    assert abs(fifo.fill - expected) < 64  # the resampler keeps a few samples of filter delay


# --- errors and shutdown ------------------------------------------------------------------------


def test_error_in_the_thread_reaches_the_consumer(media_cache) -> None:
    path = media_cache.get("clip.mp4", media.make_clip, frames=4)
    src = open_source(path)
    wrong = Ring(2, lambda _i: np.zeros((48, 64, 4), np.uint8))  # RGBA slots: RGB cannot be copied in
    thread = DecodeThread(src, wrong)
    thread.start()
    with pytest.raises(ValueError):
        drain(wrong)
    assert thread.join(WAIT_S) and isinstance(thread.error, ValueError)


def test_damaged_middle_is_survived(tmp_path: Path) -> None:
    """A third of an MPEG-TS file overwritten with noise (TS headers kept): decoding goes on."""
    path = media.make_clip(tmp_path / "clip.ts", frames=40, width=160, height=96)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(7)
    middle = slice(len(data) // 3, 2 * len(data) // 3)
    noise = rng.integers(0, 256, middle.stop - middle.start, dtype=np.uint8).tobytes()
    for offset in range(middle.start, middle.stop, 188):  # keep TS sync bytes, trash the payloads
        data[offset + 4:offset + 188] = noise[offset - middle.start:offset - middle.start + 184]
    damaged = tmp_path / "damaged.ts"
    damaged.write_bytes(bytes(data))
    frames, thread = decode_all(damaged)
    assert thread.error is None
    assert 0 < len(frames) < 40
    pts = [m.pts for m, _ in frames]
    assert pts == sorted(set(pts)) and pts[-1] == Fraction(39, 25)  # the end after the damage


def test_joining_mid_stream_starts_at_the_next_keyframe(tmp_path: Path) -> None:
    full = media.make_clip(tmp_path / "gop10.ts", frames=60, width=160, height=96, codec_options={"g": "10"})
    joined = media.make_mid_stream_join(full, tmp_path / "joined.ts", fraction=0.4)
    frames, thread = decode_all(joined)
    assert thread.error is None and 0 < len(frames) < 60 and len(frames) % 10 == 0  # from a keyframe on
    assert [m.pts for m, _ in frames] == [Fraction(k, 25) for k in range(len(frames))]
    reference = reference_frames(full, src_colorspace="itu601")
    np.testing.assert_array_equal(frames[-1][1], reference[-1])


def test_stop_mid_decode_joins(bbb_path: Path) -> None:
    src = open_source(bbb_path)
    ring = make_frame_ring(src.video, 2)
    thread = DecodeThread(src, ring)
    thread.start()
    assert ring.peek(timeout=WAIT_S) is not None  # running, and soon blocked on a full ring
    thread.stop()
    assert thread.join(WAIT_S)
    assert ring.closed and thread.error is None
    assert src.container is None  # the thread closed its source


def test_consumer_closing_the_ring_ends_the_thread(bbb_path: Path) -> None:
    src = open_source(bbb_path)
    ring = make_frame_ring(src.video, 2)
    thread = DecodeThread(src, ring)
    thread.start()
    assert ring.peek(timeout=WAIT_S) is not None
    ring.close()
    assert thread.join(WAIT_S) and thread.consumer_closed and thread.error is None


# --- live ---------------------------------------------------------------------------------------


def test_live_source_reconnects_with_a_new_epoch() -> None:
    """A live source that ends (5 frames, then EOF) is reopened; the timeline continues."""
    target = "lavfi:testsrc2=size=64x48:rate=25:duration=0.2"
    reopened: list[int] = []

    def reopen(old, stop: threading.Event):
        if len(reopened) == 2:
            return None  # give up: the thread ends
        reopened.append(1)
        return open_source(target, SourceOptions())

    frames, thread = decode_all(target, reconnect=reopen)
    epochs = [m.epoch for m, _ in frames]
    assert epochs == [0] * 5 + [1] * 5 + [2] * 5
    assert [m.pts for m, _ in frames] == [Fraction(k, 25) for k in range(15)]
    assert thread.stats.reconnects == 2


def test_live_stop_while_waiting_for_reconnect() -> None:
    target = "lavfi:testsrc2=size=64x48:rate=25:duration=0.1"
    src = open_source(target)
    ring = make_frame_ring(src.video, 4)
    entered = threading.Event()

    def reopen(old, stop: threading.Event):
        entered.set()
        stop.wait()  # a long backoff, cut short by stop()
        return None

    thread = DecodeThread(src, ring, reconnect=reopen)
    thread.start()
    assert entered.wait(WAIT_S)
    thread.stop()
    assert thread.join(WAIT_S)
    assert len(drain(ring)) == 3 and ring.closed
