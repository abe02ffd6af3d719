"""player/commands.py: the command and property tables against the binding declarations, and the
value rules of cycle and multiply."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rife_live.input.bindings import COMMANDS, PROPERTIES
from rife_live.player.commands import COMMAND_HANDLERS, PROPERTY_ACCESS, cycled, multiplied, seek_target


def test_every_declared_command_and_property_has_its_handler() -> None:
    assert set(COMMAND_HANDLERS) == set(COMMANDS)
    assert set(PROPERTY_ACCESS) == set(PROPERTIES)


def test_cycle_toggles_flags_and_walks_choices() -> None:
    assert cycled(PROPERTIES["pause"], True) is False
    scale = PROPERTIES["scale"]
    assert cycled(scale, 0.5) == 1.0 and cycled(scale, 4.0) == "auto" and cycled(scale, "auto") == 0.25
    with pytest.raises(ValueError):
        cycled(PROPERTIES["volume"], 50.0)


def test_multiply_scales_numbers_and_steps_numeric_choices() -> None:
    assert multiplied(PROPERTIES["volume"], 80.0, 2) == 100.0  # clamped to its range
    assert multiplied(PROPERTIES["volume"], 80.0, 0.5) == 40.0
    scale = PROPERTIES["scale"]
    assert multiplied(scale, 0.5, 2) == 1.0 and multiplied(scale, 0.25, 0.5) == 0.25 and multiplied(scale, 4.0, 2) == 4.0
    with pytest.raises(ValueError):
        multiplied(PROPERTIES["pause"], True, 2)


def test_seek_target() -> None:
    assert seek_target(Fraction(3), -5, Fraction(10)) == 0
    assert seek_target(Fraction(3), 60, Fraction(10)) == Fraction(99, 10)
    assert seek_target(Fraction(3), 2, None, "absolute") == 2
