"""pipeline/build.py: options into pipeline parameters, and one builder for both modes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rife_live.config import Config, VideoOptions, load_config
from rife_live.errors import ConfigError
from rife_live.pipeline.build import (EXPORT_RING_B_SLOTS, FILE_PREROLL_S, Mode, build_pipeline, display_name,
                                      read_ahead, resolve_rate, resolve_scale)
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


def test_read_ahead_is_sized_from_time_and_capped_by_memory() -> None:
    config = load_config(None, {"readahead-secs": "2", "live-latency": "0.4", "readahead-max-mib": "768"},
                         user_config=False)
    file = read_ahead(config, False, Fraction(60), 256, 448)
    assert (file.slots, file.lead_s) == (121, 2.0) and file.preroll == int(FILE_PREROLL_S * 60)
    live = read_ahead(config, True, Fraction(60), 256, 448)
    assert (live.slots, live.lead_s) == (25, 0.4) and live.preroll == 24  # the clock starts 0.4 s behind
    uhd = read_ahead(config, False, Fraction(60), 2160, 3840)
    assert uhd.slots == 768 * 1024 * 1024 // (2160 * 3840 * 3) and uhd.lead_s < 2.0  # the memory cap wins
    montage = read_ahead(load_config(None, {"montage": True}, user_config=False), False, Fraction(60), 2160, 3840)
    assert montage.slots < uhd.slots
    tiny = read_ahead(load_config(None, {"readahead-max-mib": "16"}, user_config=False), False, Fraction(60),
                      4320, 7680)
    assert tiny.slots == 4 and tiny.preroll >= 2  # never below the minimum


def test_both_modes_build_the_same_stages(media_cache) -> None:
    clip = media_cache.get("tiny.mp4", media.make_clip, width=64, height=48, frames=3)
    for mode in Mode:
        source = open_source(clip)
        clock = (lambda: 0.0) if mode is Mode.LIVE else None
        pipe = build_pipeline(Config(), source, mode, engine=None, rate=Fraction(50), scale=1.0, clock=clock)  # type: ignore[arg-type]
        assert pipe.ring_a.capacity == 6
        live_slots = read_ahead(Config(), False, Fraction(50), 48, 64).slots
        assert pipe.ring_b.capacity == (EXPORT_RING_B_SLOTS if mode is Mode.EXPORT else live_slots)
        assert (pipe.interp.options.clock is not None) == (mode is Mode.LIVE)
        pipe.close_source()
    with open_source(clip) as source, pytest.raises(ValueError, match="clock"):
        build_pipeline(Config(), source, Mode.LIVE, engine=None, rate=Fraction(50), scale=1.0)  # type: ignore[arg-type]
