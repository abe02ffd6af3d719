"""pipeline/source.py: what a target names, the source options, and the pure helpers drivers share."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from rife_live.errors import ConfigError, InputError
from rife_live.pipeline.source import (HD_MIN_HEIGHT, InputKind, SourceOptions, classify, clockwise_rotation,
                                       local_path, pick_colorspace, upright_size)


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("clip.mp4", InputKind.FILE),
        ("file:///tmp/clip.mp4", InputKind.FILE),
        ("rtsp://cam.local/stream", InputKind.NETWORK),
        ("udp://127.0.0.1:5000", InputKind.NETWORK),
        ("https://example.org/v.mp4", InputKind.NETWORK),
        ("/dev/video0", InputKind.WEBCAM),
        ("v4l2:/dev/video2", InputKind.WEBCAM),
        ("lavfi:testsrc2", InputKind.LAVFI),
    ],
)
def test_classify(target: str, kind: str) -> None:
    assert classify(target) == kind


def test_classify_folder_and_unknown_scheme(tmp_path: Path) -> None:
    assert classify(str(tmp_path)) == InputKind.IMAGES
    with pytest.raises(InputError, match="unsupported input URL scheme 'gopher://'"):
        classify("gopher://x")


def test_pick_colorspace_tag_first_then_height() -> None:
    assert pick_colorspace(1, 480) == "bt709"  # tagged BT.709 on SD stays BT.709
    assert pick_colorspace(6, 1080) == "bt601"  # tagged SMPTE 170M on HD stays BT.601
    assert pick_colorspace(5, 1080) == "bt601"
    assert pick_colorspace(9, 2160) == "bt2020"
    assert pick_colorspace(2, HD_MIN_HEIGHT) == "bt709"  # unspecified: by height
    assert pick_colorspace(2, HD_MIN_HEIGHT - 1) == "bt601"
    assert pick_colorspace(None, 1080) == "bt709"


def test_rotation_helpers() -> None:
    # PyAV reports counter-clockwise degrees; VideoInfo keeps clockwise ones.
    assert clockwise_rotation(90) == 270
    assert clockwise_rotation(-90) == 90  # a phone held upright (iPhone: "rotation -90")
    assert clockwise_rotation(180) == 180
    assert clockwise_rotation(0) == 0
    assert upright_size(1920, 1080, 90) == (1080, 1920)
    assert upright_size(1920, 1080, 180) == (1920, 1080)


def test_local_path(tmp_path: Path) -> None:
    assert local_path("file:///tmp/clip.mp4") == Path("/tmp/clip.mp4")
    assert local_path(str(tmp_path)) == tmp_path  # an image folder
    assert local_path("rtsp://cam/x") is None and local_path("lavfi:testsrc2") is None


def test_options_are_checked_where_they_are_made() -> None:
    assert SourceOptions().mf_fps == Fraction(25)
    with pytest.raises(ConfigError, match="--rtsp-transport: 'carrier-pigeon' is not one of"):
        SourceOptions(rtsp_transport="carrier-pigeon")
    with pytest.raises(ConfigError, match="--network-timeout"):
        SourceOptions(network_timeout=0)
