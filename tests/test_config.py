"""config.py: rate and time parsing, TOML loading, the merge order and one-line errors."""

from __future__ import annotations

import re
from dataclasses import FrozenInstanceError
from fractions import Fraction
from pathlib import Path

import pytest

from rife_live.config import OPTIONS, SECTIONS, Config, apply_flags, apply_toml, load_config, user_config_path
from rife_live.pipeline.scenes import SceneConfig
from rife_live.errors import ConfigError
REPO = Path(__file__).resolve().parents[1]
DEFAULT_TOML = REPO / "configs" / "default.toml"


# -- the default file and the records ---------------------------------------------------------
def test_default_toml_is_the_defaults_and_lists_every_key() -> None:
    assert load_config(DEFAULT_TOML, user_config=False) == Config()
    text = DEFAULT_TOML.read_text(encoding="utf-8")
    for name in OPTIONS:
        assert re.search(rf"^#? ?{name.replace('_', '-')} =", text, re.MULTILINE), name
    for section in SECTIONS:
        assert f"[{section}]" in text


def test_records_are_frozen() -> None:
    config = Config()
    with pytest.raises(FrozenInstanceError):
        config.player.volume = 5  # type: ignore[misc]


def test_scenes_section_is_the_detector_config() -> None:
    assert Config().scenes == SceneConfig()  # scenes.py's measured defaults
    tuned = apply_toml(Config(), {"scenes": {"cut-max-similarity": 0.2, "detect-static": False}}, "inline").scenes
    assert tuned == SceneConfig(cut_max_similarity=0.2, detect_static=False)
    with pytest.raises(ConfigError, match="unknown option --cut-max-similarity"):  # config files only
        apply_flags(Config(), {"cut-max-similarity": "0.2"})


def test_input_section_is_the_source_options() -> None:
    config = apply_flags(Config(), {"rtsp-transport": "udp", "network-timeout": "3", "mf-fps": "30"})
    assert (config.input.rtsp_transport, config.input.network_timeout, config.input.mf_fps) == ("udp", 3.0, 30)


# -- merging ----------------------------------------------------------------------------------
def test_flags_parse_strings_and_typed_values() -> None:
    config = apply_flags(Config(), {
        "target-fps": "60000/1001", "scale": "0.5", "start": "1:30", "no-audio": True, "volume": "40",
        "device": "CPU", "crf": "20", "path": "~/out.mp4", "mute": "yes", "montage": None,
    })
    assert config.video.target_fps == Fraction(60000, 1001)
    assert config.video.scale == 0.5 and config.video.start == 90 and config.video.no_audio
    assert config.player.volume == 40.0 and config.player.mute
    assert config.engine.device == "cpu" and config.output.crf == 20
    assert config.output.path == Path.home() / "out.mp4"
    assert config.video.montage is False  # None: not given


def test_target_fps_display() -> None:
    assert apply_flags(Config(), {"target-fps": "display"}).video.target_fps == "display"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"scale": "3"}, "--scale: 3 is not one of 0.25, 0.5, 1, 2, 4, auto"),
        ({"volume": "101"}, "--volume: 101 is outside 0-100"),
        ({"multi": "0"}, "--multi: 0 is outside 1-256"),
        ({"multi": "2.5"}, "--multi: expected an integer"),
        ({"exp": 9}, "--exp: 9 is outside 1-8"),
        ({"exp": 0}, "--exp: 0 is outside 1-8"),
        ({"target-fps": "0"}, "--target-fps: 0 must be > 0"),
        ({"mf-fps": "-5"}, "--mf-fps: -5 must be > 0"),
        ({"device": "tpu"}, "--device: 'tpu' is not one of auto, cpu, cuda"),
        ({"dtype": "int8"}, "--dtype: 'int8' is not one of auto, float32, bfloat16, float16"),
        ({"vo": "x11"}, "--vo: 'x11' is not one of gpu, null"),
        ({"rtsp-transport": "quic"}, "--rtsp-transport: 'quic' is not one of"),
        ({"fullscreen": "maybe"}, "--fs: expected true or false"),
        ({"target-fps": "fast"}, "--target-fps: 'fast' is not a frame rate"),
        ({"start": "1:75"}, "--start: '1:75' is not a time"),
        ({"sclae": "1"}, "unknown option --sclae; did you mean '--scale'?"),
        ({"multi": 2, "exp": 1}, "both set the output rate"),
        ({"start": "10", "end": "5"}, "--end (5 s) must be after --start (10 s)"),
    ],
)
def test_flag_errors_are_one_line_and_name_the_flag(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(flags=flags, user_config=False)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_later_rate_choice_replaces_the_earlier_one(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text("[video]\ntarget-fps = 60\n", encoding="utf-8")
    config = load_config(conf, {"multi": "3"}, user_config=False)
    assert config.video.multi == 3 and config.video.target_fps is None and config.video.exp is None


def test_merge_order_defaults_user_file_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    user = user_config_path()
    assert user == tmp_path / "xdg" / "rife-live" / "rife-live.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[player]\nvolume = 30\nvo = "null"\nmute = true\n[output]\ncrf = 22\n', encoding="utf-8")
    given = tmp_path / "given.toml"
    given.write_text("[player]\nvolume = 50\n[output]\ncrf = 24\n", encoding="utf-8")
    config = load_config(given, {"crf": "26"})
    assert config.player.volume == 50.0  # --config over the user file
    assert config.player.vo == "null" and config.player.mute  # the user file over the defaults
    assert config.output.crf == 26  # flags over everything
    assert config.engine == Config().engine  # untouched sections keep their defaults
    assert load_config(given, user_config=False).player.vo == "gpu"


def test_toml_underscore_spelling_and_exact_numbers(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[video]\ntarget_fps = "24000/1001"\nfps = 23.976\nend = "0:00:10.04"\nscale = 1\n',
                    encoding="utf-8")
    video = load_config(conf, user_config=False).video
    assert video.target_fps == Fraction(24000, 1001)
    assert video.fps == Fraction(2997, 125)
    assert video.end == Fraction(251, 25) and video.scale == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[vidoe]\nscale = 1\n", "unknown section [vidoe] (sections: video, input, engine, scenes, player, "
                                 "output); did you mean 'video'?"),
        ("[video]\nscael = 1\n", "unknown key [video] scael"),
        ("scale = 1\n", "'scale' must be under a [video] section"),
        ("[player]\nvolume = true\n", "[player] volume: expected a number, not true"),
        ("[player]\nvolume = [1]\n", "[player] volume: expected a number, not list"),
        ("[player]\nfullscreen = 1\n", "[player] fullscreen: expected true or false, not 1"),
        ("[output]\ncrf = 18.5\n", "[output] crf: expected an integer, not 18.5"),
        ("[video]\nmulti = 2\nexp = 1\n", "both set the output rate"),
        ("[video]\nno-audio = true\nno_audio = false\n", "set twice"),
        ("[video\n", "not valid TOML"),
    ],
)
def test_toml_errors_name_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    conf = tmp_path / "bad.toml"
    conf.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(conf, user_config=False)
    assert str(conf) in str(info.value) and message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml", user_config=False)


def test_apply_toml_takes_a_parsed_mapping() -> None:
    config = apply_toml(Config(), {"engine": {"dtype": "bfloat16", "model-dir": "/tmp/m"}}, "inline")
    assert config.engine.dtype == "bfloat16" and config.engine.model_dir == Path("/tmp/m")


def test_validate_catches_records_built_by_hand() -> None:
    from rife_live.config import VideoOptions, validate

    with pytest.raises(ConfigError, match="give only one output rate"):
        validate(Config(video=VideoOptions(multi=2, exp=1)))


def test_colour_options() -> None:
    config = load_config(flags={"tone-mapping": "Hable", "path": "o.mkv", "pix-fmt": "yuv420p10le"}, user_config=False)
    assert config.video.tone_mapping == "hable" and config.output.pix_fmt == "yuv420p10le"
    assert load_config(flags={"png-dir": "f", "bit-depth": "16"}, user_config=False).output.bit_depth == 16
    assert Config().video.tone_mapping == "bt.2390" and Config().output.bit_depth is None


@pytest.mark.parametrize(
    "flags, message",
    [
        ({"tone-mapping": "reinhard"}, "--tone-mapping: 'reinhard' is not one of bt.2390, hable, clip"),
        ({"png-dir": "f", "bit-depth": "10"}, "--bit-depth: 10 is not one of 8, 16"),
        ({"path": "o.mkv", "bit-depth": "16"}, "--bit-depth applies to --png only"),
        ({"png-dir": "f", "pix-fmt": "yuv420p"}, "--pix-fmt applies to -o only"),
    ],
)
def test_colour_option_errors(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(flags=flags, user_config=False)
