"""Soak run: long live playback in-process, sampled every few seconds; is memory flat?

Two scenarios, each a ``LiveSession`` with ``--vo null --ao null`` (the null audio device plays at
real-time pace and is the master clock, as a sound card would be) driven by ``start``/``step``:

- ``file``: the demo clip at 448x256 with its audio, repeated to ``LOOP_CLIP_S`` seconds
  (``bench.live.make_clip``, the 25 fps clip with AAC), played with ``--loop``, with a seek every ``--seek-every`` seconds
  to a target drawn from a ``random.Random(--seed)`` (absolute, or relative by -10..+10 s);
- ``rtsp``: ``rtsp://`` from ``tests/live_servers.RtspServer`` (GStreamer's test pattern at
  448x256, 25 fps, no audio), the server killed (SIGKILL) and started again on the same port every
  ``--restart-every`` seconds from a helper thread, so the presenter never stops stepping.

Every ``--sample-s`` seconds it records the process's RSS (``/proc/self/status`` VmRSS), its
thread count (``threading.active_count()`` and the kernel's ``Threads``), its open file
descriptors (``/proc/self/fd``), the fill of ring A, ring B and the audio FIFO, the lag of the
picture (video clock minus the pts on screen) and the A/V drift read at the sample, and from the
session's ``stats_dict()``: frames shown, misses, late frames, the largest A/V drift so far,
reconnects, seeks and loops. It prints a table over time and a verdict per scenario: the
least-squares slope of RSS (and of threads and fds) over the samples after ``--warmup-s``, in
units per 10 minutes, and the largest value of each measure. Memory is *flat* when the RSS slope
is at most ``FLAT_RSS_MIB_PER_10MIN`` (a falling one is no leak); threads and fds must not grow
at all (max after warm-up <= max during it + ``TRANSIENT_SLACK``: a reconnect or a loop briefly
holds one more). JSON under ``bench/results/`` (``soak.json``; ``soak-file.json`` or ``soak-rtsp.json`` for one).

    nice -n 19 python -m bench.soak --scenario both --minutes 30 [--sample-s 10]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from bench.common import machine_info, print_header, write_json
from bench.live import make_clip
from rife_live.config import load_config
from rife_live.player import LiveSession

SIZE = (448, 256)
LOOP_CLIP_S = 60  # the looped file: long enough that seeks land all over it, short enough to loop
TARGET_FPS = "60"
SEEK_EVERY_S = 4.0
SEEK_RELATIVE_SHARE = 0.3  # the other seeks are absolute
SEEK_RELATIVE_MAX_S = 10.0
RESTART_EVERY_S = 120.0
WARMUP_S = 60.0  # samples before this are left out of the slopes (caches, allocator arenas)
FLAT_RSS_MIB_PER_10MIN = 4.0  # |RSS slope| at most this after warm-up: flat
TRANSIENT_SLACK = 2  # threads / fds a reconnect or a loop may hold for a moment
TEN_MINUTES_S = 600.0
KIB_PER_MIB = 1024
STEP_MAX_WAIT_S = 0.05


@dataclass(frozen=True)
class Sample:
    t_s: float
    rss_mib: float
    threads_py: int
    threads_os: int
    fds: int
    ring_a: int
    ring_a_cap: int
    ring_b: int
    ring_b_cap: int
    audio_fifo: int | None
    audio_fifo_cap: int | None
    shown: int
    misses: int
    late: int
    drift_ms: float | None  # video clock - audio clock at the sample (None: no audio, or holding)
    lag_ms: float | None  # video clock - pts of the frame on screen (None: nothing shown, or holding)
    max_drift_ms: float
    reconnects: int
    seeks: int
    loops: int
    underruns: int | None


def _proc_status() -> dict[str, str]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def sample(session: LiveSession, t_s: float) -> Sample:
    status = _proc_status()
    stats = session.stats_dict()
    present = stats["present"]
    pipe = session.pipeline
    fifo = session.audio.fifo if session.audio is not None else None
    drift = lag = None
    running = not session.holding and not session.paused
    if session.master is not None and running:
        drift = 1000 * (session.clock.now() - session.master.now())
    if session.shown_meta is not None and running:
        lag = 1000 * (session.clock.now() - float(session.shown_meta.pts))
    return Sample(
        t_s=round(t_s, 1), rss_mib=int(status["VmRSS"].split()[0]) / KIB_PER_MIB,
        threads_py=threading.active_count(), threads_os=int(status["Threads"]),
        fds=len(os.listdir("/proc/self/fd")),
        ring_a=pipe.ring_a.fill if pipe else 0, ring_a_cap=pipe.ring_a.capacity if pipe else 0,
        ring_b=pipe.ring_b.fill if pipe else 0, ring_b_cap=pipe.ring_b.capacity if pipe else 0,
        audio_fifo=fifo.fill if fifo is not None else None, audio_fifo_cap=fifo.capacity if fifo is not None else None,
        shown=present["shown"], misses=stats["misses"], late=present["late"], drift_ms=drift, lag_ms=lag,
        max_drift_ms=present["max_drift_ms"], reconnects=sum(d["reconnects"] for d in stats["decode"]),
        seeks=present["seeks"], loops=present["loops"], underruns=stats["audio_underruns"],
    )


def slope_per_10min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t seconds, value) points, per 10 minutes; None under 3 points."""
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * TEN_MINUTES_S


def _grew(before: list[Sample], after: list[Sample], name: str) -> bool:
    """Whether measure ``name`` went past its warm-up maximum (+ ``TRANSIENT_SLACK``) after the warm-up."""
    if not after:
        return False
    return max(getattr(s, name) for s in after) > max(getattr(s, name) for s in before) + TRANSIENT_SLACK


def verdict(samples: list[Sample], warmup_s: float) -> dict[str, object]:
    """Slopes after the warm-up, maxima, and whether memory, threads and fds stayed flat."""
    after = [s for s in samples if s.t_s >= warmup_s]
    before = [s for s in samples if s.t_s < warmup_s] or samples[:1]
    out: dict[str, object] = {"warmup_s": warmup_s, "samples_after_warmup": len(after)}
    for name in ("rss_mib", "threads_os", "fds"):
        out[f"{name}_slope_per_10min"] = slope_per_10min([(s.t_s, getattr(s, name)) for s in after])
        out[f"{name}_max"] = max(getattr(s, name) for s in samples)
    out["rings_bounded"] = all(s.ring_a <= s.ring_a_cap and s.ring_b <= s.ring_b_cap
                               and (s.audio_fifo is None or s.audio_fifo <= s.audio_fifo_cap) for s in samples)
    for name in ("ring_a", "ring_b", "audio_fifo"):
        values = [getattr(s, name) for s in samples if getattr(s, name) is not None]
        out[f"{name}_max"] = max(values) if values else None
    drifts = [abs(s.drift_ms) for s in samples if s.drift_ms is not None]
    out["max_drift_ms"] = max([samples[-1].max_drift_ms, *drifts]) if samples else None
    rss_slope = out["rss_mib_slope_per_10min"]
    out["memory_flat"] = None if rss_slope is None else rss_slope <= FLAT_RSS_MIB_PER_10MIN  # falling is no leak
    out["threads_flat"] = not _grew(before, after, "threads_os")
    out["fds_flat"] = not _grew(before, after, "fds")
    return out


def _config(loop: bool) -> object:
    flags = {"vo": "null", "ao": "null", "target-fps": TARGET_FPS, "scale": "auto"}
    if loop:
        flags["loop"] = True
    return load_config(None, flags, user_config=False)


def _print_row(s: Sample, previous: Sample | None) -> None:
    d_miss = s.misses - (previous.misses if previous else 0)
    d_late = s.late - (previous.late if previous else 0)
    fifo = "-" if s.audio_fifo is None else f"{s.audio_fifo}"
    drift = "-" if s.drift_ms is None else f"{s.drift_ms:+.0f}"
    lag = "-" if s.lag_ms is None else f"{s.lag_ms:.0f}"
    print(f"{s.t_s:7.0f} {s.rss_mib:8.1f} {s.threads_py:4d}/{s.threads_os:<4d} {s.fds:4d} "
          f"{s.ring_a:2d}/{s.ring_a_cap:<2d} {s.ring_b:3d}/{s.ring_b_cap:<3d} {fifo:>6} {s.shown:7d} {d_miss:6d} "
          f"{d_late:5d} {lag:>5} {drift:>6} {s.max_drift_ms:7.1f} {s.reconnects:4d} {s.seeks:5d} {s.loops:5d}",
          flush=True)


HEADER = (f"{'t s':>7} {'RSS MiB':>8} {'thr py/os':>9} {'fds':>4} {'ringA':>5} {'ringB':>7} {'fifo':>6} "
          f"{'shown':>7} {'+miss':>6} {'+late':>5} {'lag':>5} {'drift':>6} {'maxdrft':>7} {'reco':>4} "
          f"{'seeks':>5} {'loops':>5}")


def soak(session: LiveSession, seconds: float, sample_s: float,
         tick: Callable[[float], None]) -> list[Sample]:
    """Step ``session`` for ``seconds``; ``tick(t)`` each round (seeks, restarts); sample each ``sample_s``."""
    samples: list[Sample] = []
    session.start()
    started = time.perf_counter()
    next_sample = 0.0
    print(HEADER, flush=True)
    try:
        while True:
            t = time.perf_counter() - started
            if t >= next_sample:
                samples.append(sample(session, t))
                _print_row(samples[-1], samples[-2] if len(samples) > 1 else None)
                next_sample += sample_s
            if t >= seconds:
                break
            tick(t)
            if not session.step(STEP_MAX_WAIT_S):
                print("# the session ended early", flush=True)
                break
    finally:
        session.close()
    return samples


def file_scenario(seconds: float, sample_s: float, seek_every_s: float, seed: int) -> list[Sample]:
    path = make_clip("bbb", *SIZE, LOOP_CLIP_S)
    print(f"# file: {path}, --loop, a seek every {seek_every_s:g} s (seed {seed})", flush=True)
    session = LiveSession(_config(loop=True), str(path), log=lambda m: print(f"# {m}", flush=True))
    rng = random.Random(seed)
    next_seek = [seek_every_s]

    def tick(t: float) -> None:
        if t < next_seek[0]:
            return
        next_seek[0] += seek_every_s
        if rng.random() < SEEK_RELATIVE_SHARE:
            session.command("seek", (rng.uniform(-SEEK_RELATIVE_MAX_S, SEEK_RELATIVE_MAX_S), "relative"))
        else:
            session.command("seek", (rng.uniform(0, LOOP_CLIP_S), "absolute"))

    return soak(session, seconds, sample_s, tick)


def rtsp_scenario(seconds: float, sample_s: float, restart_every_s: float) -> list[Sample]:
    from tests.live_servers import RtspServer, rtsp_server_available

    missing = rtsp_server_available()
    if missing is not None:
        raise SystemExit(f"rtsp scenario: {missing}")
    server = RtspServer(width=SIZE[0], height=SIZE[1])
    server.start()
    print(f"# rtsp: {server.url}, the server killed and restarted every {restart_every_s:g} s", flush=True)
    session = LiveSession(_config(loop=False), server.url, log=lambda m: print(f"# {m}", flush=True))
    next_restart = [restart_every_s]
    restarts: list[threading.Thread] = []

    def restart() -> None:
        server.kill()
        server.start()

    def tick(t: float) -> None:
        if t < next_restart[0] or any(r.is_alive() for r in restarts):
            return
        next_restart[0] += restart_every_s
        restarts[:] = [threading.Thread(target=restart, name="soak-rtsp-restart", daemon=True)]
        restarts[0].start()

    try:
        return soak(session, seconds, sample_s, tick)
    finally:
        for thread in restarts:
            thread.join()
        server.stop()


def _report(name: str, samples: list[Sample], result: dict[str, object]) -> None:
    def at(minute: float) -> str:
        near = min(samples, key=lambda s: abs(s.t_s - 60 * minute))
        return f"{near.rss_mib:.1f} MiB at {near.t_s:.0f} s"

    print(f"\n## {name}: verdict")
    slope = result["rss_mib_slope_per_10min"]
    memory = "n/a (too few samples after the warm-up)" if slope is None else (
        f"{'flat' if result['memory_flat'] else 'GROWING'}: RSS slope {slope:+.2f} MiB per 10 min after "
        f"{result['warmup_s']:g} s of warm-up (flat: at most {FLAT_RSS_MIB_PER_10MIN:+g})")
    print(f"memory        {memory}")
    last = samples[-1]
    marks = [at(m) for m in (1, 10, 30) if last.t_s >= 60 * m - 5]
    marks.append(f"{last.rss_mib:.1f} MiB at the end ({last.t_s:.0f} s)")
    print(f"RSS           {', '.join(marks)}; max {result['rss_mib_max']:.1f} MiB")
    print(f"threads       max {result['threads_os_max']} ({'flat' if result['threads_flat'] else 'GROWING'}); "
          f"fds max {result['fds_max']} ({'flat' if result['fds_flat'] else 'GROWING'})")
    print(f"rings         {'bounded' if result['rings_bounded'] else 'OVER CAPACITY'}: ring A max "
          f"{result['ring_a_max']}, ring B max {result['ring_b_max']}, audio FIFO max {result['audio_fifo_max']}")
    print(f"playback      shown {last.shown}, misses {last.misses}, late {last.late}, max A/V drift "
          f"{result['max_drift_ms']:.1f} ms, reconnects {last.reconnects}, seeks {last.seeks}, loops {last.loops}, "
          f"audio underruns {last.underruns}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("file", "rtsp", "both"), default="both")
    parser.add_argument("--minutes", type=float, default=30.0, help="per scenario")
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--warmup-s", type=float, default=WARMUP_S)
    parser.add_argument("--seek-every", type=float, default=SEEK_EVERY_S, help="file scenario: seconds between seeks")
    parser.add_argument("--restart-every", type=float, default=RESTART_EVERY_S,
                        help="rtsp scenario: seconds between server restarts")
    parser.add_argument("--seed", type=int, default=0, help="file scenario: the seek targets")
    parser.add_argument("--json", type=Path, default=None,
                        help="default bench/results/soak.json (soak-file.json, soak-rtsp.json for one scenario)")
    args = parser.parse_args(argv)
    info = machine_info("cpu")
    print_header(f"soak: live --vo null --ao null at {SIZE[0]}x{SIZE[1]}, {args.minutes:g} min per scenario, "
                 f"a sample every {args.sample_s:g} s", info)
    seconds = 60 * args.minutes
    names = ("file", "rtsp") if args.scenario == "both" else (args.scenario,)
    results: dict[str, object] = {}
    healthy = True
    for name in names:
        print(f"\n## {name}", flush=True)
        if name == "file":
            samples = file_scenario(seconds, args.sample_s, args.seek_every, args.seed)
        else:
            samples = rtsp_scenario(seconds, args.sample_s, args.restart_every)
        result = verdict(samples, args.warmup_s)
        _report(name, samples, result)
        healthy &= result["memory_flat"] is not False and bool(result["threads_flat"]) and bool(result["fds_flat"])
        healthy &= bool(result["rings_bounded"])
        results[name] = {"verdict": result, "samples": [asdict(s) for s in samples]}
    payload = {"machine": info, "size": f"{SIZE[0]}x{SIZE[1]}", "minutes": args.minutes, "sample_s": args.sample_s,
               "seek_every_s": args.seek_every, "restart_every_s": args.restart_every, "seed": args.seed,
               "scenarios": results}
    out = write_json("soak" if args.scenario == "both" else f"soak-{args.scenario}", payload, args.json)
    print(f"\n# wrote {out}")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
