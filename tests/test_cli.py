"""The command lines as users meet them.

``rife-play``: bad inputs and flags through the real CLI in a subprocess (one clear line on
stderr, a non-zero exit, never a traceback or a hang), inputs that must work (odd sizes, 10-bit,
a rotated phone clip, one frame, a truncated file), and Ctrl+C in the middle of an export.
``rife-interp``: through ``interp_main`` in this process (the same argv path as the console script)
on small crops of real footage.
"""

from __future__ import annotations

import re
import signal
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.cli import interp_main
from rife_live.models.engine import Interpolator
from rife_live.sinks.stills import read_image, write_png
from tests import media
from tests.commands import REPO, RUN_TIMEOUT_S, assert_ok, assert_one_line_error, interrupt, rife_play

INTERRUPTED = re.compile(r"rife-play: interrupted \((SIG\w+)\): wrote (\d+) frames at 50 fps to \S+ \(finalized\)")
CROP = (slice(120, 216), slice(300, 428))  # 128x96 of a 640x360 bbb frame
MIN_PSNR_DB = 30.0  # a correct decode of the (lossy) test clip is well above this


def decodable_frames(path: Path) -> int:
    """Frames PyAV gets out of a possibly damaged file before it stops (errors end the count)."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _frame in container.decode(video=0):
                count += 1
        except av.FFmpegError:
            pass  # a damaged tail: the frames before it are what a player shows
    return count


# -- inputs that must fail cleanly ----------------------------------------------------------------


def test_missing_file(tmp_path) -> None:
    assert_one_line_error(rife_play("nothere.mp4", "-o", "out.mkv", cwd=tmp_path), "nothere.mp4", "not found")
    assert not (tmp_path / "out.mkv").exists()


def test_random_bytes(tmp_path) -> None:
    media.make_random_bytes(tmp_path / "noise.mp4")
    assert_one_line_error(rife_play("noise.mp4", "-o", "out.mkv", cwd=tmp_path), "noise.mp4")
    assert not (tmp_path / "out.mkv").exists()


def test_mp4_cut_in_half_has_no_index_and_fails(media_cache, tmp_path) -> None:
    clip = media_cache.get("whole.mp4", media.make_clip, width=64, height=48, frames=12, audio=True)
    media.make_truncated(clip, tmp_path / "half.mp4")  # the moov index sits at the end: it is gone
    assert_one_line_error(rife_play("half.mp4", "-o", "out.mkv", cwd=tmp_path), "half.mp4")


def test_mkv_cut_in_half_gives_the_frames_that_are_there(media_cache, tmp_path) -> None:
    clip = media_cache.get("whole.mkv", media.make_clip, width=64, height=48, frames=12, audio=True)
    media.make_truncated(clip, tmp_path / "half.mkv")
    there = decodable_frames(tmp_path / "half.mkv")
    assert 0 < there < 12
    result = rife_play("half.mkv", "-o", "out.mkv", cwd=tmp_path)
    assert_ok(result)
    frames, pts = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 2 * there  # a shorter output, every frame of it at its exact time
    assert [round(p * 50) for p in pts] == list(range(2 * there))


def test_audio_only(tmp_path) -> None:
    media.make_audio_only(tmp_path / "song.m4a")
    assert_one_line_error(rife_play("song.m4a", "-o", "out.mkv", cwd=tmp_path), "no video")


def test_zero_video_frames(tmp_path) -> None:
    media.make_zero_frame_clip(tmp_path / "empty.mkv")
    assert_one_line_error(rife_play("empty.mkv", "-o", "out.mkv", cwd=tmp_path), "no video frames")
    assert not (tmp_path / "out.mkv").exists()


def test_unwritable_output_path(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    (tmp_path / "plain_file").write_text("not a folder")
    assert_one_line_error(rife_play(clip, "-o", "plain_file/out.mkv", cwd=tmp_path), "out.mkv")


def test_unknown_container(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    assert_one_line_error(rife_play(clip, "-o", "out.xyz", cwd=tmp_path), ".xyz")


@pytest.mark.parametrize("flag, value, words", [
    ("--scale", "3", ("--scale", "3")),
    ("--target-fps", "abc", ("--target-fps", "abc")),
    ("--target-fps", "-60", ("--target-fps",)),
    ("--multi", "0", ("--multi",)),
    ("--start", "later", ("--start",)),
])
def test_bad_flag_values(media_cache, tmp_path, flag, value, words) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    result = rife_play(clip, "-o", "out.mkv", flag, value, cwd=tmp_path)
    assert_one_line_error(result, *words)
    assert result.returncode == 2


def test_unknown_flag(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    result = rife_play(clip, "-o", "out.mkv", "--frobnicate", cwd=tmp_path)
    assert_one_line_error(result, "--frobnicate")
    assert result.returncode == 2


def test_two_rate_options(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    assert_one_line_error(rife_play(clip, "-o", "out.mkv", "--multi", "2", "--exp", "1", cwd=tmp_path))


@pytest.mark.parametrize("args, words", [
    (("-o", "out.mkv", "--fs"), ("--fs", "playback")),
    (("-o", "out.mkv", "--volume", "50"), ("--volume", "playback")),
    (("--png", "frames", "--loop"), ("--loop", "playback")),
    (("--vo", "null", "--vcodec", "libx265"), ("--vcodec", "export")),
    (("--vo", "null", "--fps", "30"), ("--fps", "export")),
    (("-o", "out.mkv", "--mf-fps", "30"), ("--mf-fps", "image-folder")),
    (("-o", "out.mkv", "--rtsp-transport", "udp"), ("--rtsp-transport", "rtsp://")),
    (("-o", "out.mkv", "--target-fps", "0"), ("--target-fps", "must be > 0")),
    (("-o", "out.mkv", "--exp", "9"), ("--exp: 9 is outside 1-8",)),
])
def test_flags_that_would_do_nothing_are_refused(media_cache, tmp_path, args, words) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    assert_one_line_error(rife_play(clip, *args, cwd=tmp_path), *words)
    assert not list(tmp_path.iterdir())


def test_image_folder_rate_is_mf_fps(tmp_path) -> None:
    media.make_image_folder(tmp_path / "pf", count=4)
    assert_ok(rife_play("pf", "-o", "out.mkv", "--mf-fps", "10", "--multi", "2", cwd=tmp_path))
    frames, pts = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 8 and [round(p * 20) for p in pts] == list(range(8))  # 4 images at 10 fps, doubled


def test_start_past_the_end(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)  # 0.12 s
    result = rife_play(clip, "-o", "out.mkv", "--start", "10", cwd=tmp_path)
    assert_one_line_error(result, "--start", "past the end")
    assert not (tmp_path / "out.mkv").exists()


# -- inputs that must work ------------------------------------------------------------------------


def test_one_video_frame(tmp_path) -> None:
    media.make_one_frame_clip(tmp_path / "one.mp4")
    assert_ok(rife_play("one.mp4", "-o", "out.mkv", cwd=tmp_path))
    frames, pts = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 2 and [round(p * 50) for p in pts] == [0, 1]  # the frame, lasting 1/25 s


def test_odd_size(tmp_path) -> None:
    media.make_odd_size_clip(tmp_path / "odd.mp4", frames=3)
    assert_ok(rife_play("odd.mp4", "--png", "frames", cwd=tmp_path))
    pngs = sorted((tmp_path / "frames").glob("*.png"))
    assert len(pngs) == 6 and all(read_image(p).shape == (241, 321, 3) for p in pngs)
    # 4:2:0 video cannot be odd-sized: the encoder repeats the last column and row (322x242).
    assert_ok(rife_play("odd.mp4", "-o", "out.mkv", cwd=tmp_path))
    frames, _ = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 6 and frames[0].shape == (242, 322, 3)
    assert media.psnr(frames[0][:241, :321], read_image(pngs[0])) > MIN_PSNR_DB


def test_10bit_input(tmp_path) -> None:
    media.make_10bit_clip(tmp_path / "deep.mkv", width=96, height=64, frames=3)
    assert_ok(rife_play("deep.mkv", "-o", "out.mkv", cwd=tmp_path))
    frames, _ = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 6 and frames[0].shape == (64, 96, 3)
    source = next(media.iter_rgb(tmp_path / "deep.mkv"))  # PyAV's own 10-bit -> RGB conversion
    assert media.psnr(frames[0], source) > MIN_PSNR_DB  # the right colours, not a misread 10-bit plane


def test_rotated_phone_clip_comes_out_upright(tmp_path) -> None:
    media.make_rotated_clip(tmp_path / "phone.mp4", rotation=90, width=96, height=64, frames=3)
    assert_ok(rife_play("phone.mp4", "-o", "out.mkv", cwd=tmp_path))
    frames, _ = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 6 and frames[0].shape == (96, 64, 3)  # stored 96x64, shown 64x96
    stored = next(media.iter_rgb(tmp_path / "phone.mp4"))
    upright = np.rot90(stored, k=1)  # the display matrix turns it 90 degrees counter-clockwise
    assert media.psnr(frames[0], upright) > MIN_PSNR_DB
    assert media.psnr(frames[0], upright) > media.psnr(frames[0], np.rot90(stored, k=-1)) + 10


def test_slow_motion_writes_every_frame_at_the_given_rate(media_cache, tmp_path) -> None:
    clip = media_cache.get("tiny_audio.mp4", media.make_clip, width=64, height=48, frames=3, audio=True)
    result = rife_play(clip, "-o", "out.mkv", "--fps", "25", cwd=tmp_path)
    assert_ok(result)
    assert "wrote 6 frames at 25 fps (made at 50 fps: 2x slow motion)" in result.stderr
    assert "-> 25 fps (made at 50 fps: 2x slow motion)" in result.stderr  # the start-up line too
    frames, pts = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(frames) == 6 and [round(p * 25) for p in pts] == list(range(6))  # half speed
    with av.open(str(tmp_path / "out.mkv")) as container:
        assert not container.streams.audio  # the audio would no longer match: left out


# -- Ctrl+C, SIGTERM, SIGHUP ---------------------------------------------------------------------


@pytest.mark.parametrize("signum, suffix", [(signal.SIGINT, ".mkv"), (signal.SIGTERM, ".mp4"), (signal.SIGHUP, ".mkv")])
def test_stop_signal_mid_export_leaves_a_playable_file(media_cache, tmp_path, signum, suffix) -> None:
    clip = media_cache.get("long.mp4", media.make_clip, width=256, height=144, frames=media.BBB_FRAMES, audio=True)
    out = tmp_path / f"out{suffix}"
    returncode, text, sent = interrupt([clip, "-o", out], tmp_path, signum, after_frames=4)
    assert sent, text
    assert returncode == 128 + signum, text
    assert "Traceback" not in text
    done = INTERRUPTED.search(text)
    assert done and done.group(1) == signal.Signals(signum).name, text
    frames, pts = media.frames_and_pts(out)  # playable: the trailer (mp4: the moov index) was written
    assert 4 <= len(frames) == int(done.group(2)) < 2 * media.BBB_FRAMES
    assert [round(p * 50) for p in pts] == list(range(len(frames)))
    with av.open(str(out)) as container:  # the audio stops with the video
        stream = container.streams.audio[0]
        ends = [(p.pts + p.duration) * stream.time_base for p in container.demux(stream) if p.pts is not None]
    assert ends and abs(max(ends) - Fraction(len(frames), 50)) <= Fraction(1, 50)
    assert sorted(tmp_path.iterdir()) == [out]  # no temporary file left beside it


# -- rife-interp ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("pair")
    frames = media.bbb_frames(640, 360, 3, start=60)
    paths = (folder / "a.png", folder / "b.png")
    write_png(paths[0], np.ascontiguousarray(frames[0][CROP]))
    write_png(paths[1], np.ascontiguousarray(frames[2][CROP]))
    return paths


@pytest.fixture(scope="module")
def engine() -> Interpolator:
    return Interpolator(log=lambda _m: None)


def interp(capsys, *args: str | Path) -> tuple[int, str]:
    code = interp_main([str(a) for a in args])
    return code, capsys.readouterr().err


def assert_interp_error(code: int, err: str, *words: str) -> None:
    lines = err.strip().splitlines()
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("rife-interp: error: "), err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("args, words", [
    (("--scale", "3"), ("--scale: 3 is not one of",)),
    (("--scale", "auto"), ("--scale", "auto")),
    (("--exp", "9"), ("--exp: 9 is outside 1-8",)),
    (("--exp", "0"), ("--exp: 0 is outside 1-8",)),
])
def test_interp_flags_are_checked_before_anything_is_read(capsys, tmp_path, args, words) -> None:
    code, err = interp(capsys, tmp_path / "missing0.png", tmp_path / "missing1.png", *args, "-o", tmp_path / "out")
    assert_interp_error(code, err, *words)  # the flag, not the missing images, is reported
    assert not (tmp_path / "out").exists()


def test_interp_demo_pair(capsys, tmp_path) -> None:
    code, err = interp(capsys, "-o", tmp_path / "demo", "--gif", tmp_path / "demo.gif")
    assert code == 0, err
    pngs = sorted((tmp_path / "demo").glob("img*.png"))
    assert len(pngs) == 17 and read_image(pngs[0]).shape == (360, 640, 3)
    with av.open(str(tmp_path / "demo.gif")) as gif:
        assert sum(1 for _ in gif.decode(video=0)) == 17


def test_interp_exp_1(capsys, tmp_path, pair, engine) -> None:
    code, err = interp(capsys, *pair, "--exp", "1", "-o", tmp_path)
    assert code == 0, err
    out = [read_image(tmp_path / f"img{k}.png") for k in range(3)]
    assert not (tmp_path / "img3.png").exists()
    a, b = read_image(pair[0]), read_image(pair[1])
    np.testing.assert_array_equal(out[0], a)
    np.testing.assert_array_equal(out[2], b)
    np.testing.assert_array_equal(out[1], engine.interpolate(a, b))


def test_interp_ratio(capsys, tmp_path, pair, engine) -> None:
    code, err = interp(capsys, *pair, "--ratio", "0.3", "-o", tmp_path)
    assert code == 0, err
    files = list(tmp_path.glob("*.png"))
    assert [f.name for f in files] == ["img_t0.3.png"]
    a, b = read_image(pair[0]), read_image(pair[1])
    np.testing.assert_array_equal(read_image(files[0]), engine.synthesize(engine.flow(a, b), Fraction(3, 10)))


def test_interp_16_bit(capsys, tmp_path, pair) -> None:
    code, err = interp(capsys, *pair, "--exp", "1", "--bit-depth", "16", "-o", tmp_path)
    assert code == 0, err
    with av.open(str(tmp_path / "img1.png")) as png:
        frame = next(png.decode(video=0))
        assert frame.format.name.startswith("rgb48")
        deep = frame.to_ndarray()
    assert deep.dtype == np.uint16 and deep.shape == (96, 128, 3)
    assert len(np.unique(deep)) > 256  # more levels than 8 bits can hold
    eight = read_image(tmp_path / "img1.png")
    assert media.psnr(eight, read_image(pair[0])) > 20


def test_interp_bisect(capsys, tmp_path, pair, engine) -> None:
    code, err = interp(capsys, *pair, "--exp", "2", "--method", "bisect", "-o", tmp_path)
    assert code == 0, err
    out = [read_image(tmp_path / f"img{k}.png") for k in range(5)]
    a, b = read_image(pair[0]), read_image(pair[1])
    middle = engine.interpolate(a, b)
    np.testing.assert_array_equal(out[2], middle)
    np.testing.assert_array_equal(out[1], engine.interpolate(a, middle))  # the network at 1/2 of each half
    np.testing.assert_array_equal(out[3], engine.interpolate(middle, b))


def test_interp_images_of_different_sizes(capsys, tmp_path, pair) -> None:
    small = tmp_path / "small.png"
    write_png(small, np.ascontiguousarray(read_image(pair[0])[:64, :64]))
    assert_interp_error(*interp(capsys, pair[0], small, "-o", tmp_path / "out"), "differ in size")


def test_interp_missing_file(capsys, tmp_path, pair) -> None:
    assert_interp_error(*interp(capsys, pair[0], tmp_path / "nope.png", "-o", tmp_path / "out"), "nope.png")


def test_interp_not_an_image(capsys, tmp_path, pair) -> None:
    media.make_random_bytes(tmp_path / "noise.png")
    assert_interp_error(*interp(capsys, pair[0], tmp_path / "noise.png", "-o", tmp_path / "out"), "noise.png")


def test_interp_one_pixel_image(capsys, tmp_path) -> None:
    dot = tmp_path / "dot.png"
    write_png(dot, np.zeros((1, 1, 3), np.uint8))
    assert_interp_error(*interp(capsys, dot, dot, "-o", tmp_path / "out"), "1x1")


# -- rife-eval ------------------------------------------------------------------------------


def test_rife_eval_video_protocol_writes_json(media_cache, tmp_path, capsys) -> None:
    import json

    from rife_live.cli import eval_main

    clip = media_cache.get("eval_clip.mp4", media.make_clip, width=128, height=96, frames=5, source="bbb")
    out = tmp_path / "eval.json"
    code = eval_main(["video", str(clip), "--factor", "2", "--method", "network,blend", "--limit", "1",
                      "--json", str(out)])
    assert code == 0
    table = capsys.readouterr().out
    assert "network" in table and "blend" in table
    result = json.loads(out.read_text())
    assert result["psnr"] > 20 and 0 < result["ssim"] <= 1


@pytest.mark.parametrize("argv,words", [
    (["vimeo90k", "/nonexistent/vimeo"], ("missing",)),
    (["nonsense", "."], ("unknown protocol",)),
    (["video", "x.mp4", "--factor", "3"], ("factor",)),
])
def test_rife_eval_bad_arguments_give_one_line(argv, words, capsys) -> None:
    from rife_live.cli import eval_main

    code = eval_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("rife-eval: error:")
    assert all(w in err[0] for w in words)


def test_network_timeout_bounds_a_silent_udp_source(tmp_path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a free port nobody sends to
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    result = rife_play(f"udp://127.0.0.1:{port}", "-o", tmp_path / "x.mkv", "--network-timeout", "1", cwd=tmp_path)
    assert_one_line_error(result, f"udp://127.0.0.1:{port}")
    assert time.monotonic() - started < RUN_TIMEOUT_S
    assert not (tmp_path / "x.mkv").exists()


def test_network_timeout_value_is_checked(tmp_path) -> None:
    assert_one_line_error(rife_play("x.mp4", "-o", "y.mkv", "--network-timeout", "0", cwd=tmp_path),
                          "--network-timeout")


@pytest.mark.parametrize("command, page", [("play", "play.md"), ("interp", "interp.md"), ("eval", "eval.md"),
                                           ("train", "train.md")])
def test_every_flag_is_documented_on_its_page(command: str, page: str) -> None:
    from rife_live import cli

    parser = getattr(cli, f"_{command}_parser")()
    text = (REPO / "docs" / page).read_text(encoding="utf-8")
    flags = [o for action in parser._actions for o in action.option_strings if o not in ("-h", "--help")]
    missing = [flag for flag in flags if f"`{flag}" not in text and f", {flag}" not in text]
    assert not missing, f"docs/{page} does not mention {missing}"


def test_every_design_reference_names_a_section_that_exists() -> None:
    design = (REPO / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    sections = set(re.findall(r"^## (\d+)\. ", design, flags=re.MULTILINE))
    cited = {}
    for path in [REPO / "README.md", *REPO.glob("docs/*.md"), *REPO.glob("rife_live/**/*.py"), *REPO.glob("tests/*.py"),
                 *REPO.glob("bench/*.py")]:
        for number in re.findall(r"DESIGN\.md §(\d+)", path.read_text(encoding="utf-8")):
            cited.setdefault(number, path.relative_to(REPO))
    assert cited, "no reference found: the pattern is wrong"
    assert {n: str(p) for n, p in cited.items() if n not in sections} == {}
