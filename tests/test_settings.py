"""models/settings: the flow-scale ladder, padding, and the engine's options."""

from __future__ import annotations

import pytest

from rife_live.errors import ConfigError
from rife_live.models.settings import FLOW_SCALES, EngineConfig, nearest_scale, pad_multiple


def test_pad_multiple():
    assert [pad_multiple(s) for s in FLOW_SCALES] == [128, 64, 32, 32, 32]


def test_nearest_scale_walks_the_ladder():
    assert [nearest_scale(1.0 * 2), nearest_scale(1.0 * 0.5), nearest_scale(0.25 * 0.5), nearest_scale(4.0 * 2)] \
        == [2.0, 0.5, 0.25, 4.0]
    assert nearest_scale(0.375) == 0.25  # a tie goes to the smaller scale


def test_engine_config_checks_its_fields():
    assert EngineConfig().device == "auto"
    with pytest.raises(ConfigError, match="--device: 'tpu' is not one of auto, cpu, cuda"):
        EngineConfig(device="tpu")
    with pytest.raises(ConfigError, match="--dtype"):
        EngineConfig(dtype="int8")
