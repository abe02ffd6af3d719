"""The live session: ``rife-play INPUT`` plays in a window, interpolated live (DESIGN.md §1, §4).

Stages and owners. ``LiveSession`` owns everything: the decode thread (source -> ring A, audio
into the audio output's FIFO), the interpolation thread in live mode (ring A -> ring B), the audio
output (miniaudio's thread), the clocks, and the presenter, which runs on the calling (main)
thread because GLFW must: ``step()`` is one round of it, ``run()`` loops it. ``close()`` stops
and joins every thread and releases the window and the audio device; it runs on quit, at the end,
on an error and on Ctrl+C.

Time. The master clock is the audio output's played position when the input has audio (else a
monotonic clock). The presenter and the interpolation thread read a *video clock*
(``MonotonicClock``, smooth between audio callbacks) slaved to the master: each presented frame
takes a drift reading (video minus audio), and ``timing.drift_action`` decides, with the
thresholds named in ``timing.py``, to hold, nudge or resync the video clock.

Presenting. Ring B holds output frames in pts order. Each round the presenter shows the newest
frame that is due on the video clock (``timing.choose_frame``) and releases the older ones unshown
(counted as dropped); the frame on screen stays in ring B's first slot until the next one is shown
(the screenshot of ``--vo null`` reads it there). It never waits on the network: the interpolation
thread (live mode) gives up outputs whose deadline its pass cannot make and publishes the source
frame instead (kind ``miss``), and the adaptive scale controller (``models.adaptive``) lowers the
flow scale when the work per pair does not fit the source frame interval.

Transitions (start, seek, ``--loop``): the clocks are held (paused) until the first frame of the
new epoch is in ring B; then the video clock jumps to its pts and both clocks run again. A seek asks
the decode thread (``request_seek``), flushes the audio to the same epoch and resets ring B; the
interpolation thread drops the pairs of the old epoch. ``--loop`` builds a fresh pipeline (the
decode thread ends with the file) at the next epoch.

Commands come from key bindings (``input/bindings.py``, mpv's input.conf syntax) or ``command()``.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from rife_live.audio.output import AudioOutput
from rife_live.clock import AudioClock, MonotonicClock
from rife_live.config import AUTO, DISPLAY_RATE, Config
from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.frames import FrameMeta
from rife_live.input.bindings import BindingTable, load_bindings, parse_key
from rife_live.models import adaptive
from rife_live.pipeline.decode import DecodeOptions, DecodeThread, make_frame_ring
from rife_live.pipeline.interpolate import KIND_MISS, InterpolateOptions, InterpolateThread, make_output_ring
from rife_live.pipeline.ring import Ring, RingClosed
from rife_live.pipeline.scenes import SceneConfig
from rife_live.pipeline.source import Source, open_source
from rife_live.player import resolve_rate, resolve_scale, source_options
from rife_live.present import CloseEvent, KeyEvent, VideoOutput, WindowConfig, open_video_output
from rife_live.sinks.stills import write_png
from rife_live.stats import write_stats_json
from rife_live.timing import DriftAverage, choose_frame, drift_action, rate_for_multi

if TYPE_CHECKING:  # torch loads only once the input and the window are known good
    from rife_live.models.engine import Interpolator

Log = Callable[[str], None]

DEMO_RESOURCE = ("data", "demo", "bigbuckbunny.mp4")  # package data: what ``rife-play`` alone plays
RING_A_SLOTS = 6  # source frames: the pair being interpolated plus decode-ahead
RING_B_SECONDS = 0.4  # output frames made ahead of the clock: slack for slow passes
MIN_RING_B_SLOTS = 4
MAX_RING_B_BYTES = 256 * 1024 * 1024  # ... but not more memory than this (4K frames are 25 MB)
PREROLL_SLOTS = 2  # frames in ring B before the clock starts (or the stream ended first)
MAX_WAIT_S = 0.05  # the presenter's longest wait: keys and Ctrl+C stay responsive
JOIN_TIMEOUT_S = 1.0  # shutdown: all threads joined within this (a pass in flight is waited for)
DISPLAY_FALLBACK_MULTI = 2  # --target-fps display with no refresh rate: 2x the source
MAX_WINDOW = (1280, 720)  # the window opens at the video size, scaled down to fit this
OSD_MESSAGE_S = 2.0  # how long a command's OSD message stays
STATS_REFRESH_S = 0.5  # the stats overlay's update period (and its rate window)
MS_PER_S = 1000.0
PERCENT = 100.0
SCREENSHOT_PATTERN = "rife-shot-{:04d}.png"
DEFAULT_EXIT = 0


# -- pure helpers ------------------------------------------------------------------------------

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


def ring_b_slots(rate: Fraction, width: int, height: int) -> int:
    """Ring B capacity for live playback at ``rate`` output frames per second."""
    wanted = int(-(-RING_B_SECONDS * rate // 1))
    affordable = MAX_RING_B_BYTES // (3 * width * height)
    return max(MIN_RING_B_SLOTS, min(wanted, affordable))


def step_scale(scale: float, factor: float) -> float:
    """``multiply scale F``: the ladder value nearest to ``scale * F`` (0.25 ... 4)."""
    wanted = scale * factor
    return min(adaptive.LADDER, key=lambda s: (abs(s - wanted), s))


def seek_target(position: Fraction, delta: float, duration: Fraction | None, mode: str = "relative") -> Fraction:
    """Where a seek lands: ``position + delta`` (or ``delta`` for absolute), within the input."""
    target = Fraction(delta).limit_denominator(1000) + (position if mode == "relative" else 0)
    if duration is not None:
        target = min(target, max(Fraction(0), duration - Fraction(1, 10)))
    return max(Fraction(0), target)


def next_screenshot(folder: Path) -> Path:
    """The first free ``rife-shot-NNNN.png`` in ``folder``."""
    index = 1
    while (folder / SCREENSHOT_PATTERN.format(index)).exists():
        index += 1
    return folder / SCREENSHOT_PATTERN.format(index)


def stats_lines(snap: dict[str, object]) -> list[str]:
    """The stats overlay: rates, interpolated share, misses, scale, ring fill, ms per stage."""
    def num(key: str, fmt: str = "{:.1f}") -> str:
        value = snap.get(key)
        return "-" if value is None else fmt.format(value)

    return [
        f"Input {num('input_fps')} fps  Output {num('output_fps')} fps (target {num('target_fps', '{:g}')})",
        f"Interpolated {num('interpolated_pct', '{:.0f}')}% of shown  misses {snap.get('misses', 0)}"
        f"  dropped {snap.get('dropped', 0)}  late {snap.get('late', 0)}",
        f"Scale {num('scale', '{:g}')} ({snap.get('scale_mode', '')})  changes {snap.get('scale_changes', 0)}",
        f"Ring A {snap.get('ring_a', '-')}  Ring B {snap.get('ring_b', '-')}",
        f"Network {num('network_ms')} ms/pass  Synth {num('synth_ms')} ms/frame  Present {num('present_ms')} ms",
        f"A/V drift {num('drift_ms', '{:+.0f}')} ms" if snap.get("audio") else "A/V: no audio",
    ]


# -- records -----------------------------------------------------------------------------------

@dataclass
class PresentStats:
    """Counters of the presenter (main thread only)."""

    shown: int = 0
    kinds: Counter = field(default_factory=Counter)  # FrameMeta.kind of shown frames
    dropped: int = 0  # released unshown: a newer frame was due
    late: int = 0  # shown more than one output interval after its pts
    max_lateness_s: float = 0.0
    max_gap_s: float = 0.0  # longest wall time between two shows while playing
    present_s: float = 0.0  # time inside VideoOutput.show
    drift_readings: int = 0
    max_drift_s: float = 0.0  # largest |video clock - audio clock| read
    drift_locks: int = 0  # first correction after a start/seek: the whole offset (output latency)
    drift_nudges: int = 0
    drift_resyncs: int = 0
    seeks: int = 0
    loops: int = 0
    screenshots: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "shown": self.shown, "kinds": dict(self.kinds), "dropped": self.dropped, "late": self.late,
            "max_lateness_ms": self.max_lateness_s * MS_PER_S, "max_gap_ms": self.max_gap_s * MS_PER_S,
            "present_ms_per_frame": self.present_s * MS_PER_S / self.shown if self.shown else None,
            "drift_readings": self.drift_readings, "max_drift_ms": self.max_drift_s * MS_PER_S,
            "drift_locks": self.drift_locks, "drift_nudges": self.drift_nudges, "drift_resyncs": self.drift_resyncs,
            "seeks": self.seeks, "loops": self.loops, "screenshots": self.screenshots,
        }


@dataclass(frozen=True)
class LiveResult:
    stats: dict[str, object]
    interrupted: KeyboardInterrupt | None  # the stop signal (Ctrl+C, SIGTERM, SIGHUP) that ended it
    exit_code: int


# -- one run of the stages ---------------------------------------------------------------------

class _Pipeline:
    """Source, rings, decode and interpolation threads for one pass over the input (a ``--loop``
    makes a new one). Owned by the session; ``stop``/``join`` are idempotent."""

    def __init__(self, source: Source, engine: Interpolator, config: Config, rate: Fraction, scale: float,
                 adaptive_on: bool, interpolate: bool, epoch: int, clock: Callable[[], float],
                 audio: AudioOutput | None, start: Fraction | None) -> None:
        video = source.video
        self.source = source
        self.rate = rate
        self.ring_a = make_frame_ring(video, RING_A_SLOTS)
        montage = config.video.montage
        self.ring_b: Ring[np.ndarray] = make_output_ring(video.height, video.width, montage,
                                                         ring_b_slots(rate, video.width * (2 if montage else 1),
                                                                      video.height))
        self.ring_a.reset(epoch)
        self.ring_b.reset(epoch)
        self.decode = DecodeThread(source, self.ring_a, DecodeOptions(start=start, end=config.video.end),
                                   pcm=audio.fifo if audio is not None else None)
        self.interp = InterpolateThread(engine, self.ring_a, self.ring_b, InterpolateOptions(
            target_fps=rate, scale=scale, end=config.video.end,
            frame_duration=1 / video.fps if video.fps else None, interpolate=interpolate,
            montage=config.video.montage, scenes=SceneConfig(**config.scenes.given()), clock=clock,
            adaptive=adaptive.AdaptiveConfig() if adaptive_on else None))

    def start(self) -> None:
        self.decode.start()
        self.interp.start()

    def stop(self) -> None:
        self.interp.stop()
        self.decode.stop()
        self.ring_b.close()
        self.ring_a.close()

    def join(self, deadline: float) -> list[str]:
        """Join both threads by ``deadline`` (perf_counter); names of those still running."""
        left = []
        for name, stage in (("interpolate", self.interp), ("decode", self.decode)):
            if not stage.join(max(0.0, deadline - time.perf_counter())):
                left.append(name)
        return left


# -- the session -------------------------------------------------------------------------------

class LiveSession:
    """A live playback of ``target`` (see the module docstring). Main thread only, except
    ``request_quit``. Use ``run()``, or ``start()``, ``step()`` until False, ``close()``."""

    def __init__(self, config: Config, target: str | None, *, log: Log, vo: VideoOutput | None = None,
                 screenshot_dir: Path | None = None, bindings: BindingTable | None = None) -> None:
        self.config = config
        self.target = str(target) if target is not None else str(demo_clip())
        self.log = log
        self.vo = vo
        self.screenshot_dir = screenshot_dir or Path.cwd()
        self.bindings = bindings
        self.stats = PresentStats()
        self.engine: Interpolator | None = None
        self.audio: AudioOutput | None = None
        self.master: AudioClock | None = None
        self.clock = MonotonicClock(paused=True)
        self.rate = Fraction(0)
        self.interval = 0.0
        self.exit_code = DEFAULT_EXIT
        self.shown_meta: FrameMeta | None = None
        self.unjoined: list[str] = []
        self._pipe: _Pipeline | None = None
        self._finished_interp: list[dict[str, object]] = []
        self._finished_decode: list[dict[str, object]] = []
        self._duration: Fraction | None = None
        self._is_live = False
        self._held = False  # ring B's first slot is the frame on screen
        self._awaiting: int | None = None  # epoch whose first frame restarts the clocks
        self._seek_to: Fraction | None = None  # target of the seek being awaited
        self._paused = False  # the user's pause
        self._stepping = False  # frame-step: pause again after the next frame
        self._quit = False
        self._done = False
        self._closed = False
        self._fullscreen = config.player.fullscreen
        self._volume = config.player.volume
        self._muted = config.player.mute
        self._show_stats = False
        self._scale_auto = config.video.scale == AUTO
        self._scale_value = 1.0
        self._interpolate = not config.player.no_interp
        self._drift = DriftAverage()
        self._locked = False  # the video clock has been locked to the audio since the last transition
        self._messages: deque[tuple[float, str]] = deque()
        self._osd: tuple[str, ...] = ()
        self._pending_events: list = []
        self._last_show_wall: float | None = None
        self._rate_mark: tuple[float, int, int] | None = None  # (wall, shown, source frames)
        self._snapshot: dict[str, object] = {}
        self._first_show_wall: float | None = None  # rates count from the first frame on screen

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the input, the window (or null output), the engine and audio; start the threads."""
        player = self.config.player
        if self.bindings is None:
            self.bindings = load_bindings(player.input_conf, log=self.log)
        source = open_source(self.target, source_options(self.config))
        try:
            video = source.video
            self._duration = video.duration
            self._is_live = source.is_live
            if self.vo is None:
                width, height = window_size(video.width * (2 if self.config.video.montage else 1), video.height)
                self.vo = open_video_output(player.vo, WindowConfig(
                    width=width, height=height, title=f"{_display_name(self.target)} - rife-play",
                    fullscreen=player.fullscreen))
            self.rate = self._output_rate(video.fps)
            self.interval = float(1 / self.rate)
            cap = resolve_scale(AUTO if self._scale_auto else self.config.video.scale, video.width, video.height)
            self._scale_value = cap
            from rife_live.models.engine import Interpolator

            engine_opts = self.config.engine
            self.engine = Interpolator(device=engine_opts.device, dtype=engine_opts.dtype, model=engine_opts.model,
                                       model_dir=engine_opts.model_dir, log=self.log)
            if source.audio is not None and not self.config.video.no_audio:
                self.audio = AudioOutput(ao=player.ao, volume=player.volume, mute=player.mute, log=self.log)
                self.audio.pause()
                self.audio.start()
                self.master = AudioClock(self.audio)
            described = self.engine.describe()
            self.log(f"{_display_name(self.target)}: {video.width}x{video.height} {float(video.fps or 0):g} fps -> "
                     f"{float(self.rate):g} fps, scale {'auto up to ' if self._scale_auto else ''}{cap:g}, "
                     f"{described['device']} {described['dtype']}, "
                     f"audio {self.audio.backend if self.audio else 'none'}")
        except BaseException:
            source.close()
            raise
        self._launch(source, epoch=0, start=self.config.video.start)

    def _output_rate(self, source_fps: Fraction | None) -> Fraction:
        if self.config.video.target_fps != DISPLAY_RATE:
            return resolve_rate(self.config, source_fps)
        assert self.vo is not None
        refresh = self.vo.refresh_rate()
        if refresh:
            return Fraction(round(refresh))
        if source_fps is None:
            raise ConfigError("--target-fps display: the display reports no refresh rate and the input no frame "
                              "rate; give --target-fps N")
        rate = rate_for_multi(source_fps, DISPLAY_FALLBACK_MULTI)
        self.log(f"the display reports no refresh rate; playing at {float(rate):g} fps (2x the source)")
        return rate

    def _launch(self, source: Source, epoch: int, start: Fraction | None) -> None:
        assert self.engine is not None
        scale = self._scale_value
        self._pipe = _Pipeline(source, self.engine, self.config, self.rate, scale, self._scale_auto,
                               self._interpolate, epoch, self.clock.now, self.audio, start)
        if self.audio is not None:
            self.audio.flush(float(start or 0), epoch=epoch)
        self._held = False
        self._hold(epoch)
        self._pipe.start()

    def run(self) -> LiveResult:
        """Play until quit, the end (unless looping), or Ctrl+C; always closes."""
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
        self._quit = True
        if self.vo is not None:
            self.vo.wake()

    def close(self) -> None:
        """Stop and join every thread (within ``JOIN_TIMEOUT_S``), close audio and window."""
        if self._closed:
            return
        self._closed = True
        deadline = time.perf_counter() + JOIN_TIMEOUT_S
        if self._pipe is not None:
            self._pipe.stop()
            self.unjoined = self._pipe.join(deadline)
            self._retire(self._pipe)
        if self.audio is not None:
            self.audio.close()
        if self.vo is not None:
            self.vo.close()
        if self.unjoined:
            self.log(f"warning: {', '.join(self.unjoined)} thread(s) still running at exit")

    def _retire(self, pipe: _Pipeline) -> None:
        self._finished_interp.append(pipe.interp.stats.as_dict())
        self._finished_decode.append(dict(vars(pipe.decode.stats)))

    # -- the presenter -------------------------------------------------------------------------------
    def step(self, max_wait_s: float = MAX_WAIT_S) -> bool:
        """One presenter round: events, clock sync, show what is due, then wait (at most
        ``max_wait_s``) for the next due frame or an event. False once the session is over."""
        if self._done:
            return False
        assert self.vo is not None and self._pipe is not None
        events, self._pending_events = self._pending_events + self.vo.poll_events(), []
        for event in events:
            self._on_event(event)
        if self._quit:
            self._done = True
            return False
        if self.audio is not None:
            self.audio.check()
        shown = self._present()
        if self._done:
            return False
        self._update_osd()
        if shown and self.master is not None:
            self._sync_clock()
        self._wait(max_wait_s)
        return not self._done

    def _waiting(self, ring: Ring[np.ndarray]) -> list[FrameMeta]:
        """Metadata of the frames after the one on screen, in ring order (stale ones discarded)."""
        metas = []
        for i in range(int(self._held), ring.fill):
            try:
                got = ring.peek_at(i, timeout=0)
            except RingClosed:
                break
            if got is None:
                break
            metas.append(got[0])
        return metas

    def _present(self) -> bool:
        """Show the newest due frame; True when a new frame went on screen."""
        pipe = self._pipe
        assert pipe is not None
        ring = pipe.ring_b
        try:
            front = ring.peek(timeout=0)  # discards stale frames; raises the pipeline's error
        except RingClosed:
            self._held = False
            if self._seek_to is not None:  # the input ended before the decode thread saw the seek
                self._restart(self._seek_to)
                return False
            return self._on_end()
        if front is None:
            self._held = False
            return False
        waiting = self._waiting(ring)
        if self._awaiting is not None:
            return self._end_hold(ring, waiting)
        if not waiting:
            if ring.closed and self._ended_showing():
                self._release_held(ring)
                return self._on_end()
            return False
        now = self.clock.now()
        choice = choose_frame([m.pts for m in waiting], now, self.interval)
        if choice.show is None:
            return False
        self._show(ring, waiting, choice.show, now)
        return True

    def _show(self, ring: Ring[np.ndarray], waiting: list[FrameMeta], index: int, now: float) -> None:
        if int(self._held) + index:
            ring.release(int(self._held) + index)
        self._held = True
        self.stats.dropped += index
        got = ring.peek_at(0, timeout=0)
        assert got is not None
        meta, image = got
        lateness = now - float(meta.pts)
        self.stats.max_lateness_s = max(self.stats.max_lateness_s, lateness)
        self.stats.late += lateness > self.interval
        wall = time.perf_counter()
        if self._first_show_wall is None:
            self._first_show_wall = wall
        if self._last_show_wall is not None:
            self.stats.max_gap_s = max(self.stats.max_gap_s, wall - self._last_show_wall)
        assert self.vo is not None
        self.vo.set_osd(self._osd)
        self.vo.show(image, meta)
        self._last_show_wall = time.perf_counter()
        self.stats.present_s += self._last_show_wall - wall
        self.stats.shown += 1
        self.stats.kinds[meta.kind] += 1
        self.shown_meta = meta
        if self._stepping:
            self._stepping = False
            self._set_pause(True)

    def _release_held(self, ring: Ring[np.ndarray]) -> None:
        if self._held:
            ring.release(1)
            self._held = False

    def _ended_showing(self) -> bool:
        """The last frame has had its time on screen (the clock passed its end)."""
        if self.shown_meta is None:
            return True
        return self.clock.now() >= float(self.shown_meta.pts) + self.interval

    def _on_end(self) -> bool:
        """Ring B is closed and drained: the input ended (or the pipeline stopped)."""
        pipe = self._pipe
        assert pipe is not None
        if self.config.player.loop and not self._is_live and not self._quit:
            self.stats.loops += 1
            self._restart(self.config.video.start)
            return False
        self._done = True
        return False

    def _restart(self, start: Fraction | None) -> None:
        """A fresh pipeline at ``start`` (loop, or a seek after the decode thread ended)."""
        old = self._pipe
        assert old is not None
        old.stop()
        left = old.join(time.perf_counter() + JOIN_TIMEOUT_S)
        if left:
            raise OutputError(f"the {', '.join(left)} thread did not stop for a restart")
        self._retire(old)
        epoch = max(old.decode.epoch, old.ring_b.epoch) + 1
        source = open_source(self.target, source_options(self.config))
        self._interpolate = old.interp.interpolating
        self._launch(source, epoch, start)

    # -- holding the clocks across transitions ----------------------------------------------------------
    def _hold(self, epoch: int) -> None:
        """Freeze both clocks until the first frame of ``epoch`` is ready."""
        self._awaiting = epoch
        self.clock.pause()
        if self.audio is not None:
            self.audio.pause()
        self._last_show_wall = None

    def _end_hold(self, ring: Ring[np.ndarray], waiting: list[FrameMeta]) -> bool:
        assert self._awaiting is not None and self._pipe is not None
        fresh = [i for i, m in enumerate(waiting) if m.epoch >= self._awaiting]
        enough = len(fresh) >= min(PREROLL_SLOTS, ring.capacity - 1) or (fresh and ring.closed)
        if not enough:
            decode = self._pipe.decode
            if self._seek_to is not None and not decode.is_alive() and decode.epoch < self._awaiting:
                self._restart(self._seek_to)  # the decode thread ended before it saw the seek
            return False
        first = fresh[0]
        self._awaiting = None
        self._seek_to = None
        self.clock.seek(float(waiting[first].pts))
        self._drift = DriftAverage()
        if not self._paused:
            self._run_clocks()
        self._show(ring, waiting, first, float(waiting[first].pts))
        return True

    def _run_clocks(self) -> None:
        self.clock.resume()
        if self.audio is not None:
            self.audio.resume()
        self._drift = DriftAverage()
        self._locked = False
        self._last_show_wall = None

    def _sync_clock(self) -> None:
        """One drift reading (video clock - audio clock) and the correction it calls for."""
        if self._paused or self._awaiting is not None or self.master is None:
            return
        drift = self.clock.now() - self.master.now()
        self._drift = self._drift.add(drift)
        if self._locked:  # steady state: the readings count (the first window after a start/seek locks)
            self.stats.drift_readings += 1
            self.stats.max_drift_s = max(self.stats.max_drift_s, abs(drift))
        action = drift_action(self._drift)
        if action.kind == "wait":
            return
        correction = action.correction
        if not self._locked and action.kind == "nudge":
            correction = -self._drift.mean  # the first lock takes the whole offset (output latency)
        if action.kind != "hold":
            self.clock.seek(self.clock.now() + correction)
            self._drift = DriftAverage()
            if action.kind == "resync" or not self._locked:
                self._last_show_wall = None  # the clock jumped: the next gap is not a stall
            if not self._locked:
                self.stats.drift_locks += 1
            elif action.kind == "resync":
                self.stats.drift_resyncs += 1
            else:
                self.stats.drift_nudges += 1
        self._locked = True

    def _wait(self, max_wait_s: float) -> None:
        """Sleep until the next frame is due, an event comes, or ``max_wait_s``."""
        assert self.vo is not None and self._pipe is not None
        ring = self._pipe.ring_b
        timeout = max_wait_s
        if not self._paused and self._awaiting is None:
            waiting = self._waiting(ring)
            if waiting:
                due_in = float(waiting[0].pts) - self.clock.now()
                timeout = min(max_wait_s, max(0.0, due_in))
            elif not ring.closed:
                # Nothing to show yet: wait on ring B itself (a publish wakes us), then look again.
                ring.peek_at(int(self._held), timeout=min(max_wait_s, self.interval))
                return
        elif self._awaiting is not None and not ring.closed:
            ring.peek_at(int(self._held) + len(self._waiting(ring)), timeout=max_wait_s)
            return
        if timeout > 0:
            self._pending_events = self.vo.wait_events(timeout)

    # -- events and commands ------------------------------------------------------------------------
    def _on_event(self, event: object) -> None:
        assert self.bindings is not None
        if isinstance(event, CloseEvent):
            binding = self.bindings.lookup("CLOSE_WIN")
            if binding is None:
                self.command("quit", (0,))
            else:
                self.command(binding.command, binding.args)
        elif isinstance(event, KeyEvent):
            try:
                key = parse_key(event.name)
            except ValueError:
                return
            binding = self.bindings.lookup(key)
            if binding is not None:
                self.command(binding.command, binding.args)
        elif self._paused:  # a resize while paused: redraw
            self._redraw()

    def command(self, name: str, args: Sequence[object] = ()) -> None:
        """Run one command of the binding table (``input/bindings.COMMANDS``)."""
        if name == "quit":
            self.exit_code = int(args[0]) if args else DEFAULT_EXIT  # type: ignore[call-overload]
            self.request_quit()
        elif name == "cycle":
            prop = str(args[0])
            self._set_property(prop, not self._flag(prop))
        elif name == "set":
            self._set_property(str(args[0]), args[1])
        elif name == "add":
            self._set_property(str(args[0]), self._volume + float(args[1]))  # type: ignore[arg-type]
        elif name == "multiply":
            if args[0] == "scale":
                self._set_scale(step_scale(self._scale_value, float(args[1])), self._scale_auto)  # type: ignore[arg-type]
            else:
                self._set_property(str(args[0]), self._volume * float(args[1]))  # type: ignore[arg-type]
        elif name == "seek":
            self.seek(float(args[0]), str(args[1]) if len(args) > 1 else "relative")  # type: ignore[arg-type]
        elif name == "frame-step":
            self.frame_step()
        elif name == "screenshot":
            self.screenshot()

    def _flag(self, prop: str) -> bool:
        return {"pause": self._paused, "fullscreen": self._fullscreen, "mute": self._muted,
                "stats": self._show_stats, "interpolation": self._interpolate}[prop]

    def _set_property(self, prop: str, value: object) -> None:
        if prop == "pause":
            self._set_pause(bool(value))
            self.message("Paused" if value else "Playing")
        elif prop == "fullscreen":
            if bool(value) != self._fullscreen:
                assert self.vo is not None
                self.vo.toggle_fullscreen()
                self._fullscreen = bool(value)
        elif prop == "mute":
            self._muted = bool(value)
            if self.audio is not None:
                self.audio.set_mute(self._muted)
            self.message(f"Mute: {'yes' if self._muted else 'no'}{'' if self.audio else ' (no audio)'}")
        elif prop == "stats":
            self._show_stats = bool(value)
        elif prop == "interpolation":
            self._interpolate = bool(value)
            assert self._pipe is not None
            self._pipe.interp.set_interpolation(self._interpolate)
            self.message(f"Interpolation: {'on' if self._interpolate else 'off'}")
        elif prop == "volume":
            self._volume = min(max(float(value), 0.0), PERCENT)  # type: ignore[arg-type]
            if self.audio is not None:
                self._volume = self.audio.set_volume(self._volume)
            self.message(f"Volume: {self._volume:.0f}%{'' if self.audio else ' (no audio)'}")
        elif prop == "scale":
            if value == AUTO:
                assert self._pipe is not None
                video = self._pipe.source.video
                self._set_scale(resolve_scale(AUTO, video.width, video.height), True)
            else:
                self._set_scale(float(value), False)  # type: ignore[arg-type]

    def _set_pause(self, on: bool) -> None:
        if on == self._paused:
            return
        self._paused = on
        if self._awaiting is not None:
            return  # the clocks are held; ending the hold looks at the pause
        if on:
            self.clock.pause()
            if self.audio is not None:
                self.audio.pause()
            self._last_show_wall = None
        else:
            self._run_clocks()

    def _set_scale(self, scale: float, auto: bool) -> None:
        assert self._pipe is not None
        self._scale_value, self._scale_auto = scale, auto
        self._pipe.interp.set_scale(scale, auto)
        self.message(f"Flow scale: {'up to ' if auto else ''}{scale:g}{' (auto)' if auto else ''}")

    def seek(self, delta: float, mode: str = "relative") -> None:
        """Seek by (or to) ``delta`` seconds: decode seeks, audio flushes, a new epoch begins."""
        assert self._pipe is not None
        if self._is_live:
            self.message("Cannot seek in a live stream")
            return
        pipe = self._pipe
        base = self._seek_to if self._seek_to is not None else (
            self.shown_meta.pts if self.shown_meta is not None else Fraction(0))
        target = seek_target(base, delta, self._duration, mode)
        epoch = pipe.decode.epoch + 1  # the decode thread's next epoch (merged seeks share one)
        pipe.decode.request_seek(target)
        pipe.ring_b.reset(max(epoch, pipe.ring_b.epoch))
        self._held = False
        if self.audio is not None:
            self.audio.flush(float(target), epoch=max(epoch, self.audio.fifo.epoch))
        self._seek_to = target
        self._hold(epoch)
        self.stats.seeks += 1
        self.message(f"Seek to {float(target):.1f} s")

    def frame_step(self) -> None:
        """Show the next frame, then pause (mpv's frame-step)."""
        self._stepping = True
        if self._paused:
            self._paused = False
            if self._awaiting is None:
                self._run_clocks()

    def read_back(self) -> np.ndarray | None:
        """The picture on screen as drawn (letterboxed, without the OSD): the window's pixels, or
        with ``--vo null`` the frame itself; None before the first frame."""
        assert self.vo is not None
        self.vo.set_osd(())
        image = self.vo.read_back()
        self.vo.set_osd(self._osd)
        if image is None:
            frame = self.current_frame()
            image = None if frame is None else frame.copy()
        return image

    def screenshot(self) -> Path | None:
        """Save the picture on screen (as drawn, without the OSD) as PNG; returns its path."""
        image = self.read_back()
        if image is None:
            self.message("Screenshot: nothing on screen yet")
            return None
        path = next_screenshot(self.screenshot_dir)
        try:
            write_png(path, image)
        except OutputError as exc:  # a full disk must not end the playback
            self.message(f"Screenshot failed: {exc}")
            return None
        self.stats.screenshots += 1
        self.message(f"Screenshot: {path.name}")
        return path

    # -- OSD ------------------------------------------------------------------------------------------
    def message(self, text: str) -> None:
        """Show ``text`` on the OSD for ``OSD_MESSAGE_S``."""
        self._messages.append((time.perf_counter() + OSD_MESSAGE_S, text))
        self._update_osd()

    def _update_osd(self) -> None:
        now = time.perf_counter()
        while self._messages and self._messages[0][0] <= now:
            self._messages.popleft()
        lines = [text for _, text in self._messages]
        if self._show_stats:
            lines += stats_lines(self._stats_snapshot(now))
        osd = tuple(lines)
        if osd != self._osd:
            self._osd = osd
            assert self.vo is not None
            self.vo.set_osd(osd)
            if self._paused or self._awaiting is not None:
                self._redraw()

    def _redraw(self) -> None:
        assert self.vo is not None
        if self._held:
            self.vo.show(None)

    def _stats_snapshot(self, now: float) -> dict[str, object]:
        """Numbers for the overlay, rates over the last ``STATS_REFRESH_S`` (recomputed that often)."""
        pipe = self._pipe
        assert pipe is not None
        interp = pipe.interp.stats
        mark = self._rate_mark
        if mark is not None and now - mark[0] < STATS_REFRESH_S:
            return self._snapshot
        self._rate_mark = (now, self.stats.shown, interp.source_frames)
        snap: dict[str, object] = {"target_fps": float(self.rate), "audio": self.audio is not None}
        if mark is not None and now > mark[0]:
            span = now - mark[0]
            snap["output_fps"] = (self.stats.shown - mark[1]) / span
            snap["input_fps"] = max(0, interp.source_frames - mark[2]) / span
        shown = self.stats.shown
        snap["interpolated_pct"] = PERCENT * self.stats.kinds["interp"] / shown if shown else None
        snap["misses"] = self._misses()
        snap["dropped"], snap["late"] = self.stats.dropped, self.stats.late
        snap["scale"] = interp.scale
        snap["scale_mode"] = f"auto, max {pipe.interp.max_scale:g}" if pipe.interp.adaptive_on else "fixed"
        snap["scale_changes"] = len(interp.scale_changes)
        snap["ring_a"] = f"{pipe.ring_a.fill}/{pipe.ring_a.capacity}"
        snap["ring_b"] = f"{pipe.ring_b.fill}/{pipe.ring_b.capacity}"
        snap["network_ms"] = interp.last_pass_ms
        snap["synth_ms"] = MS_PER_S * interp.synthesize_s / interp.kinds["interp"] if interp.kinds["interp"] else None
        snap["present_ms"] = MS_PER_S * self.stats.present_s / shown if shown else None
        if self.master is not None and self._awaiting is None:
            snap["drift_ms"] = MS_PER_S * self._drift.mean
        self._snapshot = snap
        return snap

    def _misses(self) -> int:
        total = sum(int(d["kinds"].get(KIND_MISS, 0)) for d in self._finished_interp)  # type: ignore[union-attr]
        if self._pipe is not None and not self._closed:
            total += self._pipe.interp.stats.kinds[KIND_MISS]
        return total

    # -- state for callers and tests ----------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def interpolating(self) -> bool:
        return self._interpolate

    @property
    def pipeline(self) -> _Pipeline | None:
        return self._pipe

    @property
    def osd_lines(self) -> tuple[str, ...]:
        """The OSD text now on screen (messages, then the stats overlay)."""
        return self._osd

    @property
    def holding(self) -> bool:
        """True while the clocks wait for the first frame of a new epoch (start, seek, loop)."""
        return self._awaiting is not None

    def current_frame(self) -> np.ndarray | None:
        """The picture on screen (ring B's first slot), None before the first one."""
        if not self._held or self._pipe is None:
            return None
        got = self._pipe.ring_b.peek_at(0, timeout=0)
        return None if got is None else got[1]

    def stats_dict(self) -> dict[str, object]:
        """Everything counted so far, for ``--stats-json`` and the bench."""
        interp = list(self._finished_interp)
        decode = list(self._finished_decode)
        if self._pipe is not None and not self._closed:
            interp.append(self._pipe.interp.stats.as_dict())
            decode.append(dict(vars(self._pipe.decode.stats)))
        produced: Counter = Counter()
        for d in interp:
            produced.update(d["kinds"])  # type: ignore[arg-type]
        shown = self.stats.shown
        first = self._first_show_wall
        elapsed = time.perf_counter() - first if first is not None else 0.0
        needed = produced["interp"] + produced[KIND_MISS]
        return {
            "input": self.target, "rate": str(self.rate), "elapsed_s": round(elapsed, 3),
            "output_fps": shown / elapsed if elapsed else None,
            **(self.engine.describe() if self.engine is not None else {}),
            "audio": self.audio.backend if self.audio is not None else None,
            "audio_underruns": self.audio.underruns if self.audio is not None else None,
            "present": self.stats.as_dict(),
            "produced_kinds": dict(produced),
            "interpolated_share_shown": self.stats.kinds["interp"] / shown if shown else None,
            "misses": produced[KIND_MISS],
            "miss_share": produced[KIND_MISS] / needed if needed else None,
            "scale_changes": [c for d in interp for c in d["scale_changes"]],  # type: ignore[union-attr]
            "interpolate": interp, "decode": decode, "unjoined_threads": list(self.unjoined),
        }


def _display_name(target: str) -> str:
    return target if "://" in target or target.startswith(("lavfi:", "v4l2:")) else Path(target).name


def play(config: Config, target: str | None, *, log: Log) -> LiveResult:
    """``rife-play [INPUT]`` without an output: play live until quit or the end."""
    return LiveSession(config, target, log=log).run()
