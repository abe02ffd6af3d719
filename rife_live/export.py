"""A session: builds the stages, owns their threads, drains and shuts them down.

Export mode (``rife-play INPUT -o OUT``): decode thread -> ring A -> interpolation thread ->
ring B -> the sink on the calling thread. Every output frame is written, in order; the output is
finalized on normal end, on error and on Ctrl+C.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rife_live.config import AUTO, Config
from rife_live.errors import ConfigError, InputError
from rife_live.outputs import (check_new_file, check_png_folder, check_writable_folder, refuse_folder_over_input,
                               refuse_input, same_file)
from rife_live.pipeline.decode import DecodeOptions, DecodeThread, make_frame_ring
from rife_live.pipeline.interpolate import InterpolateOptions, InterpolateThread, make_output_ring
from rife_live.pipeline.ring import RingClosed
from rife_live.pipeline.scenes import SceneConfig
from rife_live.pipeline.source import Source, SourceOptions, open_source
from rife_live.sinks import SinkSpec, check_video_name, open_sink
from rife_live.stats import progress_line, write_stats_json
from rife_live.timing import expected_output_count, rate_for_exp, rate_for_multi

if TYPE_CHECKING:
    from rife_live.models.engine import Interpolator

RING_A_SLOTS = 6  # source frames: the pair being interpolated plus decode-ahead
RING_B_SLOTS = 8  # output frames waiting for the sink
POLL_S = 0.1
JOIN_TIMEOUT_S = 5.0
PASS_JOIN_TIMEOUT_S = 120.0  # the interpolation thread ends after its pass: minutes at most (4K on a CPU)
PROGRESS_INTERVAL_S = 0.25
AUTO_SCALE_MAX_PIXELS = 1920 * 1088  # auto flow scale: 1.0 up to 1080p, 0.5 above (the original's --UHD)
AUTO_SCALE_LARGE = 0.5
DEFAULT_MULTI = 2  # without a rate option the output rate is twice the source rate

Log = Callable[[str], None]


@dataclass(frozen=True)
class ExportResult:
    frames: int
    rate: Fraction
    interrupted: KeyboardInterrupt | None  # the stop signal that ended the run early, if one did
    stats: dict[str, object]


def resolve_rate(config: Config, source_fps: Fraction | None) -> Fraction:
    """The output frame rate from --target-fps / --multi / --exp (default: twice the source)."""
    video = config.video
    if isinstance(video.target_fps, Fraction):
        return video.target_fps
    if video.target_fps == "display":
        raise ConfigError("--target-fps display needs the live player; give a number for an export")
    if source_fps is None:
        raise ConfigError("the input does not state its frame rate: give --target-fps")
    if video.exp is not None:
        return rate_for_exp(source_fps, video.exp)
    return rate_for_multi(source_fps, video.multi if video.multi is not None else DEFAULT_MULTI)


def resolve_scale(scale: float | str, width: int, height: int) -> float:
    """The flow scale; ``auto``: 1.0 up to 1080p, 0.5 above."""
    if scale == AUTO:
        return 1.0 if width * height <= AUTO_SCALE_MAX_PIXELS else AUTO_SCALE_LARGE
    return float(scale)


def check_range(config: Config, source: Source) -> None:
    """A ``--start`` at or past the end of a file is a one-line error before anything is opened."""
    start, duration = config.video.start, source.video.duration
    if start is not None and duration is not None and not source.is_live and start >= duration:
        raise ConfigError(f"--start {float(start):g} s is at or past the end of the input ({float(duration):g} s)")


def check_outputs(config: Config, target: str | None, overwrite: bool, screenshot_dir: Path | None = None) -> None:
    """Every output of a ``rife-play`` run, checked before anything is opened (``outputs``): none
    names the input, none names another, files are new unless ``overwrite``, folders writable."""
    out = config.output
    files = [(flag, path) for flag, path in (("-o", out.path), ("--stats-json", out.stats_json)) if path is not None]
    inputs = [Path(target)] if target is not None and "://" not in target else []
    for flag, path in files:
        refuse_input(path, inputs, flag)
    if out.png_dir is not None:
        for source in inputs:
            refuse_folder_over_input(out.png_dir, source, "--png")
        refuse_input(out.png_dir, inputs, "--png")
    named = [path for _, path in files] + ([out.png_dir] if out.png_dir is not None else [])
    for i, path in enumerate(named):
        if any(same_file(path, other) for other in named[:i]):
            raise ConfigError(f"{path} is named as two outputs: give each output its own name")
    if out.path is not None:
        check_video_name(out.path)
    for flag, path in files:
        check_new_file(path, overwrite, flag)
    if out.png_dir is not None:
        check_png_folder(out.png_dir, overwrite)
    if screenshot_dir is not None:
        check_writable_folder(screenshot_dir, f"screenshots into {screenshot_dir}")


def source_options(config: Config) -> SourceOptions:
    """How to open the input, from the config (RTSP transport, network timeout, image-folder rate)."""
    return SourceOptions(rtsp_transport=config.player.rtsp_transport, timeout_s=config.player.network_timeout,
                         image_fps=config.video.mf_fps)


def _sink_spec(config: Config, source: Source, rate: Fraction, overwrite: bool) -> SinkSpec:
    """The sink the output options ask for; neither a file nor a folder: the null sink (a dry run)."""
    out = config.output
    if out.png_dir is None and out.path is None:
        return SinkSpec(kind="null", rate=rate)
    if out.png_dir is not None:
        kind, path = "png", out.png_dir
    else:
        kind, path = "encoder", out.path
    slowmo = config.video.fps is not None
    audio = (source.audio is not None and not config.video.no_audio and kind == "encoder")
    return SinkSpec(kind=kind, path=path, rate=config.video.fps if slowmo else rate, vcodec=out.vcodec, crf=out.crf,
                    audio_from=source.target if audio else None, slowmo=slowmo, overwrite=overwrite)


def rate_line(rate: Fraction, written_at: Fraction | None) -> str:
    """The output rate as the start-up and closing lines say it: ``60 fps``; for slow motion
    (``--fps``) the rate the frames are written at, then the rate they were made at."""
    if written_at is None or written_at == rate:
        return f"{float(rate):g} fps"
    return f"{float(written_at):g} fps (made at {float(rate):g} fps: {float(rate / written_at):g}x slow motion)"


def _expected_frames(source: Source, config: Config, rate: Fraction) -> int | None:
    video = source.video
    if source.is_live or video.fps is None or video.frame_count is None:
        return None
    return expected_output_count(video.frame_count, video.fps, rate, start=config.video.start, end=config.video.end)


def export(config: Config, target: str, *, log: Log, progress: bool,
           engine: Interpolator | None = None, overwrite: bool = False) -> ExportResult:
    """Interpolate ``target`` into the output ``config`` names; returns what was written.

    ``engine``: an already loaded engine to use (``config.engine`` is then ignored), e.g. to time
    the pipeline without the model load; by default one is built from ``config.engine``.
    ``overwrite`` (``-y``): a PNG folder's old frames are replaced (the caller has checked the
    outputs, ``outputs.check_play_outputs``). The output is kept after a normal end or a stop
    signal (finalized, playable); a run that fails keeps no new output.
    """
    started = time.perf_counter()
    source = open_source(target, source_options(config))
    decode: DecodeThread | None = None
    interp: InterpolateThread | None = None
    sink = None
    interrupted: KeyboardInterrupt | None = None
    finished = False
    try:
        video = source.video
        check_range(config, source)
        rate = resolve_rate(config, video.fps)
        scale = resolve_scale(config.video.scale, video.width, video.height)
        sink = open_sink(_sink_spec(config, source, rate, overwrite))
        if engine is None:
            # torch loads here, once the input and the output are known good: bad ones answer at once
            from rife_live.models.engine import Interpolator

            engine = Interpolator(device=config.engine.device, dtype=config.engine.dtype,
                                  model=config.engine.model, model_dir=config.engine.model_dir, log=log)
        ring_a = make_frame_ring(video, RING_A_SLOTS)
        ring_b = make_output_ring(video.height, video.width, config.video.montage, RING_B_SLOTS)
        decode = DecodeThread(source, ring_a, DecodeOptions(start=config.video.start, end=config.video.end))
        interp = InterpolateThread(engine, ring_a, ring_b, InterpolateOptions(
            target_fps=rate, scale=scale, start=config.video.start, end=config.video.end,
            frame_duration=1 / video.fps if video.fps else None, montage=config.video.montage,
            scenes=SceneConfig(**config.scenes.given())))
        total = _expected_frames(source, config, rate)
        described = engine.describe()
        log(f"{Path(target).name if '://' not in target else target}: {video.width}x{video.height} "
            f"{float(video.fps or 0):g} fps -> {rate_line(rate, config.video.fps)}, scale {scale:g}, "
            f"{described['device']} {described['dtype']}")
        decode.start()
        interp.start()
        try:
            _drain(ring_b, sink, total, progress, started)
        except KeyboardInterrupt as exc:
            interrupted = exc
        finished = True
    finally:
        for stage in (interp, decode):
            if stage is not None:
                stage.stop()
        if interp is not None:
            interp.join(PASS_JOIN_TIMEOUT_S)  # a network pass in flight finishes first
        if decode is not None:
            decode.join(JOIN_TIMEOUT_S)
        if sink is not None:
            if finished:
                sink.close()
            else:
                sink.abort()
        if decode is None or not decode.is_alive():  # a running decode thread still owns the source
            source.close()
    elapsed = time.perf_counter() - started
    frames = sink.frames_written
    if frames == 0 and interrupted is None:
        raise InputError("nothing was written: no video frame of the input falls in the range to export")
    stats: dict[str, object] = {
        "input": target, "output": str(config.output.png_dir or config.output.path or "null"), "frames": frames,
        "rate": str(rate), "written_at": str(config.video.fps or rate), "scale": scale, **engine.describe(),
        "elapsed_s": round(elapsed, 3), "fps": frames / elapsed if elapsed else None,
        "interrupted": interrupted is not None, "decode": vars(decode.stats) if decode else None,
        "interpolate": interp.stats.as_dict() if interp else None,
    }
    if config.output.stats_json is not None:
        write_stats_json(config.output.stats_json, stats)
    return ExportResult(frames=frames, rate=rate, interrupted=interrupted, stats=stats)


def _drain(ring_b, sink, total: int | None, progress: bool, started: float) -> None:
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
