"""Shared pytest fixtures. Keep this file generic: module-specific fixtures live in their test files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests import media
from xvfb import xvfb_or_skip


class MediaCache:
    """Writes each generated clip once per test session and hands back its path.

    ``media_cache.get("clip.mp4", media.make_clip, frames=5)`` calls the maker with a fresh path in
    the session's media folder the first time and returns the cached path after that. The name is
    the cache key's file name; the maker and its arguments complete the key.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[tuple, Path] = {}

    def get(self, name: str, maker: Callable[..., Path], **kwargs) -> Path:
        key = (name, maker.__name__, tuple(sorted(kwargs.items())))
        if key not in self._made:
            folder = self.root / f"{len(self._made):03d}"
            folder.mkdir()
            self._made[key] = maker(folder / name, **kwargs)
        return self._made[key]


@pytest.fixture(scope="session")
def media_cache(tmp_path_factory: pytest.TempPathFactory) -> MediaCache:
    """Session-wide cache of generated test media (see ``tests/media.py``)."""
    return MediaCache(tmp_path_factory.mktemp("media"))


@pytest.fixture(scope="session")
def bbb_path() -> Path:
    """The real footage clip (1280x720, 25 fps, 132 frames, H.264 + AAC)."""
    if not media.BBB_PATH.exists():
        pytest.skip(f"{media.BBB_PATH} is missing")
    return media.BBB_PATH


@pytest.fixture(scope="module")
def display():
    """A private Xvfb server for the test module (DISPLAY set while it runs); skips without Xvfb."""
    with xvfb_or_skip() as name, pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISPLAY", name)
        patch.delenv("WAYLAND_DISPLAY", raising=False)
        yield name
