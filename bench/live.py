"""Live playback benchmark: ``--vo null`` with audio on the null device, over several runs.

Clips are made from the demo's real footage (bigbuckbunny) at the benchmark size and cached:

- ``film``: 23.976 fps (24000/1001) in Matroska with AC3 audio, as films come;
- ``bbb``: 25 fps H.264 + AAC in MP4, as the demo clip.

Each is the clip repeated (pictures and sound) to at least ``--seconds``. Every run is a fresh
process playing it for ``--seconds`` of wall time (miniaudio's null device plays at real-time pace
and is the master clock, as a sound card would be). With ``--baseline TREE`` (a checkout of another
version, e.g. a git worktree), runs of that version and of this one alternate, so load on the
machine falls on both alike. Per run:

- **interpolated**: the share of the outputs that needed the network that got it (the rest are
  misses: the source frame stood in, by deadline or by stride), and the same among shown frames;
- **late**: frames shown more than one output interval after their pts (and the first few, where);
- the scale and stride the quality controller ended at, its changes, ms per network pass;
- A/V drift: the largest |video clock - audio clock| after the first lock;
- the machine's load average before and after (the CPU is shared: other processes slow passes).

    python -m bench.live [--clip film|bbb] [--size 448x256] [--seconds 60] [--runs 5]
                         [--target-fps 60] [--scale auto] [--threads N[,M...]] [--readahead-secs S]
                         [--baseline ../wt-old]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.common import machine_info, print_header, write_json

REPO = Path(__file__).resolve().parents[1]
CACHE_DIR = Path(os.environ.get("RIFE_LIVE_BENCH_CACHE", "/tmp/rife-live-bench"))
DEMO = REPO / "tests" / "data" / "bigbuckbunny.mp4"
AUDIO_RATE = 48000
X264_OPTIONS = {"preset": "veryfast", "crf": "20"}
RESULT_PREFIX = "RESULT "
CLIPS = {  # name: (rate, container suffix, audio codec, audio frame size)
    "film": (Fraction(24000, 1001), ".mkv", "ac3", 1536),
    "bbb": (Fraction(25), ".mp4", "aac", 1024),
}
# One run, in a fresh interpreter of either version: the player's module moved (rife_live.live ->
# rife_live.player), so the child finds whichever the tree has. Flags only this version knows are
# given to it only.
CHILD = r"""
import json, os, sys, time
import torch
args = json.loads(sys.argv[1])
try:
    from rife_live.player import LiveSession
except ImportError:
    from rife_live.live import LiveSession
from rife_live.config import load_config
config = load_config(None, args["flags"], user_config=False)
session = LiveSession(config, args["clip"], log=lambda m: print("# " + m, file=sys.stderr, flush=True))
load_before = os.getloadavg()[0]
session.start()
started = time.perf_counter()
try:
    while time.perf_counter() - started < args["seconds"] and session.step():
        pass
finally:
    session.close()
stats = session.stats_dict()
stats["wall_s"] = time.perf_counter() - started
stats["load"] = [load_before, os.getloadavg()[0]]
stats["torch_threads"] = torch.get_num_threads()
print("RESULT " + json.dumps(stats, default=str), flush=True)
"""


def make_clip(name: str, width: int, height: int, seconds: float) -> Path:
    """The demo's footage at ``width`` x ``height`` as clip ``name``, repeated to ``seconds`` (cached)."""
    rate, suffix, acodec, aframe = CLIPS[name]
    path = CACHE_DIR / f"{name}_{width}x{height}_{int(seconds)}s{suffix}"
    if path.exists():
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with av.open(str(DEMO)) as container:
        frames = [f.to_ndarray(width=width, height=height, format="rgb24") for f in container.decode(video=0)]
    with av.open(str(DEMO)) as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        chunks = [r.to_ndarray() for f in container.decode(audio=0) for r in resampler.resample(f)]
    sound = np.concatenate(chunks, axis=1)
    loop = round(len(frames) / rate * AUDIO_RATE)  # one loop of sound per loop of pictures (padded with silence)
    sound = np.pad(sound[:, :loop], ((0, 0), (0, max(0, loop - sound.shape[1]))))
    loops = int(np.ceil(seconds * rate / len(frames)))
    samples = np.tile(sound, (1, loops))
    tmp = path.with_name(f".{path.stem}.part{suffix}")
    with av.open(str(tmp), "w") as out:
        vstream = out.add_stream("libx264", rate=rate, options=X264_OPTIONS)
        vstream.width, vstream.height, vstream.pix_fmt = width, height, "yuv420p"
        astream = out.add_stream(acodec, rate=AUDIO_RATE, layout="stereo")
        start = 0
        for index in range(loops * len(frames)):
            frame = av.VideoFrame.from_ndarray(frames[index % len(frames)], format="rgb24")
            frame.pts, frame.time_base = index, 1 / rate
            out.mux(vstream.encode(frame))
            # interleave: the sound up to this picture's end goes in next to it
            while start < samples.shape[1] and start <= (index + 1) / rate * AUDIO_RATE:
                block = np.ascontiguousarray(samples[:, start:start + aframe], dtype=np.float32)
                if block.shape[1] < aframe:
                    block = np.pad(block, ((0, 0), (0, aframe - block.shape[1])))
                audio = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
                audio.sample_rate, audio.pts = AUDIO_RATE, start
                out.mux(astream.encode(audio))
                start += aframe
        out.mux(vstream.encode(None))
        out.mux(astream.encode(None))
    tmp.rename(path)
    return path


def run_once(tree: Path, clip: Path, seconds: float, flags: dict[str, str]) -> dict[str, object]:
    """One run of the version in ``tree`` (its own ``rife_live``), in a fresh process."""
    payload = json.dumps({"clip": str(clip), "seconds": seconds, "flags": flags})
    done = subprocess.run([sys.executable, "-c", CHILD, payload], cwd=tree, capture_output=True, text=True,
                          timeout=seconds + 300, env={**os.environ, "PYTHONPATH": str(tree)})
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):])
    raise RuntimeError(f"run in {tree} failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")


def summarize(stats: dict[str, object]) -> dict[str, object]:
    """The figures of one run."""
    produced = stats["produced_kinds"]
    shown = stats["present"]["kinds"]
    needed = produced.get("interp", 0) + produced.get("miss", 0)
    shown_needed = shown.get("interp", 0) + shown.get("miss", 0)
    last = stats["interpolate"][-1]
    passes = sum(d["network_passes"] for d in stats["interpolate"])
    ms = [d["network_ms_per_pass"] for d in stats["interpolate"] if d["network_ms_per_pass"]]
    return {
        "interpolated_pct": 100 * produced.get("interp", 0) / needed if needed else None,
        "shown_interpolated_pct": 100 * shown.get("interp", 0) / shown_needed if shown_needed else None,
        "late": stats["present"]["late"], "max_lateness_ms": stats["present"]["max_lateness_ms"],
        "late_events": stats["present"].get("late_events", []),
        "scale": last.get("scale"), "stride": last.get("stride", "1"),
        "stride_skips": sum(d.get("stride_skips", 0) for d in stats["interpolate"]),
        "skipped_passes": sum(d.get("skipped_passes", 0) for d in stats["interpolate"]),
        "changes": len(stats["scale_changes"]), "scale_changes": stats["scale_changes"], "passes": passes,
        "ms_per_pass": statistics.mean(ms) if ms else None, "shown": stats["present"]["shown"],
        "dropped": stats["present"]["dropped"], "max_drift_ms": stats["present"].get("max_drift_ms"),
        "underruns": stats.get("audio_underruns"), "load": stats["load"], "torch_threads": stats["torch_threads"],
        "wall_s": stats["wall_s"],
    }


def row(variant: str, index: int, s: dict[str, object]) -> str:
    def pct(v: object) -> str:
        return "-" if v is None else f"{v:.1f}"

    where = "; ".join(f"{e['pts']:.2f}s +{e['late_ms']:.0f}ms {e['kind']} w{e['waiting']}" for e in s["late_events"][:3])
    return (f"{variant:<9} {index:>3}  {pct(s['interpolated_pct']):>6}  {pct(s['shown_interpolated_pct']):>6}  "
            f"{s['late']:>4}  {s['max_lateness_ms']:>7.1f}  {s['scale']!s:>5} {s['stride']:>5}  {s['changes']:>3}  "
            f"{s['passes']:>6}  {pct(s['ms_per_pass']):>6}  {pct(s['max_drift_ms']):>6}  "
            f"{s['load'][0]:.2f}/{s['load'][1]:.2f}  {where}")


HEADER = ("variant   run  interp%  shown%  late  max-late  scale stride chg  passes  ms/pass drift-ms  load "
          "before/after  first late frames (pts +ms kind waiting)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", choices=sorted(CLIPS), default="film")
    parser.add_argument("--size", default="448x256")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target-fps", default="60")
    parser.add_argument("--scale", default="auto")
    parser.add_argument("--threads", default=None, help="this version's --threads; a list (1,2) alternates them")
    parser.add_argument("--readahead-secs", default=None, help="this version's --readahead-secs")
    parser.add_argument("--baseline", type=Path, default=None, help="a checkout of another version to alternate with")
    parser.add_argument("--label", default="after", help="this version's name in the table")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/live.json")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    info = machine_info("cpu")
    print_header(f"live playback: {args.clip} {args.size} -> {args.target_fps} fps, --vo null, null audio, "
                 f"{args.seconds:g} s x {args.runs} runs", info)
    clip = make_clip(args.clip, width, height, args.seconds)
    base_flags = {"vo": "null", "ao": "null", "target-fps": args.target_fps, "scale": args.scale}
    ours = dict(base_flags)
    if args.readahead_secs is not None:
        ours["readahead-secs"] = args.readahead_secs
    variants = [("before", args.baseline.resolve(), base_flags)] if args.baseline else []
    if args.threads is None:
        variants.append((args.label, REPO, ours))
    else:  # one variant per thread count, alternating
        variants += [(f"{args.label} t{n}", REPO, {**ours, "threads": n}) for n in args.threads.split(",")]
    print(HEADER, flush=True)
    results: dict[str, list[dict[str, object]]] = {name: [] for name, _, _ in variants}
    for index in range(args.runs):
        for name, tree, flags in variants:
            summary = summarize(run_once(tree, clip, args.seconds, flags))
            results[name].append(summary)
            print(row(name, index + 1, summary), flush=True)
    for name, runs in results.items():
        shares = [r["interpolated_pct"] for r in runs if r["interpolated_pct"] is not None]
        lates = [r["late"] for r in runs]
        print(f"# {name}: interpolated {min(shares, default=0):.1f}-{max(shares, default=0):.1f} % "
              f"(median {statistics.median(shares) if shares else 0:.1f}), late {min(lates)}-{max(lates)} "
              f"per run, torch threads {runs[0]['torch_threads']}")
    out = write_json("live", {"machine": info, "clip": str(clip), "args": {k: str(v) for k, v in vars(args).items()},
                              "runs": results}, args.json)
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
