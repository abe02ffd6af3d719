"""What a live session counted: the stats overlay's snapshot and the ``--stats-json`` record.

A session may run several pipelines (``--loop``, a seek after the input ended); ``Report`` keeps
the counts of those already stopped and adds the running one.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from rife_live.color import needs_mapping
from rife_live.colorinfo import ColorInfo
from rife_live.frames import FrameKind

if TYPE_CHECKING:
    from rife_live.pipeline.build import Pipeline
    from rife_live.player.session import LiveSession

MS_PER_S = 1000.0
PERCENT = 100.0

PipelineStats = dict[str, dict[str, object]]


def color_line(color: ColorInfo, curve: str, window: bool) -> str:
    """The source's colour description, and how the window maps it when it does (DESIGN.md §11)."""
    shown = f" -> SDR BT.709 ({curve})" if color.hdr else " -> BT.709" if needs_mapping(color) else ""
    return color.describe() + (shown if window else "")


class Report:
    """Counts of the session's pipelines, and the overlay's rate window (main thread only)."""

    def __init__(self) -> None:
        self._retired: list[PipelineStats] = []  # stats of pipelines already stopped
        self._mark: tuple[float, int, int] | None = None  # the overlay's last (wall, shown, source frames)

    def retire(self, pipe: Pipeline) -> None:
        """``pipe`` stopped: keep what it counted."""
        self._retired.append(pipe.stats())

    def runs(self, running: Pipeline | None) -> list[PipelineStats]:
        return self._retired + ([running.stats()] if running is not None else [])

    def produced(self, running: Pipeline | None) -> Counter:
        """Output frames made, by kind, over every pipeline."""
        made: Counter = Counter()
        for run in self.runs(running):
            made.update(run["interpolate"]["kinds"])  # type: ignore[arg-type]
        return made

    def snapshot(self, s: LiveSession) -> dict[str, object]:
        """Numbers for the stats overlay, rates since the previous snapshot."""
        pipe, presenter = s.pipeline, s.presenter
        assert pipe is not None and presenter is not None
        interp = pipe.interp.stats
        now, shown = time.perf_counter(), presenter.stats.shown
        mark, self._mark = self._mark, (now, shown, interp.source_frames)
        snap: dict[str, object] = {"target_fps": float(s.rate), "audio": s.audio is not None}
        if mark is not None and now > mark[0]:
            snap["output_fps"] = (shown - mark[1]) / (now - mark[0])
            snap["input_fps"] = max(0, interp.source_frames - mark[2]) / (now - mark[0])
        snap["interpolated_pct"] = PERCENT * presenter.stats.kinds[FrameKind.INTERP] / shown if shown else None
        snap["misses"] = self.produced(pipe)[FrameKind.MISS]
        snap["dropped"], snap["late"] = presenter.stats.dropped, presenter.stats.late
        pacing = pipe.interp.pacing
        snap["scale"] = pacing.stats.scale
        snap["stride"] = str(pacing.stats.share)
        snap["scale_mode"] = f"auto, max {pacing.max_scale:g}" if pacing.adaptive_on else "fixed"
        snap["scale_changes"] = len(pacing.stats.changes)
        snap["ring_a"], snap["ring_b"] = pipe.fills()
        snap["network_ms"] = pacing.stats.last_pass_ms
        made = interp.kinds[FrameKind.INTERP]
        snap["synth_ms"] = MS_PER_S * interp.synthesize_s / made if made else None
        snap["present_ms"] = MS_PER_S * presenter.stats.present_s / shown if shown else None
        if s.master is not None and not s.transport.holding:
            snap["drift_ms"] = MS_PER_S * s.avsync.mean_drift_s
        if s.video is not None:
            snap["color"] = color_line(s.video.color, s.config.video.tone_mapping, s.config.player.vo == "gpu")
        return snap

    def as_dict(self, s: LiveSession, running: Pipeline | None) -> dict[str, object]:
        """Everything counted so far, for ``--stats-json`` and the benchmarks. Rates count from
        the first frame on screen (the start-up is not playback)."""
        runs = self.runs(running)
        produced = self.produced(running)
        present = s.presenter.stats if s.presenter is not None else None
        shown = present.shown if present is not None else 0
        first = s.presenter.first_show_wall if s.presenter is not None else None
        elapsed = time.perf_counter() - first if first is not None else 0.0
        needed = produced[FrameKind.INTERP] + produced[FrameKind.MISS]
        return {
            "input": s.target, "rate": str(s.rate), "elapsed_s": round(elapsed, 3),
            "output_fps": shown / elapsed if elapsed else None,
            **(s.engine.describe() if s.engine is not None else {}),
            "audio": s.audio.backend if s.audio is not None else None,
            "audio_underruns": s.audio.underruns if s.audio is not None else None,
            "present": {**(present.as_dict() if present is not None else {}), **s.avsync.stats.as_dict()},
            "produced_kinds": {str(k): v for k, v in produced.items()},
            "interpolated_share_shown": present.kinds[FrameKind.INTERP] / shown if present and shown else None,
            "misses": produced[FrameKind.MISS],
            "miss_share": produced[FrameKind.MISS] / needed if needed else None,
            "scale_changes": [c for run in runs for c in run["interpolate"]["scale_changes"]],  # type: ignore[union-attr]
            "interpolate": [run["interpolate"] for run in runs], "decode": [run["decode"] for run in runs],
            "unjoined_threads": list(s.unjoined),
        }
