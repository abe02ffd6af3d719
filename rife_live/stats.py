"""Counters and their presentation: the export progress line and the stats JSON.

Pure formatting functions; the stages keep their own counters (``DecodeStats``,
``InterpolateStats``) and the player gathers them here at the end.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Mapping

from rife_live.errors import OutputError
from rife_live.outputs import write_bytes

BAR_WIDTH = 24
SECONDS_PER_MINUTE = 60


def format_duration(seconds: float) -> str:
    """``75.2`` -> ``1:15``; ``3725`` -> ``1:02:05``; unknown (inf/nan) -> ``--:--``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "--:--"
    total = int(round(seconds))
    hours, rest = divmod(total, SECONDS_PER_MINUTE * SECONDS_PER_MINUTE)
    minutes, secs = divmod(rest, SECONDS_PER_MINUTE)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(done: int, total: int | None, elapsed_s: float) -> str:
    """One terminal line: bar, frames done of total, output fps, ETA."""
    fps = done / elapsed_s if elapsed_s > 0 else 0.0
    if total:
        share = min(done / total, 1.0)
        filled = int(share * BAR_WIDTH)
        eta = (total - done) / fps if fps > 0 else math.inf
        return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} frames "
                f"{100 * share:5.1f}%  {fps:5.1f} fps  ETA {format_duration(eta)}")
    return f"{done} frames  {fps:5.1f} fps  {format_duration(elapsed_s)} elapsed"


def write_stats_json(path: Path, stats: Mapping[str, object]) -> None:
    """Write the stats as JSON, whole or not at all (a temporary file renamed into place); the
    command checked the path before the run (``outputs.check_new_file``)."""
    try:
        write_bytes(path, (json.dumps(stats, indent=1, default=str) + "\n").encode())
    except OutputError as exc:
        raise OutputError(f"cannot write stats: {exc}") from exc
