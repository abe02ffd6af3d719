"""The live session: ``rife-play INPUT`` in a window, interpolated live (DESIGN.md §6).

``LiveSession`` owns everything of one playback: the pipeline (``pipeline.build``, mode ``LIVE``:
decode and interpolation threads), the audio output (miniaudio's thread), the clocks, the video
output and the presenter, which runs on the calling (main) thread because GLFW must. ``step()``
is one round of the play loop, a flat list of steps as mpv's ``run_playloop``; ``run()`` loops it.
``close()`` stops and joins every thread and releases the window and the audio device; it runs on
quit, at the end, on an error and on a stop signal (Ctrl+C, SIGTERM, SIGHUP).

Its parts, each with its own state: ``transport`` (play, pause, step, seek and hold as one state
machine), ``presenter`` (due frames to the screen), ``avsync`` (drift readings), ``osd`` (messages
and the stats overlay), ``settings`` (what the user set: volume, scale ...), and the command table
(``player.commands``).

Time. The master clock is the audio output's played position when the input has audio (else the
video clock itself). The presenter and the interpolation thread read the video clock
(``MonotonicClock``, smooth between audio callbacks) slaved to the master (``player.avsync``).

Transitions (start, seek, ``--loop``): the transport holds the clocks until the first frame of the
new epoch is in ring B; then the video clock jumps to its pts and both clocks run again. A seek asks
the pipeline (``Pipeline.seek``) and flushes the audio to the same epoch; the interpolation thread
drops the pairs of the old epoch. ``--loop``, and a seek after the input ended, build a fresh
pipeline at the next epoch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from rife_live.audio.output import AudioOutput
from rife_live.clock import AudioClock, MonotonicClock
from rife_live.config import AUTO, DISPLAY_RATE, Config, VideoOptions
from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.frames import FrameMeta, VideoInfo
from rife_live.input.bindings import BindingTable, load_bindings
from rife_live.pipeline.build import Mode, Pipeline, build_pipeline, check_range, decode_where_the_network_runs, \
    display_name, resolve_rate, resolve_scale, startup_line
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.ring import RingClosed
from rife_live.pipeline.source import Source
from rife_live.player import commands
from rife_live.player.avsync import AvSync
from rife_live.player.osd import Osd
from rife_live.player.presenter import PresentStats, Presenter
from rife_live.player.report import Report
from rife_live.player.transport import Transport
from rife_live.present import VideoOutput, WindowConfig, open_video_output
from rife_live.stats import write_stats_json
from rife_live.timing import rate_for_multi

if TYPE_CHECKING:  # torch loads only once the input and the window are known good
    from rife_live.models.engine import Interpolator

Log = Callable[[str], None]

DEMO_RESOURCE = ("data", "demo", "bigbuckbunny.mp4")  # package data: what ``rife-play`` alone plays
MAX_WAIT_S = 0.05  # the presenter's longest wait: keys and stop signals stay responsive
JOIN_TIMEOUT_S = 1.0  # shutdown: all threads joined within this (a pass in flight is waited for)
DISPLAY_FALLBACK_MULTI = 2  # --target-fps display with no refresh rate: 2x the source
MAX_WINDOW = (1280, 720)  # the window opens at the video size, scaled down to fit this
DEFAULT_EXIT = 0


def demo_clip() -> Path:
    """The built-in demo clip (package data)."""
    path = Path(str(resources.files("rife_live").joinpath(*DEMO_RESOURCE)))
    if not path.is_file():
        raise InputError(f"the demo clip is missing from the package ({path}); name an input")
    return path


def window_size(width: int, height: int, limit: tuple[int, int] = MAX_WINDOW) -> tuple[int, int]:
    """The video size scaled down (aspect kept) to fit ``limit``; never scaled up."""
    factor = min(1.0, limit[0] / width, limit[1] / height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def output_rate(video: VideoOptions, source_fps: Fraction | None, refresh: float | None, log: Log) -> Fraction:
    """The output rate; ``--target-fps display``: the monitor's refresh rate (2x the source when the
    display does not say)."""
    if video.target_fps != DISPLAY_RATE:
        return resolve_rate(video, source_fps)
    if refresh:
        return Fraction(round(refresh))
    if source_fps is None:
        raise ConfigError("--target-fps display: the display reports no refresh rate and the input no frame "
                          "rate; give --target-fps N")
    rate = rate_for_multi(source_fps, DISPLAY_FALLBACK_MULTI)
    log(f"the display reports no refresh rate; playing at {float(rate):g} fps (2x the source)")
    return rate


@dataclass
class Settings:
    """What the user set (options, then keys): the values the command table reads and sets."""

    fullscreen: bool
    volume: float
    muted: bool
    interpolate: bool
    scale_auto: bool  # the adaptive scale moves under scale_cap; else the scale is fixed at it
    scale_cap: float = 1.0


@dataclass(frozen=True)
class LiveResult:
    stats: dict[str, object]
    interrupted: KeyboardInterrupt | None  # the stop signal (Ctrl+C, SIGTERM, SIGHUP) that ended it
    exit_code: int


class LiveSession:
    """A live playback of ``target`` (see the module docstring). Main thread only, except
    ``request_quit``. Use ``run()``, or ``start()``, ``step()`` until False, ``close()``."""

    def __init__(self, config: Config, target: str | None, *, log: Log, vo: VideoOutput | None = None,
                 bindings: BindingTable | None = None) -> None:
        self.config = config
        self.target = str(target) if target is not None else str(demo_clip())
        self.log = log
        self.vo = vo
        self.screenshot_dir = config.player.screenshot_dir or Path.cwd()
        self.bindings = bindings
        player = config.player
        self.settings = Settings(fullscreen=player.fullscreen, volume=player.volume, muted=player.mute,
                                 interpolate=not player.no_interp, scale_auto=config.video.scale == AUTO)
        self.transport = Transport()
        self.avsync = AvSync()
        self.osd = Osd()
        self.presenter: Presenter | None = None
        self.pipeline: Pipeline | None = None
        self.engine: Interpolator | None = None
        self.audio: AudioOutput | None = None
        self.master: AudioClock | None = None
        self.clock = MonotonicClock(paused=True)
        self.rate = Fraction(0)
        self.exit_code = DEFAULT_EXIT
        self.unjoined: list[str] = []
        self.video: VideoInfo | None = None  # the input's video stream, once opened
        self.is_live = False
        self.source_options = config.input  # how the input is opened (hardware decoding added once the engine runs)
        self.report = Report()
        self._osd_lines: tuple[str, ...] = ()
        self._pending_events: list = []
        self._quit_requested = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the input, the window (or null output), the engine and audio; start the threads."""
        player = self.config.player
        if self.bindings is None:
            self.bindings = load_bindings(player.input_conf, log=self.log)
        source = open_source(self.target, self.source_options)
        try:
            video = source.video
            check_range(self.config.video, source)
            self.video, self.is_live = video, source.is_live
            if self.vo is None:
                width, height = window_size(video.width * (2 if self.config.video.montage else 1), video.height)
                self.vo = open_video_output(player.vo, WindowConfig(
                    width=width, height=height, title=f"{display_name(self.target)} - rife-play",
                    fullscreen=player.fullscreen, tone_mapping=self.config.video.tone_mapping))
            self.rate = output_rate(self.config.video, video.fps, self.vo.refresh_rate(), self.log)
            self.presenter = Presenter(self.vo, float(1 / self.rate))
            self.settings.scale_cap = resolve_scale(AUTO if self.settings.scale_auto else self.config.video.scale,
                                                    video.width, video.height)
            from rife_live.models.engine import Interpolator

            self.engine = Interpolator.from_config(self.config.engine, self.log)
            source, self.source_options = decode_where_the_network_runs(source, self.source_options, self.engine,
                                                                        self.log)
            if source.audio is not None and not self.config.video.no_audio:
                self.audio = AudioOutput(ao=player.ao, volume=player.volume, mute=player.mute, log=self.log)
                self.audio.pause()
                self.audio.start()
                self.master = AudioClock(self.audio)
            scale_text = f"{'auto up to ' if self.settings.scale_auto else ''}{self.settings.scale_cap:g}"
            self.log(f"{startup_line(self.target, source, f'{float(self.rate):g} fps', scale_text, self.engine)}, "
                     f"audio {self.audio.backend if self.audio else 'none'}")
        except BaseException:
            source.close()
            raise
        self._launch(source, epoch=0, start=self.config.video.start)

    def _launch(self, source: Source, epoch: int, start: Fraction | None, seek_to: Fraction | None = None) -> None:
        assert self.engine is not None and self.presenter is not None
        self.pipeline = build_pipeline(
            self.config, source, Mode.LIVE, self.engine, rate=self.rate, scale=self.settings.scale_cap, epoch=epoch,
            start=start, clock=self.clock.now, pcm=self.audio.fifo if self.audio is not None else None,
            adaptive_on=self.settings.scale_auto, interpolate=self.settings.interpolate)
        if self.audio is not None:
            self.audio.flush(float(start or 0), epoch=epoch)
        self.presenter.forget()
        self.transition(self.transport.hold(epoch, seek_to))
        self.pipeline.start()

    def run(self) -> LiveResult:
        """Play until quit, the end (unless looping), or a stop signal; always closes."""
        interrupted: KeyboardInterrupt | None = None
        try:
            self.start()
            while self.step():
                pass
        except KeyboardInterrupt as exc:  # Ctrl+C, SIGTERM, SIGHUP (rife_live.signals)
            interrupted = exc
        finally:
            self.close()
        stats = self.stats_dict()
        stats["interrupted"] = interrupted is not None
        if self.config.output.stats_json is not None:
            write_stats_json(self.config.output.stats_json, stats)
        return LiveResult(stats=stats, interrupted=interrupted, exit_code=self.exit_code)

    def request_quit(self) -> None:
        """Ask the presenter to end (any thread)."""
        self._quit_requested = True
        if self.vo is not None:
            self.vo.wake()

    def close(self) -> None:
        """Stop and join every thread (within ``JOIN_TIMEOUT_S``), close audio and window."""
        if self._closed:
            return
        self._closed = True
        if self.pipeline is not None:
            self.pipeline.stop()
            self.unjoined = self.pipeline.join(time.perf_counter() + JOIN_TIMEOUT_S)
            self.report.retire(self.pipeline)
        if self.audio is not None:
            self.audio.close()
        if self.vo is not None:
            self.vo.close()
        if self.unjoined:
            self.log(f"warning: {', '.join(self.unjoined)} thread(s) still running at exit")

    # -- the play loop -----------------------------------------------------------------------------
    def step(self, max_wait_s: float = MAX_WAIT_S) -> bool:
        """One round of the play loop: events, audio, the frame due, the OSD, A/V sync, then a wait
        (at most ``max_wait_s``) for the next due frame or an event. False once the session is over."""
        if self.transport.done:
            return False
        assert self.vo is not None and self.pipeline is not None
        events, self._pending_events = self._pending_events + self.vo.poll_events(), []
        for event in events:
            commands.handle_event(self, event)
        if self._quit_requested:
            self.transition(self.transport.quit())
            return False
        if self.audio is not None:
            self.audio.check()
        shown = self._present()
        if self.transport.done:
            return False
        self.refresh_osd()
        if shown and self.master is not None and self.transport.clock_runs:
            self._sync_clock()
        assert self.pipeline is not None and self.presenter is not None
        self._pending_events = self.presenter.wait(self.pipeline.ring_b, self.transport, self.clock.now(), max_wait_s)
        return not self.transport.done

    def _present(self) -> bool:
        """Show what is due; True when a new frame went on screen."""
        pipe, presenter = self.pipeline, self.presenter
        assert pipe is not None and presenter is not None
        ring = pipe.ring_b
        try:
            front = presenter.front(ring)  # discards stale frames; raises the pipeline's error
        except RingClosed:
            presenter.on_screen = None
            return self._on_pipeline_end()
        if front is None:
            return False
        waiting = presenter.waiting(ring)
        if (self.is_live and not self.transport.holding and waiting and presenter.last_shown is not None
                and waiting[0].epoch > presenter.last_shown.epoch):
            # A live reconnect (or pts jump) began an epoch whose timeline continues one frame after
            # the last frame while the clock ran on through the outage: each outage added to the
            # picture's lag (found by bench/soak.py, rtsp). Hold, and restart the clocks a live
            # latency behind its first frame, as at the start.
            self.transition(self.transport.hold(waiting[0].epoch))
        if self.transport.holding:
            return self._end_hold(waiting)
        if not waiting:
            if ring.closed and presenter.shown_long_enough(self.clock.now()):
                presenter.release_screen(ring)
                return self._on_pipeline_end()
            return False
        if presenter.show_due(ring, waiting, self.clock.now()) is None:
            return False
        self.transition(self.transport.shown())
        return True

    def _end_hold(self, waiting: list[FrameMeta]) -> bool:
        """The first frames of the awaited epoch: start the clocks at the first one and show it."""
        pipe, presenter = self.pipeline, self.presenter
        assert pipe is not None and presenter is not None
        epoch = self.transport.epoch
        index = presenter.epoch_start(pipe.ring_b, waiting, epoch, pipe.preroll)
        if index is None:
            seek_to = self.transport.seek_to
            if seek_to is not None and not pipe.decoding and pipe.decode.epoch < epoch:
                self._restart(seek_to)  # the decode thread ended before it saw the seek
            return False
        first = waiting[index]
        self.clock.seek(float(first.pts))
        self.avsync.restart()
        presenter.show(pipe.ring_b, index, float(first.pts), dropped=index)
        self.transition(self.transport.ready().shown())
        return True

    def _on_pipeline_end(self) -> bool:
        """Ring B is closed and drained: the input ended, or the pipeline stopped."""
        seek_to = self.transport.seek_to
        if seek_to is not None:  # the input ended before the decode thread saw the seek
            self._restart(seek_to)
        elif self.config.player.loop and not self.is_live and not self._quit_requested:
            assert self.presenter is not None
            self.presenter.stats.loops += 1
            self._restart(self.config.video.start)
        else:
            self.transition(self.transport.end())
        return False

    def _restart(self, start: Fraction | None) -> None:
        """A fresh pipeline at ``start`` (loop, or a seek after the decode thread ended)."""
        old = self.pipeline
        assert old is not None
        old.stop()
        left = old.join(time.perf_counter() + JOIN_TIMEOUT_S)
        if left:
            raise OutputError(f"the {', '.join(left)} thread did not stop for a restart")
        self.report.retire(old)
        seek_to = self.transport.seek_to
        self._launch(open_source(self.target, self.source_options), old.epoch + 1, start, seek_to)

    def _sync_clock(self) -> None:
        """One drift reading (video clock - audio clock) and the correction it calls for."""
        assert self.master is not None and self.presenter is not None
        correction = self.avsync.reading(self.clock.now(), self.master.now())
        if correction is not None:
            self.clock.seek(self.clock.now() + correction.seconds)
            if correction.jump:
                self.presenter.clock_jumped()

    def transition(self, state: Transport) -> None:
        """Move the transport; start or stop the clocks when that changes whether they run."""
        before, self.transport = self.transport, state
        if before.clock_runs == state.clock_runs:
            return
        assert self.presenter is not None
        if state.clock_runs:
            self.clock.resume()
            if self.audio is not None:
                self.audio.resume()
            self.avsync.restart()
        else:
            self.clock.pause()
            if self.audio is not None:
                self.audio.pause()
        self.presenter.clock_jumped()

    # -- what callers read ---------------------------------------------------------------------------
    @property
    def shown_meta(self) -> FrameMeta | None:
        """The latest frame shown."""
        return self.presenter.last_shown if self.presenter is not None else None

    @property
    def stats(self) -> PresentStats:
        assert self.presenter is not None
        return self.presenter.stats

    @property
    def holding(self) -> bool:
        """True while the clocks wait for the first frame of a new epoch (start, seek, loop)."""
        return self.transport.holding

    @property
    def paused(self) -> bool:
        return self.transport.paused

    @property
    def interpolating(self) -> bool:
        return self.settings.interpolate

    @property
    def osd_lines(self) -> tuple[str, ...]:
        """The OSD text now on screen (messages, then the stats overlay)."""
        return self._osd_lines

    # -- for the commands (player.commands) --------------------------------------------------------
    def message(self, text: str) -> None:
        """Show ``text`` on the OSD for a moment."""
        self.osd.message(text, time.perf_counter())
        self.refresh_osd()

    def command(self, name: str, args: Sequence[object] = ()) -> None:
        """Run one command of the binding table (``input/bindings.COMMANDS``) with typed arguments."""
        commands.run_command(self, name, tuple(args))

    # -- the picture on screen ------------------------------------------------------------------------
    def current_frame(self) -> np.ndarray | None:
        """The picture on screen (ring B's first slot), None before the first one."""
        if self.pipeline is None or self.presenter is None:
            return None
        return self.presenter.current_frame(self.pipeline.ring_b)

    def refresh_osd(self) -> None:
        """Send the OSD's lines to the video output when they changed (redraw while still)."""
        lines = self.osd.lines(time.perf_counter(), lambda: self.report.snapshot(self))
        if lines != self._osd_lines:
            self._osd_lines = lines
            assert self.vo is not None and self.presenter is not None
            self.vo.set_osd(lines)
            if not self.transport.clock_runs:
                self.presenter.redraw()

    def stats_dict(self) -> dict[str, object]:
        """Everything counted so far, for ``--stats-json`` and the benchmarks."""
        return self.report.as_dict(self, self.pipeline if not self._closed else None)
