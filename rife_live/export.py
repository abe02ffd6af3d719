"""Export: ``rife-play INPUT -o OUT`` (or ``--png DIR``): every output frame, in order, into a sink.

The pipeline (``pipeline.build``, mode ``EXPORT``) runs its decode and interpolation threads; the
calling thread drains ring B into the sink (``sinks``) and draws a progress line on a terminal.
The output is kept after a normal end or a stop signal (finalized, playable; ``signals``); a run
that fails keeps no new output (``Sink.abort``: an old file at the target stays as it was). The
caller has checked every output path before (``outputs.check_play_outputs``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Callable

from rife_live.config import Config
from rife_live.errors import InputError
from rife_live.pipeline.build import (Mode, Pipeline, build_pipeline, check_range, decode_where_the_network_runs,
                                      resolve_rate, resolve_scale, startup_line)
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.source import Source
from rife_live.sinks import Sink, SinkSpec, open_sink
from rife_live.stats import progress_line, write_stats_json
from rife_live.timing import expected_output_count

if TYPE_CHECKING:
    from rife_live.models.engine import Interpolator

POLL_S = 0.1
JOIN_TIMEOUT_S = 5.0
PASS_JOIN_TIMEOUT_S = 120.0  # the interpolation thread ends after its pass: minutes at most (4K on a CPU)
PROGRESS_INTERVAL_S = 0.25

Log = Callable[[str], None]


@dataclass(frozen=True)
class ExportResult:
    frames: int
    rate: Fraction
    interrupted: KeyboardInterrupt | None  # the stop signal that ended the run early, if one did
    stats: dict[str, object]


def rate_line(rate: Fraction, written_at: Fraction | None) -> str:
    """The output rate as the start-up and closing lines say it: ``60 fps``; for slow motion
    (``--fps``) the rate the frames are written at, then the rate they were made at."""
    if written_at is None or written_at == rate:
        return f"{float(rate):g} fps"
    return f"{float(written_at):g} fps (made at {float(rate):g} fps: {float(rate / written_at):g}x slow motion)"


def sink_spec(config: Config, source: Source, rate: Fraction, overwrite: bool) -> SinkSpec:
    """The sink the output options ask for; neither a file nor a folder: the null sink (a dry run)."""
    out = config.output
    if out.png_dir is None and out.path is None:
        return SinkSpec(kind="null", rate=rate)
    kind, path = ("png", out.png_dir) if out.png_dir is not None else ("encoder", out.path)
    slowmo = config.video.fps is not None
    audio = source.audio is not None and not config.video.no_audio and kind == "encoder"
    return SinkSpec(kind=kind, path=path, rate=config.video.fps if slowmo else rate, vcodec=out.vcodec, crf=out.crf,
                    audio_from=source.target if audio else None, slowmo=slowmo, overwrite=overwrite,
                    pix_fmt=out.pix_fmt, png_bit_depth=out.bit_depth or 8, color=source.video.color,
                    tone_mapping=config.video.tone_mapping)


def expected_frames(source: Source, config: Config, rate: Fraction) -> int | None:
    """How many frames the export will write, when the input says enough to know."""
    video = source.video
    if source.is_live or video.fps is None or video.frame_count is None:
        return None
    return expected_output_count(video.frame_count, video.fps, rate, start=config.video.start, end=config.video.end)


def export(config: Config, target: str, *, log: Log, progress: bool,
           engine: Interpolator | None = None, overwrite: bool = False) -> ExportResult:
    """Interpolate ``target`` into the output ``config`` names; returns what was written.

    ``engine``: an already loaded engine to use (``config.engine`` is then ignored), e.g. to time
    the pipeline without the model load; by default one is built from ``config.engine``.
    ``overwrite`` (``-y``): a PNG folder's old frames are replaced.
    """
    started = time.perf_counter()
    source = open_source(target, config.input)
    pipe: Pipeline | None = None
    sink: Sink | None = None
    interrupted: KeyboardInterrupt | None = None
    finished = False
    try:
        check_range(config.video, source)
        rate = resolve_rate(config.video, source.video.fps)
        scale = resolve_scale(config.video.scale, source.video.width, source.video.height)
        sink = open_sink(sink_spec(config, source, rate, overwrite))
        if engine is None:
            # torch loads here, once the input and the output are known good: bad ones answer at once
            from rife_live.models.engine import Interpolator

            engine = Interpolator.from_config(config.engine, log)
        source, _ = decode_where_the_network_runs(source, config.input, engine, log)
        pipe = build_pipeline(config, source, Mode.EXPORT, engine, rate=rate, scale=scale)
        log(startup_line(target, source, rate_line(rate, config.video.fps), f"{scale:g}", engine))
        pipe.start()
        try:
            _drain(pipe.ring_b, sink, expected_frames(source, config, rate), progress, started)
        except KeyboardInterrupt as exc:
            interrupted = exc
        finished = True
    finally:
        if pipe is not None:
            pipe.stop()
            pipe.interp.join(PASS_JOIN_TIMEOUT_S)  # a network pass in flight finishes first
            pipe.decode.join(JOIN_TIMEOUT_S)
        if sink is not None and finished:
            sink.close()
        elif sink is not None:
            sink.abort()
        if pipe is not None:
            pipe.close_source()
        else:
            source.close()
    elapsed = time.perf_counter() - started
    frames = sink.frames_written
    if frames == 0 and interrupted is None:
        raise InputError("nothing was written: no video frame of the input falls in the range to export")
    stats: dict[str, object] = {
        "input": target, "output": str(config.output.png_dir or config.output.path or "null"), "frames": frames,
        "rate": str(rate), "written_at": str(config.video.fps or rate), "scale": scale, **engine.describe(),
        "elapsed_s": round(elapsed, 3), "fps": frames / elapsed if elapsed else None,
        "interrupted": interrupted is not None, **pipe.stats(),
    }
    if config.output.stats_json is not None:
        write_stats_json(config.output.stats_json, stats)
    return ExportResult(frames=frames, rate=rate, interrupted=interrupted, stats=stats)


def _drain(ring_b: Ring, sink: Sink, total: int | None, progress: bool, started: float) -> None:
    """Write every output frame to the sink until the interpolation thread ends ring B."""
    last_shown = 0.0
    while True:
        try:
            got = ring_b.peek(timeout=POLL_S)
        except RingClosed:
            break
        if got is not None:
            meta, image = got
            sink.write(image, meta)
            ring_b.release()
        now = time.perf_counter()
        if progress and now - last_shown >= PROGRESS_INTERVAL_S:
            last_shown = now
            print("\r" + progress_line(sink.frames_written, total, now - started), end="", file=sys.stderr, flush=True)
    if progress:
        print("\r" + progress_line(sink.frames_written, total, time.perf_counter() - started), file=sys.stderr,
              flush=True)
