"""sinks/stills.py: image read/write and GIF/video assembly, read back with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.sinks.stills import read_image, write_gif, write_png, write_video
from tests import media

W, H = 160, 90


def test_png_round_trip_8bit(tmp_path: Path) -> None:
    img = media.bbb_frames(W, H, 1, start=30)[0]
    write_png(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.uint8 and back.shape == (H, W, 3)
    assert np.array_equal(back, img)


def test_png_round_trip_16bit(tmp_path: Path) -> None:
    deep = np.random.default_rng(3).integers(0, 65536, (H, W, 3), dtype=np.uint16)
    write_png(tmp_path / "d.png", deep)
    with av.open(str(tmp_path / "d.png")) as c:
        assert np.array_equal(next(c.decode(video=0)).to_ndarray(format="rgb48le"), deep)
    # read_image gives 8-bit, rounded to the nearest level (not dithered)
    assert np.array_equal(read_image(tmp_path / "d.png"), np.round(deep / 257).astype(np.uint8))
    img = media.bbb_frames(W, H, 1)[0]
    write_png(tmp_path / "w.png", img, bit_depth=16)
    with av.open(str(tmp_path / "w.png")) as c:
        assert np.array_equal(next(c.decode(video=0)).to_ndarray(format="rgb48le"), img.astype(np.uint16) * 257)


def test_read_jpeg(tmp_path: Path) -> None:
    folder = media.make_image_folder(tmp_path / "jpgs", count=1, width=W, height=H, ext="jpg")
    want = media.bbb_frames(W, H, 1)[0]
    got = read_image(folder / "0.jpg")
    assert got.shape == (H, W, 3) and got.dtype == np.uint8
    assert media.psnr(got, want) > 28.0


def test_read_errors(tmp_path: Path, media_cache) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")
    text = tmp_path / "notes.png"
    text.write_text("not an image\n" * 20)
    with pytest.raises(InputError, match="not a readable image"):
        read_image(text)
    with pytest.raises(InputError, match="not an image"):
        read_image(media_cache.get("clip.mp4", media.make_clip, frames=2))
    with pytest.raises(InputError):
        read_image(media.make_random_bytes(tmp_path / "rand.jpg"))
    write_png(tmp_path / "tiny.png", np.zeros((1, 5, 3), np.uint8))
    with pytest.raises(InputError, match="5x1.*at least 2x2"):
        read_image(tmp_path / "tiny.png")
    with pytest.raises(InputError):
        read_image(tmp_path)  # a directory


def test_write_png_unwritable(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="No such file"):
        write_png(tmp_path / "no" / "a.png", np.zeros((4, 4, 3), np.uint8))
    assert not (tmp_path / "no").exists()


def test_gif_assembly(tmp_path: Path) -> None:
    frames = media.bbb_frames(W, H, 8, start=60)
    path = tmp_path / "anim.gif"
    write_gif(path, frames, fps=Fraction(10))
    with av.open(str(path)) as c:
        decoded = [(f.pts * f.time_base, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    assert len(decoded) == len(frames)
    assert [t for t, _ in decoded] == [Fraction(k, 10) for k in range(8)]
    # one 256-colour palette for the sequence, dithered: close to the source, not exact
    assert min(media.psnr(img, want) for (_, img), want in zip(decoded, frames)) > 22.0


def test_gif_limits(tmp_path: Path) -> None:
    frames = media.bbb_frames(W, H, 2)
    with pytest.raises(ConfigError, match="GIF frame rate"):
        write_gif(tmp_path / "fast.gif", frames, fps=60)
    with pytest.raises(ValueError, match="no frames"):
        write_gif(tmp_path / "none.gif", [], fps=10)
    with pytest.raises(ValueError, match="all be"):
        write_gif(tmp_path / "mixed.gif", [frames[0], frames[1][:, :10]], fps=10)


def test_video_assembly(tmp_path: Path) -> None:
    frames = media.bbb_frames(W, H, 9, start=10)
    path = tmp_path / "clip.mp4"
    write_video(path, frames, fps=Fraction(24000, 1001))
    with av.open(str(path)) as c:
        assert c.streams.video[0].average_rate == Fraction(24000, 1001)
        times = [f.pts * f.time_base for f in c.decode(video=0)]
    assert times == [k * Fraction(1001, 24000) for k in range(9)]
    assert min(media.psnr(a, b) for a, b in zip(frames, media.iter_rgb(path))) > 30.0
