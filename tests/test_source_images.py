"""pipeline/source_images.py: a folder of numbered images played as a video."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from rife_live.errors import InputError
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.source import InputKind, SourceOptions
from rife_live.pipeline.source_images import image_number, list_images
from tests import media


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
