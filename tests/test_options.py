"""options.py: the value parsers every option uses, and options declared once."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import pytest

from rife_live.errors import ConfigError
from rife_live.options import (boolean, check_fields, flag_spellings, in_range, integer, number, number_choice,
                               option, option_fields, parse_rate, parse_time)


# -- rates and times --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("60", Fraction(60)),
        (60, Fraction(60)),
        ("60000/1001", Fraction(60000, 1001)),
        ("59.94", Fraction(2997, 50)),  # the decimal exactly, not NTSC
        (59.94, Fraction(2997, 50)),  # a TOML float is the decimal it was written as
        ("23.976", Fraction(2997, 125)),
        ("ntsc", Fraction(30000, 1001)),
        ("NTSC-Film", Fraction(24000, 1001)),
        (" 25 ", Fraction(25)),
    ],
)
def test_parse_rate(value: object, expected: Fraction) -> None:
    assert parse_rate(value) == expected


@pytest.mark.parametrize("bad", ["0", "-30", "abc", "60/0", "1e9", "inf", True, [60], float("nan")])
def test_parse_rate_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_rate(bad)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90", Fraction(90)),
        ("1:30", Fraction(90)),
        ("0:01:30.5", Fraction(181, 2)),
        ("1:01:01", Fraction(3661)),
        ("2.25", Fraction(9, 4)),
        (".5", Fraction(1, 2)),
        ("0:00:00.1", Fraction(1, 10)),  # exact, not the float 0.1
        (90, Fraction(90)),
        (1.5, Fraction(3, 2)),
    ],
)
def test_parse_time(value: object, expected: Fraction) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("bad", ["1:75", "1:60:00", "1:2:3:4", "-5", "1.5:30", "", "1:", "abc", -1, False])
def test_parse_time_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_time(bad)


@pytest.mark.parametrize("value, expected", [(True, True), ("yes", True), ("Off", False), ("0", False)])
def test_boolean(value: object, expected: bool) -> None:
    assert boolean(value) is expected


def test_boolean_rejects() -> None:
    for bad in ("maybe", 1, None):
        with pytest.raises(ValueError, match="true or false"):
            boolean(bad)


def test_number_choice() -> None:
    check = number_choice((0.5, 1.0), ("auto",))
    assert check("0.5") == 0.5 and check(1) == 1.0 and check(" AUTO ") == "auto"
    with pytest.raises(ValueError, match="is not one of 0.5, 1, auto"):
        check("2")


@dataclass(frozen=True)
class Example:
    count: int = option(1, in_range(integer, 1, 9), "how many", metavar="N")
    speed: float = option(0.5, number, "how fast", flags=("-s", "--speed"))
    secret: bool = option(False, boolean, "config files only", flags=None)
    plain: str = "not an option"

    def __post_init__(self) -> None:
        check_fields(self)


def test_one_declaration_gives_flags_and_checks() -> None:
    specs = {f.name: spec for f, spec in option_fields(Example)}
    assert list(specs) == ["count", "speed", "secret"]  # plain fields are not options
    assert flag_spellings("count", specs["count"]) == ("--count",)
    assert flag_spellings("speed", specs["speed"]) == ("-s", "--speed")
    assert flag_spellings("secret", specs["secret"]) == ()
    assert specs["count"].metavar == "N" and specs["count"].help == "how many"
    with pytest.raises(ConfigError, match="--count: 10 is outside 1-9"):
        Example(count=10)


def test_option_mode_is_checked() -> None:
    with pytest.raises(ValueError, match="mode"):
        option(None, number, "x", mode="sometimes")
