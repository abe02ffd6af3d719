"""pipeline/source.py: opening every kind of input, the facts it reports, its errors, seek, backoff.

Media are real files written by ``tests/media.py``; network errors use real sockets on 127.0.0.1
(a closed port, and a listener that never answers).
"""

from __future__ import annotations

import socket
import threading
from fractions import Fraction
from pathlib import Path

import av
import pytest

from rife_live.errors import InputError
from rife_live.pipeline.source import (
    HD_MIN_HEIGHT,
    KIND_FILE,
    KIND_IMAGES,
    KIND_LAVFI,
    KIND_NETWORK,
    KIND_WEBCAM,
    RECONNECT_BACKOFF_FACTOR,
    RECONNECT_FIRST_DELAY_S,
    RECONNECT_MAX_DELAY_S,
    SourceOptions,
    backoff_delay,
    classify,
    clockwise_rotation,
    image_number,
    list_images,
    open_source,
    pick_colorspace,
    reconnect,
    upright_size,
)
from tests import media

SHORT_TIMEOUT = SourceOptions(timeout_s=1.0)


# --- pure helpers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("clip.mp4", KIND_FILE),
        ("file:///tmp/clip.mp4", KIND_FILE),
        ("rtsp://cam.local/stream", KIND_NETWORK),
        ("udp://127.0.0.1:5000", KIND_NETWORK),
        ("https://example.org/v.mp4", KIND_NETWORK),
        ("/dev/video0", KIND_WEBCAM),
        ("v4l2:/dev/video2", KIND_WEBCAM),
        ("lavfi:testsrc2", KIND_LAVFI),
    ],
)
def test_classify(target: str, kind: str) -> None:
    assert classify(target) == kind


def test_classify_folder_and_unknown_scheme(tmp_path: Path) -> None:
    assert classify(str(tmp_path)) == KIND_IMAGES
    with pytest.raises(InputError, match="unsupported input URL scheme 'gopher://'"):
        classify("gopher://x")


def test_pick_colorspace_tag_first_then_height() -> None:
    assert pick_colorspace(1, 480) == "bt709"  # tagged BT.709 on SD stays BT.709
    assert pick_colorspace(6, 1080) == "bt601"  # tagged SMPTE 170M on HD stays BT.601
    assert pick_colorspace(5, 1080) == "bt601"
    assert pick_colorspace(9, 2160) == "bt2020"
    assert pick_colorspace(2, HD_MIN_HEIGHT) == "bt709"  # unspecified: by height
    assert pick_colorspace(2, HD_MIN_HEIGHT - 1) == "bt601"
    assert pick_colorspace(None, 1080) == "bt709"


def test_rotation_helpers() -> None:
    # PyAV reports counter-clockwise degrees; VideoInfo keeps clockwise ones.
    assert clockwise_rotation(90) == 270
    assert clockwise_rotation(-90) == 90  # a phone held upright (iPhone: "rotation -90")
    assert clockwise_rotation(180) == 180
    assert clockwise_rotation(0) == 0
    assert upright_size(1920, 1080, 90) == (1080, 1920)
    assert upright_size(1920, 1080, 180) == (1920, 1080)


def test_images_sort_by_number(tmp_path: Path) -> None:
    for name in ("10.png", "2.png", "1.png", "frame_0003.png", "notes.txt", "cover.png"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["1.png", "2.png", "frame_0003.png", "10.png"]
    assert image_number("shot_12_0040.jpg") == 40
    assert image_number("cover.png") is None


def test_backoff_doubles_and_caps() -> None:
    delays = [backoff_delay(a) for a in range(8)]
    assert delays[0] == RECONNECT_FIRST_DELAY_S
    for before, after in zip(delays, delays[1:]):
        assert after == min(RECONNECT_MAX_DELAY_S, before * RECONNECT_BACKOFF_FACTOR)
    assert delays[-1] == RECONNECT_MAX_DELAY_S
    with pytest.raises(ValueError):
        backoff_delay(-1)


# --- opening real media -------------------------------------------------------------------------


def test_bbb_facts(bbb_path: Path) -> None:
    with open_source(bbb_path) as src:
        assert src.kind == KIND_FILE and not src.is_live
        v = src.video
        assert (v.width, v.height, v.fps, v.codec, v.pix_fmt) == (1280, 720, Fraction(25), "h264", "yuv420p")
        assert v.duration == Fraction(132, 25) and v.frame_count == 132
        assert v.rotation == 0 and v.colorspace == "bt709"  # untagged HD
        assert src.audio is not None and (src.audio.sample_rate, src.audio.channels) == (48000, 6)
        assert src.origin == 0
        video = [f for f in src.items() if isinstance(f, av.VideoFrame)]
        assert [src.relative_time(f) for f in video] == [Fraction(k, 25) for k in range(132)]


def test_small_clip_sd_is_bt601_and_tag_wins(media_cache) -> None:
    untagged = media_cache.get("sd.mp4", media.make_clip, frames=2)
    tagged = media_cache.get("hd601.mp4", media.make_clip, width=1280, height=720, frames=2, color_tag="bt601")
    tagged709 = media_cache.get("sd709.mp4", media.make_clip, frames=2, color_tag="bt709")
    with open_source(untagged) as src:
        assert src.video.colorspace == "bt601"
    with open_source(tagged) as src:
        assert src.video.colorspace == "bt601"
    with open_source(tagged709) as src:
        assert src.video.colorspace == "bt709"


def test_rotated_clip_reports_upright_size(media_cache) -> None:
    path = media_cache.get("rot.mp4", media.make_rotated_clip, rotation=90, width=64, height=48)
    with open_source(path) as src:
        assert (src.video.width, src.video.height) == (48, 64)
        assert src.video.rotation == 270  # written as 90 counter-clockwise


@pytest.mark.parametrize(
    ("maker", "kwargs", "size", "pix_fmt"),
    [
        (media.make_odd_size_clip, {}, (321, 241), "yuv444p"),
        (media.make_10bit_clip, {}, (64, 48), "yuv420p10le"),
        (media.make_10bit_clip, {"codec": "libx264"}, (64, 48), "yuv420p10le"),
        (media.make_one_frame_clip, {}, (64, 48), "yuv420p"),
    ],
)
def test_clip_variants_open(media_cache, maker, kwargs, size, pix_fmt) -> None:
    path = media_cache.get("v.mkv" if maker is media.make_10bit_clip else "v.mp4", maker, **kwargs)
    with open_source(path) as src:
        assert (src.video.width, src.video.height) == size
        assert src.video.pix_fmt == pix_fmt


def test_image_folder(media_cache, tmp_path: Path) -> None:
    folder = media_cache.get("imgs", media.make_image_folder, count=12)
    with open_source(folder) as src:
        assert src.kind == KIND_IMAGES and not src.is_live and src.container is None
        assert (src.video.width, src.video.height, src.video.frame_count) == (64, 48, 12)
        frames = list(src.items())
        assert [src.relative_time(f) for f in frames] == [Fraction(k, 25) for k in range(12)]
    with open_source(folder, SourceOptions(image_fps=Fraction(30000, 1001))) as src:
        assert src.video.fps == Fraction(30000, 1001)
        assert src.video.duration == 12 / Fraction(30000, 1001)


def test_vfr_clip_keeps_real_pts(media_cache) -> None:
    path = media_cache.get("vfr.mkv", media.make_vfr_clip)
    with open_source(path) as src:
        pts = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert pts == [Fraction(ms, 1000) for ms in media.DEFAULT_VFR_PTS_MS]


def test_mpegts_start_offset_becomes_origin(media_cache) -> None:
    path = media_cache.get("clip.ts", media.make_clip, frames=4)
    with open_source(path) as src:
        assert src.origin > 0  # MPEG-TS timestamps start after a muxing delay
        pts = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert pts == [Fraction(k, 25) for k in range(4)]


def test_lavfi_is_live() -> None:
    with open_source("lavfi:testsrc2=size=96x64:rate=30") as src:
        assert src.is_live and src.kind == KIND_LAVFI
        assert (src.video.width, src.video.height, src.video.duration) == (96, 64, None)
        first = next(iter(src.items()))
        assert isinstance(first, av.VideoFrame)
        with pytest.raises(InputError, match="cannot seek in a live source"):
            src.seek(1.0)


# --- seek ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "first"),
    [(2.0, Fraction(2)), (2.01, Fraction(2)), (1.99, Fraction(49, 25)), (0, Fraction(0)), (Fraction(131, 25), Fraction(131, 25))],
)
def test_seek_lands_on_the_frame_on_screen(bbb_path: Path, position, first) -> None:
    with open_source(bbb_path) as src:
        src.seek(position)
        video = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert video[0] == first
    assert video == [first + Fraction(k, 25) for k in range(len(video))]
    assert video[-1] == Fraction(131, 25)


def test_seek_skips_audio_before_target(bbb_path: Path) -> None:
    with open_source(bbb_path) as src:
        src.seek(3)
        audio = [f for f in src.items() if isinstance(f, av.AudioFrame)]
        ends = [src.relative_time(f) + Fraction(f.samples, f.sample_rate) for f in audio]
    assert audio and min(ends) > 3


def test_image_folder_seek(media_cache) -> None:
    folder = media_cache.get("imgs", media.make_image_folder, count=12)
    with open_source(folder) as src:
        src.seek(Fraction(5, 25) + Fraction(1, 100))
        assert [src.relative_time(f) for f in src.items()] == [Fraction(k, 25) for k in range(5, 12)]


# --- bad inputs ---------------------------------------------------------------------------------


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        open_source(tmp_path / "nope.mp4")
    assert _one_line(exc) == f"input not found: {tmp_path / 'nope.mp4'}"


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("random.mp4", lambda p: media.make_random_bytes(p), "not a media file"),
        ("empty.mp4", lambda p: (p.write_bytes(b""), p)[1], "input is empty"),
        ("half.mp4", lambda p: media.make_truncated(media.make_clip(p.with_name("full.mp4"), frames=6), p),
         "not a media file"),
        ("audio.m4a", lambda p: media.make_audio_only(p), "no video stream"),
        ("audio.wav", lambda p: media.make_audio_only(p), "no video stream"),
        ("zero.mkv", lambda p: media.make_zero_frame_clip(p), "no video frames"),
        ("unsupported.mkv", lambda p: media.make_unsupported_codec_clip(p), "unsupported video codec"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, make, expected: str) -> None:
    path = make(tmp_path / name)
    with pytest.raises(InputError) as exc:
        open_source(path)
    text = _one_line(exc)
    assert expected in text and str(path) in text


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(InputError, match="no numbered PNG/JPEG images"):
        open_source(tmp_path)


@pytest.mark.parametrize("target", ["/dev/video0", "v4l2:/dev/video7"])
def test_missing_webcam(target: str) -> None:
    device = target.removeprefix("v4l2:")
    if Path(device).exists():
        pytest.skip(f"{device} exists on this machine")
    with pytest.raises(InputError) as exc:
        open_source(target)
    assert _one_line(exc) == f"no webcam at {device} (device does not exist)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.net
@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_refused_url(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{_closed_port()}/stream"
    with pytest.raises(InputError) as exc:
        open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc).startswith(f"cannot reach {url}")


@pytest.mark.net
@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_silent_server_times_out(scheme: str) -> None:
    """A server that accepts the connection and never answers: the open gives up at the timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"{scheme}://127.0.0.1:{server.getsockname()[1]}/stream"
        with pytest.raises(InputError) as exc:
            open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc).startswith(f"cannot reach {url}")


@pytest.mark.net
def test_udp_without_sender_times_out() -> None:
    url = f"udp://127.0.0.1:{_closed_port()}"
    with pytest.raises(InputError) as exc:
        open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc) == f"cannot reach {url}: no answer within 1 s"


def test_bad_rtsp_transport() -> None:
    with pytest.raises(InputError, match="rtsp_transport must be one of"):
        open_source("rtsp://127.0.0.1:1/x", SourceOptions(rtsp_transport="carrier-pigeon"))


# --- reconnect ----------------------------------------------------------------------------------


@pytest.mark.net
def test_reconnect_backs_off_then_gives_up() -> None:
    url = f"rtsp://127.0.0.1:{_closed_port()}/stream"
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
