"""pipeline/source_images.py: a folder of numbered images played as a video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.error
import pytest

from rife_live.errors import InputError
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.source import InputKind, SourceOptions
from rife_live.pipeline.source_images import image_number, list_images
from tests import fuzz_media, media


def test_images_sort_by_number(tmp_path: Path) -> None:
    for name in ("10.png", "2.png", "1.png", "frame_0003.png", "notes.txt", "cover.png"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["1.png", "2.png", "frame_0003.png", "10.png"]
    assert image_number("shot_12_0040.jpg") == 40
    assert image_number("cover.png") is None


def test_image_folder(media_cache, tmp_path: Path) -> None:
    folder = media_cache.get("imgs", media.make_image_folder, count=12)
    with open_source(folder) as src:
        assert src.kind == InputKind.IMAGES and not src.is_live 
        assert (src.video.width, src.video.height, src.video.frame_count) == (64, 48, 12)
        frames = list(src.items())
        assert [src.relative_time(f) for f in frames] == [Fraction(k, 25) for k in range(12)]
    with open_source(folder, SourceOptions(mf_fps=Fraction(30000, 1001))) as src:
        assert src.video.fps == Fraction(30000, 1001)
        assert src.video.duration == 12 / Fraction(30000, 1001)


def test_image_folder_seek(media_cache) -> None:
    folder = media_cache.get("imgs", media.make_image_folder, count=12)
    with open_source(folder) as src:
        src.seek(Fraction(5, 25) + Fraction(1, 100))
        assert [src.relative_time(f) for f in src.items()] == [Fraction(k, 25) for k in range(5, 12)]


def test_folder_without_images(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no pictures here")
    with pytest.raises(InputError, match="no numbered PNG/JPEG images"):
        open_source(tmp_path)


def _fuzz_frames(media_cache, seed: int, index: int) -> Path:
    """The image folder of fuzz case ``index`` of ``seed`` (tests/fuzz_media.py) that showed a bug."""
    return media_cache.get(f"fuzz-{seed}-{index}", fuzz_media.write_case, seed=seed, index=index) / "in" / "frames"


def _external_error(path: Path) -> bool:
    """Whether FFmpeg fails on the image with ExternalError (zlib's error on a damaged PNG)."""
    try:
        with av.open(str(path)) as container:
            next(container.decode(video=0))
    except av.error.ExternalError:
        return True
    return False


def test_damaged_pngs_in_a_folder_are_skipped(media_cache) -> None:
    """Fuzz case 5 of seed 0: bit flips in 8.png and 11.png break their deflate streams, and FFmpeg
    fails with ExternalError, not InvalidDataError. They used to end the export; they are skipped
    and counted like any undecodable image."""
    folder = _fuzz_frames(media_cache, 0, 5)
    assert _external_error(folder / "8.png") and _external_error(folder / "11.png")
    with open_source(folder) as src:
        frames = list(src.items())
        assert len(frames) == 10 and src.corrupt_packets == 2
        assert [src.relative_time(f) for f in frames] == [Fraction(k, 25) for k in range(12) if k not in (8, 11)]


def test_damaged_first_png_is_one_line(media_cache) -> None:
    """Fuzz case 5 of seed 7: the first image of the folder fails with ExternalError; opening the
    folder used to end in an internal error (exit 3)."""
    folder = _fuzz_frames(media_cache, 7, 5)
    assert _external_error(folder / "0.png")
    with pytest.raises(InputError, match="cannot decode image .*0.png"):
        open_source(folder)
