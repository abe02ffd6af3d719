"""What the network can be asked for, importable without torch: the flow scales, the devices and
dtypes, and ``EngineConfig`` (the ``[engine]`` options). The engine, the config, the key bindings
and the adaptive controller all take these facts from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rife_live.options import check_fields, choice, file_path, in_range, integer, option, text

# The flow scales the network takes, ascending: the ladder the adaptive controller and the scale
# keys move along. Scale s runs the three blocks at 1/(4/s), 1/(2/s), 1/(1/s) of the frame size.
FLOW_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)
BASE_MULTIPLE = 32  # input sides are padded to a multiple of max(32, 32 / scale)
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")
MAX_THREADS = 256


def pad_multiple(scale: float) -> int:
    """The multiple the padded input sides must have for flow ``scale``."""
    return int(max(BASE_MULTIPLE, BASE_MULTIPLE / scale))


def nearest_scale(wanted: float) -> float:
    """The flow scale nearest to ``wanted`` (ties go to the smaller one)."""
    return min(FLOW_SCALES, key=lambda s: (abs(s - wanted), s))


@dataclass(frozen=True)
class EngineConfig:
    """How to build the engine (``models.engine.Interpolator.from_config``)."""

    model: str | None = option(None, text, "model name (rife-hd-v3, the default) or path to your own flownet.pkl "
                               "or train_log folder", metavar="NAME|PATH")
    model_dir: Path | None = option(None, file_path, "where fetched models are cached (default $RIFE_LIVE_MODEL_DIR "
                                    "or ~/.cache/rife-live/models)", metavar="DIR")
    device: str = option("auto", choice(DEVICES), "auto, cpu or cuda (default auto)")
    dtype: str = option("auto", choice(DTYPES), "auto, float32, bfloat16 or float16 (default auto: bfloat16 on "
                        "CPUs that have it, float16 on CUDA, else float32)")
    threads: int = option(0, in_range(integer, 0, MAX_THREADS), "CPU threads for the network (default 0: "
                          "torch's own choice, one per core)", metavar="N")

    def __post_init__(self) -> None:
        check_fields(self)
