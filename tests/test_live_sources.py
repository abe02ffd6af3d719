"""Live inputs against real servers on 127.0.0.1: RTSP (GStreamer), UDP MPEG-TS (PyAV), HTTP.

The servers (``tests/live_servers.py``) are killed mid-stream and started again on the same port;
the decode thread must reconnect (new epoch, ``stats.reconnects == 1``, the timeline continuing one
frame after the last delivered pts). A slow consumer must not build up latency: stale frames are
skipped and counted (``stats.dropped_stale``). Unreachable and missing inputs end with one line.

Measurements (reconnect time after the server is back, send-to-decode latency) are printed
(``pytest -s``) and attached to the report with ``record_property``.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import re
import signal
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import InputError
from rife_live.frames import FrameMeta
from rife_live.pipeline.convert import make_frame_ring
from rife_live.pipeline.decode import DecodeOptions, DecodeThread
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.source import SourceOptions
from tests import live_servers, media
from tests.live_servers import RtspServer, UdpTsSender, wall_pts_latency

pytestmark = pytest.mark.net

WAIT_S = 20.0  # upper bound for a step that normally takes a second or two
RECONNECT_BOUND_S = 5.0  # the lead's requirement: frames flow again within 5 s of the server's return
DOWN_S = 1.5  # how long a killed server stays down (longer than the read timeout below)
READ_TIMEOUT_S = 1.0  # UDP has no end of stream: a silent second counts as a drop
RING_SLOTS = 6  # as the player's ring A
FRAMES_BEFORE = 10  # frames consumed before the server is killed
FRAMES_AFTER = 10  # frames consumed after the reconnect
SLOW_RING_SLOTS = 3
SLOW_CONSUMER_S = 0.2  # a consumer at 5 fps behind a 25 fps source
SLOW_FRAMES = 12
LATENCY_BOUND_S = 1.5  # (ring + 1) x consumer period + the link: without dropping it grows ~0.16 s per frame


@functools.cache
def _rtsp_missing() -> str | None:
    return live_servers.rtsp_server_available()


@pytest.fixture
def rtsp_server():
    reason = _rtsp_missing()
    if reason is not None:
        pytest.skip(reason)
    with RtspServer() as server:
        yield server


@pytest.fixture
def udp_sender():
    with UdpTsSender() as sender:
        yield sender


def next_frame(ring: Ring[np.ndarray], deadline: float) -> tuple[FrameMeta, np.ndarray, float]:
    """The next frame of ring A (meta, a copy of the pixels, the wall time it was taken)."""
    got = ring.peek(timeout=max(0.0, deadline - time.monotonic()))
    assert got is not None, "no frame before the deadline"
    meta, slot = got
    pixels = slot.copy()
    ring.release()
    return meta, pixels, time.time()


class LiveRun:
    """A DecodeThread on a live source with the test as its consumer."""

    def __init__(self, url: str, options: SourceOptions, decode: DecodeOptions | None = None,
                 slots: int = RING_SLOTS) -> None:
        self.source = open_source(url, options)
        self.origin = self.source.origin  # raw seconds of the first frame of epoch 0
        self.ring = make_frame_ring(self.source.video, slots)
        self.thread = DecodeThread(self.source, self.ring, decode)
        self.frames: list[tuple[FrameMeta, np.ndarray, float]] = []

    def __enter__(self) -> LiveRun:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.thread.stop()
        self.ring.close()
        assert self.thread.join(WAIT_S)

    def take(self, count: int, *, until: Callable[[FrameMeta], bool] | None = None) -> float:
        """Consume ``count`` frames (after the first one ``until`` accepts, if given); returns the
        wall time the first accepted frame arrived."""
        deadline = time.monotonic() + WAIT_S
        first_at = None
        taken = 0
        while taken < count:
            meta, pixels, at = next_frame(self.ring, deadline)
            self.frames.append((meta, pixels, at))
            if first_at is None and (until is None or until(meta)):
                first_at = at
            if first_at is not None:
                taken += 1
        assert first_at is not None
        return first_at


def check_reconnect(run: LiveRun, server, record_property, name: str, *, reconnects: int = 1) -> float:
    """Kill ``server`` mid-stream, restart it, and check the reconnect (or, with ``reconnects=0``,
    the discontinuity handled in place); returns the time to frames again (s)."""
    run.take(FRAMES_BEFORE)
    server.kill()
    time.sleep(DOWN_S)
    server.start()
    back_at = time.time()
    first_new_at = run.take(FRAMES_AFTER, until=lambda meta: meta.epoch >= 1)
    reconnect_s = first_new_at - back_at
    record_property(f"{name}_reconnect_s", round(reconnect_s, 3))
    print(f"\n{name}: frames again {reconnect_s:.2f} s after the server came back")

    stats = run.thread.stats
    assert (stats.reconnects, stats.discontinuities) == (reconnects, 1 - reconnects)
    old = [meta for meta, _, _ in run.frames if meta.epoch == 0]
    new = [meta for meta, _, _ in run.frames if meta.epoch == 1]
    assert len(old) >= FRAMES_BEFORE and len(new) >= FRAMES_AFTER
    assert [m.epoch for m, _, _ in run.frames] == [0] * len(old) + [1] * len(new)
    step = Fraction(1) / run.source.video.fps
    assert new[0].pts == old[-1].pts + step  # the timeline continues one frame after the last one
    pts = [m.pts for m, _, _ in run.frames]
    assert all(b > a for a, b in zip(pts, pts[1:]))
    assert [m.source_index for m in new[:3]] == [0, 1, 2]
    picture = run.frames[-1][1]
    assert picture.std() > 10  # a real picture after the reconnect, not a blank slot
    assert reconnect_s < RECONNECT_BOUND_S
    return reconnect_s


# --- RTSP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_rtsp_reconnects_after_the_server_restarts(rtsp_server: RtspServer, transport: str,
                                                   record_property) -> None:
    options = SourceOptions(rtsp_transport=transport, network_timeout=READ_TIMEOUT_S * 2)
    with LiveRun(rtsp_server.url, options) as run:
        assert run.source.is_live and run.source.realtime
        assert (run.source.video.width, run.source.video.height) == (live_servers.DEFAULT_WIDTH,
                                                                     live_servers.DEFAULT_HEIGHT)
        check_reconnect(run, rtsp_server, record_property, f"rtsp_{transport}")
    assert run.thread.error is None


# --- UDP MPEG-TS --------------------------------------------------------------------------------


def test_udp_reconnects_after_the_sender_restarts(udp_sender: UdpTsSender, record_property) -> None:
    with LiveRun(udp_sender.url, SourceOptions(network_timeout=READ_TIMEOUT_S)) as run:
        check_reconnect(run, udp_sender, record_property, "udp")
        latencies = [wall_pts_latency(meta.pts + run.origin, at) for meta, _, at in run.frames if meta.epoch == 0]
        median = statistics.median(latencies)
        record_property("udp_latency_median_s", round(median, 4))
        print(f"udp: send-to-consumer latency median {median * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
              f"corrupt packets {run.thread.stats.corrupt_packets}, dropped {run.thread.stats.dropped_stale}")
        assert run.thread.stats.dropped_stale == 0  # a fast consumer loses nothing
    assert run.thread.error is None


def test_udp_sender_back_within_the_read_timeout(udp_sender: UdpTsSender, record_property) -> None:
    """The sender is back before the (default, 10 s) read timeout: no reconnect, the socket just
    receives again; the pts jump over the gap is a discontinuity: a new epoch, timeline continued."""
    with LiveRun(udp_sender.url, SourceOptions()) as run:
        check_reconnect(run, udp_sender, record_property, "udp_in_place", reconnects=0)
    assert run.thread.error is None


def test_slow_consumer_gets_fresh_frames_and_the_skipped_ones_are_counted(udp_sender: UdpTsSender,
                                                                         record_property) -> None:
    """A consumer at 5 fps behind a 25 fps stream: the decode thread keeps at most ring A's
    frames and skips the rest, so the consumer's frames stay fresh; every skipped frame is counted
    (the pts gaps the consumer sees add up to ``dropped_stale``)."""
    with LiveRun(udp_sender.url, SourceOptions(network_timeout=READ_TIMEOUT_S * 2), slots=SLOW_RING_SLOTS) as run:
        fps = run.source.video.fps
        ages = []
        deadline = time.monotonic() + WAIT_S
        for _ in range(SLOW_FRAMES):
            meta, pixels, at = next_frame(run.ring, deadline)
            run.frames.append((meta, pixels, at))
            ages.append(wall_pts_latency(meta.pts + run.origin, at))
            time.sleep(SLOW_CONSUMER_S)  # the slow consumer's work on this frame
        while run.ring.fill:  # catch up; then one frame published into a ring with room: every
            run.frames.append(next_frame(run.ring, deadline))  # skipped frame lies before it
        run.frames.append(next_frame(run.ring, deadline))
        run.thread.stop()
        assert run.thread.join(WAIT_S)
        while True:  # what was still in ring A when the thread stopped
            try:
                run.frames.append(next_frame(run.ring, time.monotonic() + WAIT_S))
            except RingClosed:
                break
    stats = run.thread.stats
    pts = [meta.pts for meta, _, _ in run.frames]
    skipped = sum(round((b - a) * fps) - 1 for a, b in zip(pts, pts[1:]))
    record_property("slow_consumer_dropped", stats.dropped_stale)
    record_property("slow_consumer_age_last_s", round(ages[-1], 3))
    print(f"\nslow consumer: ages {[round(a, 2) for a in ages]} s, dropped {stats.dropped_stale}")
    assert stats.dropped_stale > 0
    assert skipped == stats.dropped_stale  # no frame lost that is not counted (and none on the link)
    assert max(ages[SLOW_RING_SLOTS:]) < LATENCY_BOUND_S


def test_udp_join_mid_stream_starts_clean(udp_sender: UdpTsSender) -> None:
    """Joining a running stream: the first frame handed out is a keyframe with real pixels;
    packets before it that fail to decode are skipped and counted, never raised."""
    time.sleep(0.3)  # the sender is mid-GOP now
    with open_source(udp_sender.url, SourceOptions(network_timeout=WAIT_S / 4)) as src:
        frames = []
        for item in src.items():
            if isinstance(item, av.VideoFrame):
                frames.append(item)
                if len(frames) == 3:
                    break
        assert frames[0].key_frame
        assert src.relative_time(frames[0]) == 0
        assert frames[0].to_ndarray(format="rgb24").std() > 10
        assert src.corrupt_packets >= 0


# --- unreachable and missing inputs -------------------------------------------------------------


def _closed_port(kind: int = socket.SOCK_STREAM) -> int:
    return live_servers.free_port(kind)


def _rife_play(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("rife-play")
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "import sys; from rife_live.cli import play_main; "
                                                     "sys.exit(play_main())"]
    return subprocess.run(command + list(args), capture_output=True, text=True, timeout=WAIT_S * 3, check=False)


def test_missing_webcam_one_line(tmp_path: Path) -> None:
    if Path("/dev/video0").exists():
        pytest.skip("/dev/video0 exists on this machine")
    with pytest.raises(InputError) as exc:
        open_source("/dev/video0")
    assert str(exc.value) == "no webcam at /dev/video0 (device does not exist)"
    done = _rife_play("/dev/video0", "-o", str(tmp_path / "x.mkv"))
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == ["rife-play: error: no webcam at /dev/video0 (device does not exist)"]
    assert "Traceback" not in done.stderr and not (tmp_path / "x.mkv").exists()


def test_unreachable_rtsp_one_line(tmp_path: Path) -> None:
    url = f"rtsp://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(InputError) as exc:
        open_source(url, SourceOptions(network_timeout=READ_TIMEOUT_S))
    assert str(exc.value).startswith(f"cannot reach {url}") and "\n" not in str(exc.value)
    done = _rife_play(url, "-o", str(tmp_path / "x.mkv"))
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"rife-play: error: cannot reach {url}")


def test_udp_without_sender_gives_up_at_the_timeout() -> None:
    url = f"udp://127.0.0.1:{_closed_port(socket.SOCK_DGRAM)}"
    with pytest.raises(InputError) as exc:
        open_source(url, SourceOptions(network_timeout=READ_TIMEOUT_S))
    assert str(exc.value) == f"cannot reach {url}: no answer within {READ_TIMEOUT_S:g} s"


# --- HTTP ---------------------------------------------------------------------------------------


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Python's file server plus byte ranges (``Range: bytes=A-B``), as every real web server has:
    FFmpeg seeks with them (an mp4 is read from its index, then from its media data)."""

    def send_head(self):  # noqa: ANN201 - the base class's hook
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match is None:
            return super().send_head()
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return None
        size = path.stat().st_size
        first = int(match.group(1))
        last = min(size - 1, int(match.group(2))) if match.group(2) else size - 1
        if first >= size:
            self.send_error(416)
            return None
        data = path.read_bytes()[first:last + 1]
        self.send_response(206)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return io.BytesIO(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's signature
        return  # keep pytest's output clean


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - the base's signature
        if not isinstance(sys.exc_info()[1], ConnectionError):  # FFmpeg hangs up mid-body when it seeks
            super().handle_error(request, client_address)


@pytest.fixture
def http_root(tmp_path: Path, bbb_path: Path):
    shutil.copy(bbb_path, tmp_path / "bbb.mp4")
    handler = functools.partial(_RangeHandler, directory=str(tmp_path))
    server = _Server(("127.0.0.1", 0), handler)
    serving = threading.Thread(target=server.serve_forever, name="test-http", daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        serving.join(WAIT_S)


def _decode_all(target: str | Path) -> tuple[list[tuple[FrameMeta, np.ndarray, float]], DecodeThread]:
    src = open_source(target)
    ring = make_frame_ring(src.video, RING_SLOTS)
    thread = DecodeThread(src, ring)
    thread.start()
    frames = []
    deadline = time.monotonic() + WAIT_S * 3
    while True:
        try:
            frames.append(next_frame(ring, deadline))
        except RingClosed:
            break
    assert thread.join(WAIT_S) and thread.error is None
    return frames, thread


def test_mp4_over_http_is_a_file(http_root: str, bbb_path: Path) -> None:
    """An mp4 served over http is a file: not live, its duration known, every frame decoded
    exactly as from the local copy (no frame skipped as stale)."""
    url = f"{http_root}/bbb.mp4"
    with open_source(bbb_path) as local, open_source(url) as remote:
        assert not remote.is_live and not remote.realtime
        assert remote.video == local.video and remote.video.duration is not None
    over_http, thread = _decode_all(url)
    from_disk, _ = _decode_all(bbb_path)
    assert len(over_http) == len(from_disk) == media.BBB_FRAMES
    assert [m.pts for m, _, _ in over_http] == [Fraction(k, media.BBB_FPS) for k in range(media.BBB_FRAMES)]
    assert thread.stats.dropped_stale == 0
    for (_, remote_pixels, _), (_, local_pixels, _) in zip(over_http, from_disk):
        assert np.array_equal(remote_pixels, local_pixels)


# --- end to end: the live player ----------------------------------------------------------------

PLAY_BEFORE_S = 1.0  # the player plays this long before the server is killed
PLAY_AFTER_S = 9.0  # and this long after it is back, then gets SIGINT
STARTED_MARK = " fps -> "  # rife-play's line once the input is open ("URL: WxH 25 fps -> 50 fps, ...")


@functools.cache
def _live_player_missing() -> str | None:
    done = _rife_play("--help")
    return None if "--vo" in done.stdout else "the live player (rife-play --vo) is not built yet"


class _Lines:
    """Collects a pipe's lines on a thread; ``wait_for`` blocks (bounded) until one contains a mark."""

    def __init__(self, pipe) -> None:  # noqa: ANN001 - a text pipe
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(pipe,), name="test-pipe", daemon=True)
        self._thread.start()

    def _read(self, pipe) -> None:  # noqa: ANN001
        for line in pipe:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, mark: str, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: any(mark in line for line in self.lines), timeout)

    def join(self) -> None:
        self._thread.join(WAIT_S)


@pytest.mark.parametrize("kind", ["rtsp", "udp"])
def test_live_player_reconnects(kind: str, tmp_path: Path) -> None:
    """``rife-play URL --vo null --ao null --stats-json S`` through a server restart: one
    reconnect, and frames after it. A realtime source cannot have delivered more than (kill time -
    launch time) x fps frames before the kill, so frames beyond that came after the reconnect."""
    reason = _live_player_missing() or (_rtsp_missing() if kind == "rtsp" else None)
    if reason is not None:
        pytest.skip(reason)
    stats_path = tmp_path / "stats.json"
    server = RtspServer() if kind == "rtsp" else UdpTsSender()
    script = Path(sys.executable).with_name("rife-play")
    command = [str(script)] if script.exists() else [sys.executable, "-c",
                                                     "import sys; from rife_live.cli import play_main; "
                                                     "sys.exit(play_main())"]
    with server:
        launched = time.monotonic()
        player = subprocess.Popen(command + [server.url, "--vo", "null", "--ao", "null", "--stats-json",
                                             str(stats_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
        err = _Lines(player.stderr)
        try:
            assert err.wait_for(STARTED_MARK, WAIT_S * 2), err.lines
            time.sleep(PLAY_BEFORE_S)
            server.kill()
            before_kill_s = time.monotonic() - launched
            time.sleep(DOWN_S)
            server.start()
            time.sleep(PLAY_AFTER_S)
            player.send_signal(signal.SIGINT)
            player.wait(WAIT_S)
        finally:
            if player.poll() is None:
                player.kill()
                player.wait(WAIT_S)
            err.join()
    assert player.returncode == 130, err.lines
    stats = json.loads(stats_path.read_text())
    decode = stats["decode"]
    print(f"\nlive player over {kind}: {decode}, shown {stats['present']['shown']}")
    events = sum(d["reconnects"] for d in decode), sum(d["discontinuities"] for d in decode)
    # RTSP: the server's end is seen at once -> a reconnect. UDP: the player's 10 s read timeout
    # outlasts the 1.5 s outage -> the socket receives again and the pts jump is a discontinuity.
    assert events == ((1, 0) if kind == "rtsp" else (0, 1)), decode
    fps = live_servers.DEFAULT_FPS
    decoded = sum(d["frames"] + d["dropped_stale"] for d in decode)
    assert decoded > (before_kill_s + 1) * fps  # at least a second of frames after the reconnect
    assert stats["present"]["shown"] > 0
