"""input/bindings.py: key names, the command table, the input.conf parser and the merge."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rife_live.errors import ConfigError
from rife_live.input.bindings import (
    COMMANDS,
    GLFW_KEY_NAMES,
    Binding,
    BindingTable,
    default_bindings,
    default_input_conf_text,
    key_from_event,
    load_bindings,
    parse_input_conf,
    parse_key,
    parse_line,
    tokenize,
)

REPO = Path(__file__).resolve().parents[1]


# -- keys -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("q", "q"),
        ("Q", "Q"),
        ("Shift+q", "Q"),  # Shift with a letter is its upper case
        ("shift+Q", "Q"),
        ("space", "SPACE"),
        ("Esc", "ESC"),
        ("pgdwn", "PGDWN"),
        ("SHARP", "#"),
        ("Ctrl++", "Ctrl++"),
        ("+", "+"),
        ("alt+ctrl+LEFT", "Ctrl+Alt+LEFT"),  # modifiers in canonical order
        ("Shift+Ctrl+a", "Ctrl+A"),
        ("Shift+1", "Shift+1"),
        ("Meta+f5", "Meta+F5"),
        ("kp_add", "KP_ADD"),
    ],
)
def test_parse_key_normalizes(written: str, canonical: str) -> None:
    assert parse_key(written) == canonical


@pytest.mark.parametrize("bad", ["BOGUS", "Ctrl+", "Hyper+a", "F26", "ab"])
def test_parse_key_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_key(bad)


def test_key_from_event_matches_the_file_syntax() -> None:
    assert key_from_event("a", ctrl=True, shift=True) == parse_key("Ctrl+Shift+a") == "Ctrl+A"
    assert key_from_event(" ") == "SPACE"
    assert key_from_event("Q") == "Q"
    assert key_from_event("LEFT", alt=True) == "Alt+LEFT"


def test_glfw_key_names_exist_in_glfw() -> None:
    glfw = pytest.importorskip("glfw")
    missing = [name for name in GLFW_KEY_NAMES if not hasattr(glfw, name)]
    assert missing == []
    for ours in GLFW_KEY_NAMES.values():
        assert parse_key(ours) == ours or parse_key(ours) == ours.upper()


# -- tokens and commands ----------------------------------------------------------------------
def test_tokenize_quotes_and_comment() -> None:
    assert tokenize('seek 5   # five seconds') == (["seek", "5"], "five seconds")
    assert tokenize("""set 'a b' "c \\" d" x#y""") == (["set", "a b", 'c " d', "x#y"], "")
    assert tokenize('x "# not a comment"') == (["x", "# not a comment"], "")
    with pytest.raises(ValueError):
        tokenize('show "open')


def test_parse_line_types_arguments() -> None:
    assert parse_line("  # comment") is None and parse_line("   ") is None
    assert parse_line("RIGHT seek 5") == Binding("RIGHT", "seek", (5.0, "relative"))
    assert parse_line("x seek 90 absolute").args == (90.0, "absolute")
    assert parse_line("ESC set fullscreen no  # leave").args == ("fullscreen", False)
    assert parse_line("ESC set fullscreen no  # leave").comment == "leave"
    assert parse_line("y set pause yes").args == ("pause", True)
    assert parse_line("v set volume 55.5").args == ("volume", 55.5)
    assert parse_line("a set scale auto").args == ("scale", "auto")
    assert parse_line("b set scale 0.5").args == ("scale", 0.5)
    assert parse_line("9 add volume -2").args == ("volume", -2.0)
    assert parse_line("Ctrl+UP multiply scale 2").args == ("scale", 2.0)
    assert parse_line("q quit").args == (0,)
    assert parse_line("Q quit 4").args == (4,)
    assert parse_line("k ignore").command == "ignore"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("k frob", "unknown command"),
        ("k seek", "takes"),
        ("k seek 1 2 3", "takes"),
        ("k seek x", "not a number"),
        ("k seek 5 sideways", "seek mode"),
        ("k set pause maybe", "yes or no"),
        ("k set volume 101", "within 0-100"),
        ("k set scale 3", "one of"),
        ("k cycle volume", "not one of"),
        ("k add pause 1", "not one of"),
        ("k multiply scale -2", "positive"),
        ("k quit soon", "exit code"),
        ("k {encode} quit", "sections"),
        ("k quit; quit", "one command"),
        ("BOGUS quit", "unknown key"),
        ("k", "no command"),
    ],
)
def test_bad_lines_say_why(line: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_line(line)


def test_every_command_in_the_table_parses() -> None:
    samples = {"ignore": [], "quit": [], "cycle": ["pause"], "set": ["mute", "yes"], "add": ["volume", "1"],
               "multiply": ["volume", "0.5"], "seek": ["1"], "frame-step": [], "screenshot": []}
    assert set(samples) == set(COMMANDS)
    for name, args in samples.items():
        assert parse_line(" ".join(["x", name, *args])).command == name


# -- files ------------------------------------------------------------------------------------
def test_parse_file_warns_with_line_numbers_and_keeps_good_lines() -> None:
    text = "SPACE cycle pause\n\n# note\nk frob\nx seek 'five'\nm cycle mute\n"
    bindings, warnings = parse_input_conf(text, "my.conf")
    assert [b.key for b in bindings] == ["SPACE", "m"]
    assert bindings[1].origin == "my.conf:6"
    assert len(warnings) == 2
    assert warnings[0].startswith("my.conf:4: unknown command 'frob'")
    assert warnings[1].startswith("my.conf:5: ")


def test_default_file_parses_cleanly_and_has_the_mpv_keys() -> None:
    bindings, warnings = parse_input_conf(default_input_conf_text())
    assert warnings == ()
    table = default_bindings()
    expect = {
        "SPACE": ("cycle", ("pause",)), "p": ("cycle", ("pause",)), "q": ("quit", (0,)),
        "ESC": ("set", ("fullscreen", False)), "f": ("cycle", ("fullscreen",)),
        "LEFT": ("seek", (-5.0, "relative")), "RIGHT": ("seek", (5.0, "relative")),
        "UP": ("seek", (60.0, "relative")), "DOWN": ("seek", (-60.0, "relative")),
        ".": ("frame-step", ()), "9": ("add", ("volume", -2.0)), "0": ("add", ("volume", 2.0)),
        "m": ("cycle", ("mute",)), "i": ("cycle", ("stats",)), "s": ("screenshot", ()),
        "Ctrl+i": ("cycle", ("interpolation",)),
    }
    for key, (command, args) in expect.items():
        binding = table.lookup(key)
        assert binding is not None and (binding.command, binding.args) == (command, args), key
    assert len(table) == len(bindings)


def test_configs_copy_matches_the_packaged_default() -> None:
    assert (REPO / "configs" / "input.conf").read_text(encoding="utf-8") == default_input_conf_text()


def test_user_file_merges_over_defaults(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    user = tmp_path / "input.conf"
    user.write_text("q ignore\nx quit\nSPACE frob\nRIGHT seek 10\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        table = load_bindings(user)
    assert table.lookup("q") is None  # unbound by ignore
    assert table.lookup("x").command == "quit"
    assert table.lookup("RIGHT").args == (10.0, "relative")
    assert table.lookup("SPACE").command == "cycle"  # the bad line is skipped, the default stays
    assert any(f"{user}:3" in record.getMessage() for record in caplog.records)


def test_user_file_from_xdg_config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_bindings().lookup("x") is None  # no user file: the defaults
    (tmp_path / "rife-live").mkdir()
    (tmp_path / "rife-live" / "input.conf").write_text("x cycle stats\n", encoding="utf-8")
    assert load_bindings().lookup("x").args == ("stats",)


def test_missing_given_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--input-conf"):
        load_bindings(tmp_path / "nope.conf")


def test_table_is_read_only() -> None:
    table = BindingTable.of([Binding("a", "quit", (0,))])
    with pytest.raises(TypeError):
        table.bindings["b"] = Binding("b", "quit", (0,))  # type: ignore[index]
    with pytest.raises(AttributeError):
        table.bindings = {}  # type: ignore[misc]
