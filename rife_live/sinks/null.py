"""The null sink: takes frames and only counts them (benchmarks, dry runs)."""

from __future__ import annotations

import numpy as np

from rife_live.frames import FrameMeta
from rife_live.sinks.base import SinkBase


class NullSink(SinkBase):
    """Counts frames; remembers the last frame's metadata so a benchmark can check the end."""

    def __init__(self) -> None:
        super().__init__()
        self.last_meta: FrameMeta | None = None
        self.closed = False

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        if self.closed:
            raise ValueError("write on a closed sink")
        self._check_image(image, (np.uint8, np.uint16))  # the contract holds even where nothing is written
        self.last_meta = meta
        self._count += 1

    def close(self) -> None:
        self.closed = True
