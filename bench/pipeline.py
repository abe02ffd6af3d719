"""Pipeline benchmark: end-to-end export fps against engine-only fps on the same clip, in one run.

For each size, a downscale of bigbuckbunny (the first ``--frames`` frames, H.264 at 25 fps) is
doubled to 50 fps three ways, interleaved round by round so load on the machine hits them alike:

- ``engine``: the network alone on frames decoded beforehand: for each source pair one
  ``prepare`` + ``flow`` + ``synthesize(1/2)`` (each frame prepared once, as the pipeline does),
  on a worker thread like the export's interpolation thread;
- ``null``: the whole export (decode thread -> interpolation thread -> the null sink);
- ``mkv``: the whole export to a temporary .mkv (x264 encode and mux on the calling thread).

Both exports use the same loaded engine (no model load in the timing). The export makes the same
outputs as the engine loop plus the copied source frames; output fps = outputs / seconds, and
``ratio`` = engine seconds / export seconds (1.0: decode, copies and encoding are fully hidden
behind the network). The interpolation thread's own timers split the export time into network,
synthesis and the rest. Prints a table and writes JSON (``bench/results/pipeline.json``).

    python -m bench.pipeline [--sizes 448x256,640x360] [--frames 50] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from bench.common import machine_info, print_header, write_json
from rife_live.config import load_config
from rife_live.models.engine import Interpolator
from rife_live.export import ExportResult, export

BBB = Path(__file__).resolve().parents[1] / "tests" / "data" / "bigbuckbunny.mp4"
DEFAULT_SIZES = "448x256,640x360"
DEFAULT_FRAMES = 50
DEFAULT_REPEATS = 2
CLIP_CRF = "18"
HALF = Fraction(1, 2)
SCALE = 1.0
MULTI = 2
WARMUP_PAIRS = 2
TARGET_RATIO = 0.90
VARIANTS = ("engine", "null", "mkv")


def make_clip(path: Path, width: int, height: int, frames: int) -> Path:
    """The first ``frames`` frames of bigbuckbunny scaled to width x height (H.264, 25 fps, no audio)."""
    with av.open(str(BBB)) as src, av.open(str(path), "w") as dst:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate
        out = dst.add_stream("libx264", rate=rate, options={"crf": CLIP_CRF})
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        for index, frame in enumerate(src.decode(vin)):
            if index == frames:
                break
            small = frame.reformat(width=width, height=height, format="yuv420p")
            small.pts, small.time_base = index, 1 / rate
            for packet in out.encode(small):
                dst.mux(packet)
        for packet in out.encode(None):
            dst.mux(packet)
    return path


def predecode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def _engine_loop(engine: Interpolator, frames: list[np.ndarray], seconds: list[float]) -> None:
    t0 = time.perf_counter()
    p0 = engine.prepare(frames[0], SCALE)
    for image in frames[1:]:
        p1 = engine.prepare(image, SCALE)
        engine.synthesize(engine.flow(p0, p1, SCALE), HALF)
        p0 = p1
    seconds.append(time.perf_counter() - t0)


def engine_only(engine: Interpolator, frames: list[np.ndarray]) -> float:
    """Seconds for one network pass and the middle frame per pair, each frame prepared once.

    Runs on a worker thread, as the export's interpolation thread does: with libgomp a team
    started from the main thread spins at its barriers (OMP_WAIT_POLICY active) and, on a loaded
    machine, was measured 2x slower in CPU time than the same work from a worker thread.
    """
    seconds: list[float] = []
    worker = threading.Thread(target=_engine_loop, args=(engine, frames, seconds), name="bench-engine")
    worker.start()
    worker.join()
    if not seconds:
        raise RuntimeError("the engine loop failed (see the worker thread's traceback above)")
    return seconds[0]


def run_export(engine: Interpolator, clip: Path, out: Path | None) -> tuple[float, ExportResult]:
    flags: dict[str, object] = {"multi": str(MULTI), "path": out}
    config = load_config(None, flags, user_config=False)
    t0 = time.perf_counter()
    result = export(config, str(clip), log=lambda _m: None, progress=False, engine=engine)
    return time.perf_counter() - t0, result


def split(seconds: float, result: ExportResult) -> dict[str, float]:
    """The export's wall time by the interpolation thread's timers: network, synthesis, the rest."""
    stats = result.stats["interpolate"]
    network = (stats["network_ms_per_pass"] or 0) * stats["network_passes"] / 1000
    synth = (stats["synthesize_ms_per_frame"] or 0) * stats["kinds"].get("interp", 0) / 1000
    return {"network_s": network, "synthesize_s": synth, "other_s": seconds - network - synth}


def bench_size(engine: Interpolator, size: str, frames: int, repeats: int, folder: Path) -> dict[str, object]:
    width, height = (int(v) for v in size.lower().split("x"))
    clip = make_clip(folder / f"bbb_{size}.mp4", width, height, frames)
    decoded = predecode(clip)
    outputs = MULTI * len(decoded)
    engine_only(engine, decoded[: WARMUP_PAIRS + 1])  # primitives for this size are built before timing
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    splits: dict[str, list[dict[str, float]]] = {"null": [], "mkv": []}
    for _ in range(repeats):
        times["engine"].append(engine_only(engine, decoded))
        for name, out in (("null", None), ("mkv", folder / f"out_{size}.mkv")):
            seconds, result = run_export(engine, clip, out)
            if result.frames != outputs:
                raise RuntimeError(f"{name} export wrote {result.frames} frames, expected {outputs}")
            times[name].append(seconds)
            splits[name].append(split(seconds, result))
    median = {name: statistics.median(values) for name, values in times.items()}
    row: dict[str, object] = {
        "size": size, "source_frames": len(decoded), "outputs": outputs, "seconds": times,
        "engine_ms_per_pair": 1000 * median["engine"] / (len(decoded) - 1),
        "fps": {name: outputs / median[name] for name in VARIANTS},
        # per round: engine and export timed back to back, so the ratio is paired
        "ratio_per_round": {name: [e / x for e, x in zip(times["engine"], times[name])] for name in ("null", "mkv")},
        "split_median_s": {name: {k: statistics.median(s[k] for s in values) for k in values[0]}
                           for name, values in splits.items()},
    }
    row["ratio"] = {name: statistics.median(row["ratio_per_round"][name]) for name in ("null", "mkv")}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="source frames of the clip")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    info = machine_info("cpu")
    print_header("pipeline benchmark: export vs engine only, 2x (25 -> 50 fps)", info)
    engine = Interpolator(log=lambda m: print(m, file=sys.stderr))
    print(f"# engine: {engine.device.type} {str(engine.dtype).replace('torch.', '')}, "
          f"torch threads {torch.get_num_threads()}, {args.frames} source frames, {args.repeats} rounds")
    print(f"{'size':>9} {'ms/pair':>8} {'engine fps':>10} {'null fps':>8} {'ratio':>6} {'mkv fps':>8} {'ratio':>6}"
          f"  {'mkv: network/synth/other s':>26}")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_pipeline_") as tmp:
        for size in args.sizes.split(","):
            row = bench_size(engine, size, args.frames, args.repeats, Path(tmp))
            rows.append(row)
            fps, ratio, mkv = row["fps"], row["ratio"], row["split_median_s"]["mkv"]
            print(f"{size:>9} {row['engine_ms_per_pair']:8.1f} {fps['engine']:10.2f} {fps['null']:8.2f} "
                  f"{ratio['null']:6.1%} {fps['mkv']:8.2f} {ratio['mkv']:6.1%}  "
                  f"{mkv['network_s']:8.1f} /{mkv['synthesize_s']:6.2f} /{mkv['other_s']:6.2f}")
    worst = min(min(r["ratio"].values()) for r in rows)
    verdict = "meets" if worst >= TARGET_RATIO else "misses"
    print(f"# lowest export/engine ratio {worst:.1%}: {verdict} the {TARGET_RATIO:.0%} target")
    out = write_json("pipeline", {"machine": info, "frames": args.frames, "repeats": args.repeats,
                                  "target_ratio": TARGET_RATIO, "rows": rows}, args.json)
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
