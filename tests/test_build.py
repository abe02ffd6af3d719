"""pipeline/build.py: options into pipeline parameters, and one builder for both modes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rife_live.config import Config, VideoOptions
from rife_live.errors import ConfigError
from rife_live.pipeline.build import (EXPORT_RING_B_SLOTS, Mode, build_pipeline, display_name, live_ring_b_slots,
                                      resolve_rate, resolve_scale)
from rife_live.pipeline.drivers import open_source
from tests import media


def test_resolve_rate() -> None:
    assert resolve_rate(VideoOptions(), Fraction(25)) == 50
    assert resolve_rate(VideoOptions(multi=3), Fraction(24)) == 72
    assert resolve_rate(VideoOptions(exp=2), Fraction(25)) == 100
    assert resolve_rate(VideoOptions(target_fps=Fraction(60)), None) == 60
    with pytest.raises(ConfigError, match="does not state its frame rate"):
        resolve_rate(VideoOptions(), None)
    with pytest.raises(ConfigError, match="needs the live player"):
        resolve_rate(VideoOptions(target_fps="display"), Fraction(25))


def test_resolve_scale_and_names() -> None:
    assert resolve_scale("auto", 1920, 1080) == 1.0 and resolve_scale("auto", 3840, 2160) == 0.5
    assert resolve_scale(0.25, 3840, 2160) == 0.25
    assert display_name("/videos/movie.mkv") == "movie.mkv" and display_name("rtsp://cam/x") == "rtsp://cam/x"


def test_live_ring_b_is_sized_from_time_and_capped_by_memory() -> None:
    assert live_ring_b_slots(Fraction(60), 256, 448, False) == 24
    assert live_ring_b_slots(Fraction(60), 4320, 7680, False) == 4
    assert live_ring_b_slots(Fraction(60), 2160, 3840, True) < live_ring_b_slots(Fraction(60), 2160, 3840, False)


def test_both_modes_build_the_same_stages(media_cache) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    for mode in Mode:
        source = open_source(clip)
        clock = (lambda: 0.0) if mode is Mode.LIVE else None
        pipe = build_pipeline(Config(), source, mode, engine=None, rate=Fraction(50), scale=1.0, clock=clock)  # type: ignore[arg-type]
        assert pipe.ring_a.capacity == 6
        live_slots = live_ring_b_slots(Fraction(50), 48, 64, False)
        assert pipe.ring_b.capacity == (EXPORT_RING_B_SLOTS if mode is Mode.EXPORT else live_slots)
        assert (pipe.interp.options.clock is not None) == (mode is Mode.LIVE)
        pipe.close_source()
    with open_source(clip) as source, pytest.raises(ValueError, match="clock"):
        build_pipeline(Config(), source, Mode.LIVE, engine=None, rate=Fraction(50), scale=1.0)  # type: ignore[arg-type]
