"""The live session (rife_live/player/session.py): --vo null runs, seeking, looping, commands, the
CLI's shutdown paths, and a real window under Xvfb (the frame on screen, letterboxing, X key events).

Clips are small real footage (bigbuckbunny scaled to 160x96, with an AAC track) so the network's
passes are short on a CPU; audio goes to miniaudio's null device, which plays at real-time pace.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import weakref
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
import pytest

from rife_live import color
from rife_live.config import load_config
from rife_live.player import LiveSession, demo_clip
from rife_live.player.commands import read_back, screenshot
from rife_live.pipeline.drivers import RECONNECT_FIRST_DELAY_S
from rife_live.pipeline.ring import Ring
from rife_live.player.session import window_size
from rife_live.present.renderer import letterbox
from rife_live.sinks.stills import read_image
from tests import media


REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 160, 96
FPS = 25
PUMP_LIMIT_S = 30.0  # bound on waiting for something that takes a fraction of a second (not asserted)
PROCESS_LIMIT_S = 60.0
EXPECTED_KINDS = {"source", "interp", "miss", "copy", "cut"}


def flags(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {"vo": "null", "ao": "null", "scale": "0.25"}
    base.update(extra)
    return base


def session_for(path: Path, tmp_path: Path, **extra: object) -> LiveSession:
    config = load_config(None, flags(screenshot_dir=str(tmp_path), **extra), user_config=False)
    return LiveSession(config, str(path), log=lambda _m: None)


def pump(session: LiveSession, until: Callable[[], bool], limit_s: float = PUMP_LIMIT_S) -> bool:
    """Run presenter rounds until ``until()`` holds; False if the session ended or time ran out."""
    end = time.monotonic() + limit_s
    while not until():
        if time.monotonic() > end or not session.step():
            return until()
    return True


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """bigbuckbunny at 160x96, 25 fps, all 132 frames (5.28 s), with audio."""
    return media.make_clip(tmp_path_factory.mktemp("live") / "bbb.mp4", width=WIDTH, height=HEIGHT,
                           frames=media.BBB_FRAMES, audio=True)


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory) -> Path:
    return media.make_clip(tmp_path_factory.mktemp("live") / "short.mp4", width=WIDTH, height=HEIGHT,
                           frames=12, audio=True)


@pytest.fixture(scope="module")
def decoded(clip) -> list[np.ndarray]:
    return list(media.iter_rgb(clip))


# ---------------------------------------------------------------- pure helpers

def test_helpers():
    assert window_size(1920, 1080) == (1280, 720) and window_size(160, 96) == (160, 96)
    assert window_size(4000, 1000) == (1280, 320)
    assert demo_clip().is_file() and demo_clip().name == "bigbuckbunny.mp4"
    no_input = LiveSession(load_config(None, flags(), user_config=False), None, log=lambda _m: None)
    assert no_input.target == str(demo_clip())  # rife-play alone plays the demo


# ---------------------------------------------------------------- --vo null

def test_null_output_plays_the_clip_on_the_clock_and_reports_stats(short_clip, tmp_path):
    stats_path = tmp_path / "stats.json"
    session = session_for(short_clip, tmp_path, stats_json=str(stats_path), scale="auto")
    result = session.run()
    stats = json.loads(stats_path.read_text())
    present = stats["present"]
    produced = stats["produced_kinds"]
    assert not result.interrupted and stats["unjoined_threads"] == []
    assert set(produced) <= EXPECTED_KINDS and set(present["kinds"]) <= set(produced)
    # 12 frames at 25 fps to 50 fps: 24 outputs, each shown or dropped, none twice
    assert sum(produced.values()) == 24
    assert present["shown"] + present["dropped"] == 24
    assert session.vo.frames_shown == present["shown"]
    assert produced.get("interp", 0) + produced.get("miss", 0) > 0
    assert stats["misses"] == produced.get("miss", 0)
    assert stats["audio"] == "Null" and present["drift_readings"] > 0
    for change in stats["scale_changes"]:  # adaptive: only down from 1 on this CPU, one step at a time
        assert change["reason"] in ("slow", "headroom") and change["new"] in (0.25, 0.5, 1.0)


def test_seek_pause_frame_step_and_commands(clip, tmp_path):
    session = session_for(clip, tmp_path)
    session.start()
    try:
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        session.command("seek", (3.0, "absolute"))
        assert session.holding
        assert pump(session, lambda: not session.holding)
        meta = session.shown_meta
        assert meta.epoch == 1 and abs(float(meta.pts) - 3.0) <= 1 / FPS
        assert abs(session.master.now() - float(meta.pts)) < 0.1  # the audio restarted there too
        session.command("cycle", ("pause",))
        session.step()  # a frame already due when the clock stopped may still go up
        shown = session.stats.shown
        clock = session.clock.now()
        for _ in range(5):
            session.step()
        assert session.paused and session.stats.shown == shown and session.clock.now() == clock
        session.command("frame-step")
        assert pump(session, lambda: session.stats.shown == shown + 1)
        assert pump(session, lambda: session.paused)
        session.command("cycle", ("pause",))
        session.command("seek", (-60.0, "relative"))  # clamped to the start
        assert pump(session, lambda: not session.holding)
        assert session.shown_meta.epoch == 2 and session.shown_meta.pts == 0
        session.command("multiply", ("scale", 2.0))
        assert pump(session, lambda: session.pipeline.interp.pacing.stats.scale == 0.5)
        session.command("cycle", ("interpolation",))
        assert not session.interpolating and "Interpolation: off" in session.osd_lines
        session.command("add", ("volume", -10.0))
        assert session.audio.volume == 90.0 and "Volume: 90%" in session.osd_lines
        session.command("cycle", ("mute",))
        assert session.audio.muted
        session.command("cycle", ("stats",))
        assert pump(session, lambda: any(line.startswith("Input") for line in session.osd_lines))
        assert any(line.startswith("Scale 0.5 (fixed)") for line in session.osd_lines)
        path = screenshot(session)  # --vo null: the frame in ring B
        assert path is not None and path.parent == tmp_path
        assert np.array_equal(read_image(path), session.current_frame())
        session.command("quit", (3,))
        assert not session.step()
    finally:
        session.close()
    assert session.unjoined == [] and session.exit_code == 3


def test_montage_plays_and_stats_name_the_engine(short_clip, tmp_path):
    stats_path = tmp_path / "stats.json"
    session = session_for(short_clip, tmp_path, montage=True, stats_json=str(stats_path))
    result = session.run()
    assert result.interrupted is None and session.stats.shown > 0
    stats = json.loads(stats_path.read_text())
    assert stats["device"] == "cpu" and stats["dtype"] in ("bfloat16", "float32") and stats["model"] == "rife-hd-v3"
    # the rate counts from the first frame on screen (the start-up is not playback)
    assert stats["output_fps"] * stats["elapsed_s"] == pytest.approx(stats["present"]["shown"], rel=0.01)


def test_montage_frame_on_screen_is_source_left_output_right(short_clip, decoded, tmp_path):
    session = session_for(short_clip, tmp_path, montage=True)
    session.start()
    try:
        assert pump(session, lambda: session.shown_meta is not None and session.shown_meta.t == 0
                    and session.shown_meta.source_index > 0)
        image, meta = session.current_frame(), session.shown_meta
        assert image.shape == (HEIGHT, 2 * WIDTH, 3)
        source = media.iter_rgb(short_clip)
        truth = next(f for i, f in enumerate(source) if i == meta.source_index)
        assert np.array_equal(image[:, :WIDTH], media.labelled(truth, "source"))
        assert np.array_equal(image[:, WIDTH:], media.labelled(truth, "interpolated"))  # t = 0: the source too
    finally:
        session.close()


def test_loop_starts_again_at_the_beginning(short_clip, tmp_path):
    session = session_for(short_clip, tmp_path, loop=True)
    session.start()
    try:
        assert pump(session, lambda: session.stats.loops >= 2 and not session.holding)
        assert session.shown_meta.epoch >= 2
        assert pump(session, lambda: session.shown_meta.pts > Fraction(1, 10))
    finally:
        session.close()
    assert session.unjoined == []
    stats = session.stats_dict()
    assert len(stats["interpolate"]) >= 3  # one pipeline per pass over the file


def _decoder_threads() -> int:
    """FFmpeg's decoding threads in this process (they name themselves ``av:<codec>:...``)."""
    names = [Path(task, "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]
    return sum(name.startswith("av:") for name in names)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_a_loop_lets_the_old_pipeline_and_its_decoder_go_at_once(short_clip, tmp_path):
    """Found by the soak run: every --loop left the old decoder's FFmpeg threads (and its rings)
    alive until Python's cycle collector happened to run, +7 threads and tens of MiB per loop.
    With the collector off, nothing but reference counts can free them."""
    session = session_for(short_clip, tmp_path, loop=True)
    session.start()
    gc.disable()
    try:
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        threads = _decoder_threads()
        first = session.pipeline
        old = [weakref.ref(x) for x in (first, first.source, first.decode, first.ring_a, first.ring_b)]
        del first
        assert pump(session, lambda: session.stats.loops >= 2 and not session.holding)
        assert [ref() is None for ref in old] == [True] * len(old)
        assert _decoder_threads() <= threads
    finally:
        gc.enable()
        session.close()


def test_read_ahead_runs_ahead_within_its_cap_and_seeks_and_loops_let_it_go(clip, tmp_path):
    cap_mib = 2
    session = session_for(clip, tmp_path, readahead_secs="1", readahead_max_mib=str(cap_mib), loop=True)
    session.start()
    try:
        def ring() -> Ring:
            return session.pipeline.ring_b

        assert ring().capacity * ring().payloads[0].nbytes <= cap_mib * 1024 * 1024  # the cap wins over 1 s at 50 fps
        assert ring().capacity < 50 + 1
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        session.command("cycle", ("pause",))
        assert pump(session, lambda: ring().fill == ring().capacity)  # paused: it fills up to the cap and waits
        assert ring().peek_at(ring().fill - 1)[0].pts > session.shown_meta.pts  # ... ahead of the picture
        session.command("cycle", ("pause",))
        session.command("seek", (3.0, "absolute"))
        assert pump(session, lambda: not session.holding)
        ahead = [ring().peek_at(i)[0] for i in range(ring().fill)]
        assert all(meta.epoch == 1 and meta.pts >= Fraction(3) - Fraction(1, FPS) for meta in ahead)  # the old lead is gone
        assert abs(session.master.now() - float(session.shown_meta.pts)) < 0.1  # A/V together at the new place
        old = weakref.ref(ring())
        assert pump(session, lambda: session.stats.loops == 1 and not session.holding)
        gc.collect()
        assert old() is None  # the first pass's read-ahead was freed, not kept beside the new one
        assert ring().capacity * ring().payloads[0].nbytes <= cap_mib * 1024 * 1024
    finally:
        session.close()
    assert session.unjoined == []


def test_a_live_reconnect_restarts_the_clock_at_its_first_frame(tmp_path):
    """Found by the soak run (bench/soak.py, rtsp scenario: the server restarted every 2 minutes).
    A reconnect starts an epoch whose timeline continues one frame after the last frame, while the
    video clock (no audio) ran on through the outage: the picture's lag grew by each outage and
    every later output missed its deadline. A real-time lavfi source that ends every second is
    reopened like a dropped stream (a new epoch after ``RECONNECT_FIRST_DELAY_S`` of backoff). The
    clock restarts a live latency behind the new epoch's first frame, so interpolation resumes."""
    session = session_for("lavfi:testsrc2=size=64x48:rate=25:duration=1,realtime", tmp_path)
    session.start()
    lags = []
    try:
        while len(lags) < 3:
            seen = session.shown_meta.epoch if session.shown_meta is not None else -1
            assert pump(session, lambda: session.shown_meta is not None and session.shown_meta.epoch > seen)
            lags.append(session.clock.now() - float(session.shown_meta.pts))  # at the epoch's first frame
    finally:
        session.close()
    stats = session.stats_dict()
    assert sum(d["reconnects"] for d in stats["decode"]) >= 2
    # the outage less the latency, growing with each one (0.02 s, then 0.35 s here) before the fix
    assert max(lags) < RECONNECT_FIRST_DELAY_S / 5, lags
    assert stats["interpolate"][-1]["kinds"].get("interp", 0) > 0  # after a reconnect, the network runs again


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_stop_signals_exit_at_once_with_every_thread_joined(clip, tmp_path, signum, code):
    stats_path = tmp_path / "stats.json"
    process = subprocess.Popen(
        [sys.executable, "-c", "from rife_live.cli import play_main; raise SystemExit(play_main())", str(clip),
         "--vo", "null", "--ao", "null", "--loop", "--scale", "0.25", "--stats-json", str(stats_path)],
        cwd=REPO, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()  # printed when the pipeline starts
        assert "160x96 25 fps -> 50 fps" in line, line
        time.sleep(0.5)
        sent = time.perf_counter()
        process.send_signal(signum)
        process.wait(PROCESS_LIMIT_S)
        exit_s = time.perf_counter() - sent
        rest = process.stderr.read()
    finally:
        process.kill()
        process.wait()
    print(f"{signal.Signals(signum).name} to exit: {exit_s:.3f} s")
    assert process.returncode == code and rest.strip() == f"rife-play: interrupted ({signal.Signals(signum).name})", rest
    stats = json.loads(stats_path.read_text())
    assert stats["interrupted"] and stats["unjoined_threads"] == []  # joined within JOIN_TIMEOUT_S (1 s)


def test_gpu_output_without_a_display_is_one_line_suggesting_vo_null(short_clip):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = subprocess.run([sys.executable, "-c", "from rife_live.cli import play_main; raise SystemExit(play_main())",
                             str(short_clip), "--vo", "gpu"], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=PROCESS_LIMIT_S)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("rife-play: error: no display")
    assert "--vo null" in result.stderr


# ---------------------------------------------------------------- a real window under Xvfb



def gl_session(clip: Path, tmp_path: Path, log: Callable[[str], None] = lambda _m: None,
               **extra: object) -> LiveSession:
    config = load_config(None, flags(vo="gpu", screenshot_dir=str(tmp_path), **extra), user_config=False)
    return LiveSession(config, str(clip), log=log)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return media.psnr(a, b)


@pytest.mark.gl
def test_window_shows_the_decoded_and_the_interpolated_frame(display, clip, decoded, tmp_path):
    logged: list[str] = []
    session = gl_session(clip, tmp_path, logged.append, target_fps="display")
    session.start()
    try:
        assert session.rate == 2 * FPS  # Xvfb reports no refresh rate: 2x the source, said once
        assert sum("no refresh rate" in line for line in logged) == 1
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        session.command("set", ("pause", True))
        assert pump(session, lambda: session.shown_meta.kind == "source")
        meta = session.shown_meta
        drawn = read_back(session)
        assert drawn.shape == (HEIGHT, WIDTH, 3)
        assert psnr(drawn, decoded[round(meta.pts * FPS)]) > 45
        for _ in range(40):  # step until the network's frame is on screen (a miss shows the source)
            session.command("frame-step")
            shown = session.stats.shown
            assert pump(session, lambda: session.stats.shown > shown and session.paused)
            if session.shown_meta.kind == "interp":
                break
        meta = session.shown_meta
        assert meta.kind == "interp" and meta.t == Fraction(1, 2)
        drawn = read_back(session)
    finally:
        session.close()
    index = meta.source_index
    expected = session.engine.interpolate(decoded[index], decoded[index + 1], meta.t, scale=0.25)
    assert psnr(drawn, expected) > 40
    assert psnr(drawn, expected) > psnr(drawn, decoded[index]) + 3  # really in between


@pytest.mark.gl
def test_hdr10_plays_tone_mapped_with_its_colour_on_the_osd(display, tmp_path):
    hdr = media.make_hdr10_clip(tmp_path / "hdr10.mkv", width=WIDTH, height=HEIGHT, frames=12)
    session = gl_session(hdr, tmp_path, tone_mapping="hable")
    session.start()
    try:
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        session.command("set", ("pause", True))
        assert pump(session, lambda: session.paused and session.shown_meta is not None)
        frame, meta = session.current_frame(), session.shown_meta
        assert frame.dtype == np.uint16 and meta.color is not None and meta.color.transfer == "smpte2084"
        drawn = read_back(session)
        session.command("cycle", ("stats",))
        assert pump(session, lambda: any(line.startswith("Colour") for line in session.osd_lines))
        colour = next(line for line in session.osd_lines if line.startswith("Colour"))
    finally:
        session.close()
    expected = color.to_sdr_uint8(frame, meta.color, "hable")
    assert np.abs(drawn.astype(int) - expected).max() <= 2  # the window's tone mapping, the chosen curve
    assert np.abs(drawn.astype(int) - color.narrow_to_uint8(frame)).mean() > 10  # not the PQ values as SDR
    assert colour == "Colour bt2020/pq 10-bit limited, mastered 1000 nits, MaxCLL 1000 -> SDR BT.709 (hable)"


@pytest.mark.gl
def test_letterbox_after_a_resize(display, clip, decoded, tmp_path):
    session = gl_session(clip, tmp_path)
    session.start()
    try:
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        session.command("set", ("pause", True))
        assert pump(session, lambda: session.shown_meta.kind == "source")
        window = session.vo.window
        window.set_size(2 * WIDTH, HEIGHT + 40)
        assert window.wait_for_size(2 * WIDTH, HEIGHT + 40)
        session.step()  # the resize event redraws while paused
        drawn = read_back(session)
        frame = decoded[round(session.shown_meta.pts * FPS)]
    finally:
        session.close()
    rect = letterbox(2 * WIDTH, HEIGHT + 40, WIDTH, HEIGHT)
    assert rect.x > 0 and rect.height == HEIGHT + 40 and rect.width < 2 * WIDTH
    assert drawn.shape == (HEIGHT + 40, 2 * WIDTH, 3)
    assert drawn[:, : rect.x].max() == 0 and drawn[:, rect.x + rect.width:].max() == 0
    inside = drawn[rect.y: rect.y + rect.height, rect.x: rect.x + rect.width]
    scaled = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
        width=rect.width, height=rect.height, interpolation="BILINEAR").to_ndarray()
    assert psnr(inside, scaled) > 30  # GL's bilinear scaling vs swscale's


def _xdotool(window_id: int, *keys: str) -> None:
    subprocess.run(["xdotool", "key", "--window", str(window_id), *keys], check=True, timeout=30)


@pytest.mark.gl
def test_real_key_events_pause_seek_toggle_screenshot_and_quit(display, clip, tmp_path):
    if shutil.which("xdotool") is None:
        pytest.skip("xdotool is not installed")
    session = gl_session(clip, tmp_path)
    session.start()
    try:
        wid = session.vo.window.x11_window_id()
        assert pump(session, lambda: session.shown_meta is not None and not session.holding)
        _xdotool(wid, "space")
        assert pump(session, lambda: session.paused)
        _xdotool(wid, "space", "Right")
        assert pump(session, lambda: session.stats.seeks == 1 and not session.holding)
        assert session.shown_meta.epoch == 1 and float(session.shown_meta.pts) >= 5 - 1 / FPS
        _xdotool(wid, "Left", "ctrl+i")
        assert pump(session, lambda: not session.interpolating and session.stats.seeks == 2 and not session.holding)
        assert "Interpolation: off" in session.osd_lines
        made = session.pipeline.interp.stats.kinds.copy()
        assert pump(session, lambda: session.pipeline.interp.stats.outputs > sum(made.values()) + 10)
        later = session.pipeline.interp.stats.kinds
        assert later["interp"] == made["interp"]  # nothing interpolated since the toggle
        _xdotool(wid, "f")
        assert pump(session, lambda: session.vo.window.fullscreen)
        _xdotool(wid, "Escape", "i")
        assert pump(session, lambda: not session.vo.window.fullscreen and len(session.osd_lines) > 3)
        _xdotool(wid, "i", "space")
        assert pump(session, lambda: session.paused)
        session.step()  # a frame already due when the clock stopped may still go up
        _xdotool(wid, "s")
        assert pump(session, lambda: session.stats.screenshots == 1)
        shot = read_image(next(tmp_path.glob("rife-shot-*.png")))
        assert np.array_equal(shot, read_back(session))
        _xdotool(wid, "q")
        assert not pump(session, lambda: False, limit_s=PUMP_LIMIT_S)
    finally:
        session.close()
    assert session.unjoined == []


@pytest.mark.gl
def test_closing_the_window_ends_the_session_with_threads_joined(display, clip, tmp_path):
    from test_window import _send_wm_delete

    session = gl_session(clip, tmp_path)
    session.start()
    try:
        assert pump(session, lambda: session.stats.shown > 3)
        _send_wm_delete(display, session.vo.window.x11_window_id())
        assert not pump(session, lambda: False)
    finally:
        session.close()
    assert session.unjoined == []
