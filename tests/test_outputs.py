"""outputs: where outputs may go, and the everyday mistakes that used to destroy a user's files.

The path rules are tested as functions on real files (links included); the seven reported cases run
through the real command lines in a subprocess, each checking that the input's bytes are unchanged,
the exit is non-zero and the error is one line; the ``-y`` path replaces an old output whole.
"""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from rife_live.errors import ConfigError, OutputError
from rife_live.outputs import (PartialFile, check_new_file, check_png_folder, is_within, refuse_folder_over_input,
                               refuse_input, remove_frames, same_file, write_bytes)
from rife_live.sinks.png import FRAME_PATTERN, frame_name
from rife_live.sinks.stills import read_image, write_png
from tests import media
from tests.commands import assert_ok, assert_one_line_error, interrupt, rife_play, run, sha256


# -- the rules, as functions ----------------------------------------------------------------------


def test_same_file_sees_through_spellings_and_links(tmp_path, monkeypatch) -> None:
    original = tmp_path / "clip.mp4"
    original.write_bytes(b"video")
    (tmp_path / "soft.mp4").symlink_to(original)
    os.link(original, tmp_path / "hard.mp4")
    monkeypatch.chdir(tmp_path)
    for name in ("clip.mp4", "./clip.mp4", str(original), "soft.mp4", "hard.mp4", "sub/../clip.mp4"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        assert same_file(Path(name), original), name
        with pytest.raises(ConfigError, match="is the input"):
            refuse_input(Path(name), [original], "-o")
    assert not same_file(Path("other.mp4"), original)
    refuse_input(Path("other.mp4"), [original], "-o")  # a new name is fine


def test_png_folder_inside_an_image_folder_input_is_refused(tmp_path) -> None:
    frames = media.make_image_folder(tmp_path / "pf", count=2)
    for folder in (frames, frames / "sub", tmp_path / "pf" / "." / "out"):
        assert is_within(folder, frames)
        with pytest.raises(ConfigError, match="input folder"):
            refuse_folder_over_input(folder, frames, "--png")
    refuse_folder_over_input(tmp_path / "elsewhere", frames, "--png")
    refuse_folder_over_input(tmp_path / "x", tmp_path / "clip.mp4", "--png")  # a file input has no folder


def test_existing_files_need_overwrite(tmp_path) -> None:
    old = tmp_path / "out.mkv"
    old.write_bytes(b"old")
    with pytest.raises(OutputError, match="exists; add -y/--yes"):
        check_new_file(old, False, "-o")
    check_new_file(old, True, "-o")
    check_new_file(tmp_path / "new.mkv", False, "-o")
    with pytest.raises(OutputError, match="folder .*nodir does not exist"):
        check_new_file(tmp_path / "nodir" / "s.json", False, "--stats-json")
    with pytest.raises(OutputError, match="is a folder"):
        check_new_file(tmp_path, True, "-o")


def test_png_folders_must_be_new_or_empty_unless_overwrite(tmp_path) -> None:
    check_png_folder(tmp_path / "new" / "deeper", False)  # made when the run starts
    (tmp_path / "empty").mkdir()
    check_png_folder(tmp_path / "empty", False)
    full = tmp_path / "full"
    full.mkdir()
    (full / frame_name(0)).write_bytes(b"png")
    with pytest.raises(OutputError, match="not empty; add -y/--yes"):
        check_png_folder(full, False)
    check_png_folder(full, True)
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(OutputError, match="not a folder"):
        check_png_folder(tmp_path / "file", True)
    with pytest.raises(OutputError, match="not a folder"):
        check_png_folder(tmp_path / "file" / "frames", True)


def test_remove_frames_takes_only_the_pattern(tmp_path) -> None:
    for name in (frame_name(0), frame_name(12), "keep.png", "0001.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert remove_frames(tmp_path, FRAME_PATTERN) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0001.png", "keep.png", "notes.txt"]


def test_partial_file_commit_and_discard(tmp_path) -> None:
    target = tmp_path / "a.mkv"
    target.write_bytes(b"old")
    partial = PartialFile.beside(target)
    assert partial.path.parent == tmp_path and partial.path.name.startswith(".a.partial-")
    assert partial.path.suffix == ".mkv"
    partial.path.write_bytes(b"new")
    partial.commit()
    partial.discard()  # after commit: nothing to do
    assert target.read_bytes() == b"new" and list(tmp_path.iterdir()) == [target]
    other = PartialFile.beside(target)
    other.path.write_bytes(b"half")
    other.discard()
    assert target.read_bytes() == b"new" and list(tmp_path.iterdir()) == [target]
    write_bytes(tmp_path / "b.json", b"{}")
    assert (tmp_path / "b.json").read_bytes() == b"{}"
    with pytest.raises(OutputError, match="No such file"):
        write_bytes(tmp_path / "nodir" / "c.json", b"{}")


# -- the seven reported cases, through the command line -------------------------------------------


@pytest.fixture
def clip(media_cache, tmp_path) -> Path:
    """A short clip with audio, copied into the test's folder (the user's own file)."""
    source = media_cache.get("c3.mp4", media.make_clip, width=64, height=48, frames=50, audio=True)
    return Path(shutil.copy(source, tmp_path / "copy.mp4"))


def test_case1_output_named_as_the_input_in_any_spelling(clip, tmp_path) -> None:
    before = sha256(clip)
    (tmp_path / "link.mp4").symlink_to(clip)
    os.link(clip, tmp_path / "hard.mp4")
    for output in ("copy.mp4", "./copy.mp4", str(clip), "link.mp4", "hard.mp4"):
        result = rife_play("copy.mp4", "-o", output, cwd=tmp_path)
        assert_one_line_error(result, "is the input", "choose another output name")
        assert sha256(clip) == before, output
    result = rife_play("link.mp4", "-o", "copy.mp4", cwd=tmp_path)  # the input through a link
    assert_one_line_error(result, "is the input")
    assert sha256(clip) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.mp4", "hard.mp4", "link.mp4"]


def test_case2_output_is_the_input_without_audio(clip, tmp_path) -> None:
    before = sha256(clip)
    result = rife_play("copy.mp4", "-o", "./copy.mp4", "--no-audio", cwd=tmp_path)
    assert_one_line_error(result, "is the input")
    assert sha256(clip) == before


def test_case3_png_folder_over_the_image_folder_input(tmp_path) -> None:
    folder = media.make_image_folder(tmp_path / "pf", count=30)
    before = {p.name: sha256(p) for p in folder.iterdir()}
    for png in ("pf", "./pf/", "pf/out"):
        result = rife_play("pf", "--png", png, cwd=tmp_path)
        assert_one_line_error(result, "input folder")
        assert {p.name: sha256(p) for p in folder.iterdir()} == before, png


def test_case4_rife_interp_output_over_an_input_image(tmp_path) -> None:
    frames = media.bbb_frames(96, 64, 3, start=60)
    write_png(tmp_path / "img0.png", frames[0])
    write_png(tmp_path / "img1.png", frames[2])
    before = {name: sha256(tmp_path / name) for name in ("img0.png", "img1.png")}
    result = run("interp_main", "img0.png", "img1.png", "--exp", "2", "-o", ".", cwd=tmp_path)
    assert_one_line_error(result, "img0.png is the input", prog="rife-interp")  # img0.png, img1.png: both outputs
    assert {name: sha256(tmp_path / name) for name in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img0.png", "img1.png"]  # nothing written


def test_case5_old_outputs_need_yes_and_a_name_without_extension_points_to_png(clip, tmp_path) -> None:
    stale = tmp_path / "frames"
    stale.mkdir()
    for k in range(150):
        (stale / frame_name(k)).write_bytes(b"an earlier run")
    result = rife_play("copy.mp4", "--png", "frames", cwd=tmp_path)
    assert_one_line_error(result, "frames", "not empty", "-y/--yes")
    assert len(list(stale.iterdir())) == 150
    result = rife_play("copy.mp4", "-o", "name", cwd=tmp_path)
    assert_one_line_error(result, "not a video file name", "--png DIR")
    assert not (tmp_path / "name").exists()
    (tmp_path / "out.mkv").write_bytes(b"the user's old video")
    result = rife_play("copy.mp4", "-o", "out.mkv", cwd=tmp_path)
    assert_one_line_error(result, "out.mkv exists", "-y/--yes")
    assert (tmp_path / "out.mkv").read_bytes() == b"the user's old video"


def test_case5_yes_replaces_the_old_output_whole(clip, tmp_path) -> None:
    before = sha256(clip)
    stale = tmp_path / "frames"
    stale.mkdir()
    for k in range(150):
        (stale / frame_name(k)).write_bytes(b"an earlier run")
    (stale / "notes.txt").write_text("not a frame: kept")
    assert_ok(rife_play("copy.mp4", "--png", "frames", "--end", "0.2", "-y", cwd=tmp_path))
    frames = sorted(p.name for p in stale.iterdir() if FRAME_PATTERN.fullmatch(p.name))
    assert frames == [frame_name(k) for k in range(10)]  # 0.2 s at 50 fps, no stale frame left
    assert all(read_image(stale / name).shape == (48, 64, 3) for name in frames)
    assert (stale / "notes.txt").exists()
    (tmp_path / "out.mkv").write_bytes(b"the user's old video")
    assert_ok(rife_play("copy.mp4", "-o", "out.mkv", "--end", "0.2", "--yes", cwd=tmp_path))
    decoded, _ = media.frames_and_pts(tmp_path / "out.mkv")
    assert len(decoded) == 10
    assert sha256(clip) == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_case6_every_output_path_is_checked_before_the_run(clip, tmp_path) -> None:
    for args, words in (
        (("-o", "out.mkv", "--stats-json", "nodir/s.json"), ("--stats-json", "nodir", "does not exist")),
        (("--vo", "null", "--ao", "null", "--stats-json", "nodir/s.json"), ("--stats-json", "does not exist")),
        (("--vo", "null", "--ao", "null", "--screenshot-dir", "nodir"), ("screenshots", "does not exist")),
        (("-o", "nodir/out.mkv"), ("-o", "does not exist")),
        (("-o", "out.mkv", "--stats-json", "out.mkv"), ("two outputs",)),
    ):
        result = rife_play("copy.mp4", *args, cwd=tmp_path)
        assert_one_line_error(result, *words)
        assert "wrote" not in result.stderr  # refused before anything ran
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.mp4"]


@pytest.mark.parametrize("signum, suffix", [(signal.SIGTERM, ".mp4"), (signal.SIGHUP, ".mkv")])
def test_case7_termination_signals_finalize_the_export_and_its_stats(media_cache, tmp_path, signum, suffix) -> None:
    clip = media_cache.get("long.mp4", media.make_clip, width=256, height=144, frames=media.BBB_FRAMES, audio=True)
    out, stats = tmp_path / f"out{suffix}", tmp_path / "stats.json"
    code, text, sent = interrupt([clip, "-o", out, "--stats-json", stats], tmp_path, signum, after_frames=4)
    assert sent and code == 128 + signum and "Traceback" not in text, text
    frames, _ = media.frames_and_pts(out)
    assert len(frames) >= 4
    assert '"interrupted": true' in stats.read_text()
    assert sorted(tmp_path.iterdir()) == sorted([out, stats])
