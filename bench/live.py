"""Live playback benchmark: ``--vo null`` at 448x256, 25 fps -> 60 fps, for 60 s of real footage.

The demo clip (bigbuckbunny, 5.28 s, H.264 + AAC) is scaled to the benchmark size with PyAV and
repeated (video and audio) into one file of at least ``--seconds`` (cached between runs). The
session plays it with no window (``--vo null``) and miniaudio's null audio device, which plays at
real-time pace and so is the master clock, as a sound card would be. Reported:

- the share of shown frames that are the network's (``interp``), and of the outputs that needed
  the network, the share that missed their deadline (``miss``: the source frame was shown);
- frames shown late (more than one output interval after their pts: the pipeline stalled),
  the largest lateness and the longest wall-time gap between two shown frames;
- A/V drift: the largest |video clock - audio clock| read after the first lock, and the
  corrections made (``timing.py``'s thresholds);
- scale changes of the adaptive controller, ms per network pass and per synthesis;
- the machine's load average before and after (the CPU is shared: other processes slow passes).

    python -m bench.live [--seconds 60] [--size 448x256] [--target-fps 60] [--scale auto]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.common import machine_info, print_header, write_json
from rife_live.config import load_config
from rife_live.player import LiveSession, demo_clip

CACHE_DIR = Path(os.environ.get("RIFE_LIVE_BENCH_CACHE", "/tmp/rife-live-bench"))
SOURCE_FPS = 25
AUDIO_RATE = 48000
AUDIO_FRAME = 1024  # AAC frame size
X264_OPTIONS = {"preset": "veryfast", "crf": "20"}


def looped_clip(width: int, height: int, seconds: float) -> Path:
    """The demo clip at ``width`` x ``height``, repeated to at least ``seconds`` (cached)."""
    path = CACHE_DIR / f"bbb_{width}x{height}_{int(seconds)}s.mp4"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with av.open(str(demo_clip())) as container:
        frames = [f.to_ndarray(width=width, height=height, format="rgb24") for f in container.decode(video=0)]
    with av.open(str(demo_clip())) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        chunks = [r.to_ndarray() for f in container.decode(audio=0) for r in resampler.resample(f)]
    audio = np.concatenate(chunks, axis=1)
    loop_s = len(frames) / SOURCE_FPS
    audio = audio[:, : round(loop_s * AUDIO_RATE)]  # one loop of sound per loop of pictures
    loops = int(np.ceil(seconds / loop_s))
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        vstream = out.add_stream("libx264", rate=SOURCE_FPS, options=X264_OPTIONS)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        astream = out.add_stream("aac", rate=AUDIO_RATE, layout="stereo")
        samples = np.tile(audio, (1, loops))
        start = 0
        for index in range(loops * len(frames)):
            frame = av.VideoFrame.from_ndarray(frames[index % len(frames)], format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, SOURCE_FPS)
            out.mux(vstream.encode(frame))
            # interleave: the sound up to this picture's time goes in next to it
            while start < samples.shape[1] and start <= (index + 1) * AUDIO_RATE // SOURCE_FPS:
                block = np.ascontiguousarray(samples[:, start:start + AUDIO_FRAME], dtype=np.float32)
                aframe = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                aframe.sample_rate, aframe.pts = AUDIO_RATE, start
                out.mux(astream.encode(aframe))
                start += AUDIO_FRAME
        out.mux(vstream.encode(None))
        out.mux(astream.encode(None))
    tmp.rename(path)
    return path


def play(path: Path, seconds: float, target_fps: str, scale: str) -> tuple[dict[str, object], float]:
    """Play ``path`` for ``seconds`` of wall time; returns the session's stats and the wall time."""
    config = load_config(None, {"vo": "null", "ao": "null", "target-fps": target_fps, "scale": scale},
                         user_config=False)
    session = LiveSession(config, str(path), log=lambda m: print(f"# {m}", flush=True))
    session.start()
    started = time.perf_counter()
    try:
        while time.perf_counter() - started < seconds and session.step():
            pass
    finally:
        session.close()
    return session.stats_dict(), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="448x256")
    parser.add_argument("--target-fps", default="60")
    parser.add_argument("--scale", default="auto")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/live.json")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    info = machine_info("cpu")
    print_header("live playback, --vo null, audio on the null device", info)
    path = looped_clip(width, height, args.seconds)
    load_before = os.getloadavg()
    stats, wall = play(path, args.seconds, args.target_fps, args.scale)
    load_after = os.getloadavg()
    present = stats["present"]
    interval_ms = 1000 / float(Fraction(args.target_fps))
    shown = present["shown"]
    interps = [d for d in stats["interpolate"]]
    passes = sum(d["network_passes"] for d in interps)
    rows = [
        ("wall time played", f"{wall:.1f} s"),
        ("frames shown", f"{shown} ({shown / wall:.1f} fps; target {args.target_fps})"),
        ("shown frames interpolated", f"{100 * (stats['interpolated_share_shown'] or 0):.1f} %"),
        ("shown by kind", str(present["kinds"])),
        ("misses (network late: source shown)", f"{stats['misses']} = {100 * (stats['miss_share'] or 0):.1f} % "
                                                 "of the outputs that needed the network"),
        ("dropped (a newer frame was due)", str(present["dropped"])),
        ("shown late (> 1 interval)", f"{present['late']} (max lateness {present['max_lateness_ms']:.1f} ms, "
                                      f"interval {interval_ms:.1f} ms)"),
        ("longest gap between shows", f"{present['max_gap_ms']:.1f} ms (a gap with no late frame is the presenter "
                                      "woken late by the OS: the frames due meanwhile are the dropped ones)"),
        ("A/V drift max (after lock)", f"{present['max_drift_ms']:.1f} ms over {present['drift_readings']} readings;"
                                       f" {present['drift_locks']} locks, {present['drift_nudges']} nudges, "
                                       f"{present['drift_resyncs']} resyncs"),
        ("audio underruns", str(stats["audio_underruns"])),
        ("network passes", f"{passes}, {sum(d['network_ms_per_pass'] or 0 for d in interps) / len(interps):.1f} ms "
                           "per pass (mean)"),
        ("scale changes", ", ".join(f"{c['old']:g}->{c['new']:g} ({c['reason']}, {c['work_ms']:.0f} ms/"
                                    f"{c['budget_ms']:.0f} ms)" if c["work_ms"] is not None else
                                    f"{c['old']:g}->{c['new']:g} ({c['reason']})" for c in stats["scale_changes"])
                          or "none"),
        ("load average before/after", f"{load_before[0]:.2f} / {load_after[0]:.2f} (1 min; {os.cpu_count()} cores)"),
    ]
    width_col = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width_col}}  {value}")
    payload = {"machine": info, "clip": str(path), "size": args.size, "source_fps": SOURCE_FPS,
               "target_fps": args.target_fps, "scale": args.scale, "seconds": args.seconds, "wall_s": wall,
               "load_before": load_before, "load_after": load_after, "stats": stats}
    out = write_json("live", payload, args.json)
    print(f"# wrote {out}")
    stalled = present["late"] > 0
    print(f"# playback {'STALLED' if stalled else 'never stalled'} "
          f"(no frame shown more than one interval after its pts: {not stalled})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
