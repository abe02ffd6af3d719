"""sinks: the spec and factory, the null sink and the PNG-folder sink (real files, read back)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import ConfigError, OutputError
from rife_live.frames import FrameMeta
from rife_live.sinks import Sink, SinkSpec, check_video_name, open_sink
from rife_live.sinks.encoder import EncoderSink
from rife_live.sinks.null import NullSink
from rife_live.sinks.png import PngFolderSink, frame_name
from tests import media

W, H = 160, 90


def meta(k: int, rate: Fraction = Fraction(60)) -> FrameMeta:
    return FrameMeta(pts=k / rate, kind="interp")


def read_png(path: Path, fmt: str = "rgb24") -> np.ndarray:
    with av.open(str(path)) as c:
        return next(c.decode(video=0)).to_ndarray(format=fmt)


# --- spec and factory ---------------------------------------------------------------------------


def test_spec_rejects_bad_values(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kind"):
        SinkSpec("gif", tmp_path / "x")
    with pytest.raises(ConfigError, match="path"):
        SinkSpec("encoder")
    with pytest.raises(ConfigError, match="rate"):
        SinkSpec("encoder", tmp_path / "x.mp4", rate=Fraction(0))
    with pytest.raises(ConfigError, match="rate"):
        SinkSpec("encoder", tmp_path / "x.mp4", rate=59.94)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="bit depth"):
        SinkSpec("png", tmp_path / "x", png_bit_depth=12)


def test_factory_picks_driver(tmp_path: Path) -> None:
    null = open_sink(SinkSpec("null"))
    png = open_sink(SinkSpec("png", tmp_path / "frames"))
    enc = open_sink(SinkSpec("encoder", tmp_path / "out.mkv"))
    try:
        assert isinstance(null, NullSink) and isinstance(png, PngFolderSink) and isinstance(enc, EncoderSink)
        assert all(isinstance(s, Sink) for s in (null, png, enc))
    finally:
        for s in (null, png, enc):
            s.close()


def test_check_video_name(tmp_path: Path) -> None:
    check_video_name(tmp_path / "a.MP4")
    check_video_name(tmp_path / "a.webm")
    for not_a_file in (tmp_path / "frames", tmp_path / "x.mkv"):
        if not_a_file.suffix:
            not_a_file.mkdir()
        with pytest.raises(OutputError, match="--png DIR"):
            check_video_name(not_a_file)
    with pytest.raises(OutputError, match=r"\.avi.*\.mkv.*\.mp4.*\.mov.*\.webm"):
        check_video_name(tmp_path / "a.avi")


# --- null ---------------------------------------------------------------------------------------


def test_null_sink_counts_and_checks() -> None:
    sink = open_sink(SinkSpec("null"))
    img = np.zeros((H, W, 3), np.uint8)
    for k in range(7):
        sink.write(img, meta(k))
    assert sink.frames_written == 7
    with pytest.raises(ValueError, match="size changed"):
        sink.write(np.zeros((H, W + 2, 3), np.uint8), meta(7))
    with pytest.raises(ValueError, match="HxWx3"):
        sink.write(np.zeros((H, W, 4), np.uint8), meta(7))
    sink.write(np.zeros((H, 2 * W, 3), np.uint8)[:, ::2], meta(7))  # a strided view is accepted
    sink.close()
    sink.close()
    assert sink.frames_written == 8


# --- png folder ---------------------------------------------------------------------------------


def test_png_folder_bit_exact_round_trip(tmp_path: Path) -> None:
    frames = media.bbb_frames(W, H, 5)
    folder = tmp_path / "deep" / "frames"  # parents are created too
    with open_sink(SinkSpec("png", folder)) as sink:
        for k, img in enumerate(frames):
            sink.write(img, meta(k))
    names = sorted(os.listdir(folder))
    assert names == [frame_name(k) for k in range(5)] == [f"{k:08d}.png" for k in range(5)]
    for k, img in enumerate(frames):
        assert np.array_equal(read_png(folder / names[k]), img)


def test_png_folder_16bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    deep = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
    shallow = media.bbb_frames(W, H, 1)[0]
    with open_sink(SinkSpec("png", tmp_path / "f16", png_bit_depth=16)) as sink:
        sink.write(deep, meta(0))
        sink.write(shallow, meta(1))
    with av.open(str(tmp_path / "f16" / frame_name(0))) as c:
        frame = next(c.decode(video=0))
        assert frame.format.name.startswith("rgb48")
        assert np.array_equal(frame.to_ndarray(format="rgb48le"), deep)
    widened = read_png(tmp_path / "f16" / frame_name(1), "rgb48le")
    assert np.array_equal(widened, shallow.astype(np.uint16) * 257)


def test_png_folder_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"x")
    with pytest.raises(OutputError, match="cannot"):
        open_sink(SinkSpec("png", blocker))
    with pytest.raises(OutputError, match="cannot"):
        open_sink(SinkSpec("png", blocker / "sub"))
    with pytest.raises(OutputError, match="cannot"):
        open_sink(SinkSpec("png", Path("/proc/rife_live_frames")))


def test_png_folder_leaves_no_partial_files(tmp_path: Path) -> None:
    with open_sink(SinkSpec("png", tmp_path / "f")) as sink:
        for k in range(3):
            sink.write(media.pattern_frame(W, H, k), meta(k))
    assert sorted(os.listdir(tmp_path / "f")) == [frame_name(k) for k in range(3)]
    with pytest.raises(ValueError, match="closed"):
        sink.write(media.pattern_frame(W, H, 3), meta(3))


def test_png_folder_replace_removes_old_frames_only(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    with open_sink(SinkSpec("png", folder)) as sink:
        for k in range(5):
            sink.write(media.pattern_frame(W, H, k), meta(k))
    (folder / "notes.txt").write_text("mine")
    (folder / "1234.png").write_bytes(b"not ours: another name pattern")
    with open_sink(SinkSpec("png", folder, overwrite=True)) as sink:
        for k in range(2):
            sink.write(media.pattern_frame(W, H, 10 + k), meta(k))
    assert sorted(os.listdir(folder)) == [frame_name(0), frame_name(1), "1234.png", "notes.txt"]
    assert np.array_equal(read_png(folder / frame_name(1)), media.pattern_frame(W, H, 11))
