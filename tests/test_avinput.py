"""rife_live/avinput.py: one way to open inputs (lenient metadata) and one-line FFmpeg reasons."""

from __future__ import annotations

from pathlib import Path

import av
import pytest

from rife_live.avinput import open_input, reason
from tests import fuzz_media


def test_a_tag_that_is_not_utf8_is_read_with_replacements(media_cache) -> None:
    """Fuzz case 132 of seed 7: flipped bits in a Matroska tag name (``DURATION``)."""
    clip = media_cache.get("fuzz-7-132", fuzz_media.write_case, seed=7, index=132) / "in" / "clip.mkv"
    with pytest.raises(UnicodeDecodeError):
        av.open(str(clip))  # PyAV's default (strict) raises while opening
    with open_input(clip) as container:
        assert any("\ufffd" in key for key in container.streams.audio[0].metadata)
        assert sum(1 for _ in container.decode(video=0)) == fuzz_media.BASE_FRAMES


def test_reason_is_the_strerror(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    with pytest.raises(av.FFmpegError) as caught:
        with open_input(tmp_path / "junk.png") as container:
            next(container.decode(video=0))
    assert "[Errno" in str(caught.value) and "[Errno" not in reason(caught.value)
    assert reason(caught.value) == caught.value.strerror
    assert reason(OSError("plain text")) == "plain text"
