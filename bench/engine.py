"""Engine benchmark: ms per interpolated frame by size, flow scale, dtype and device.

For each size and scale it times, interleaved in one run, a plain float32 forward of the network
(``reference``: no channels_last, heads unfused: the network as the published code runs it) and
the engine's optimised variants, and reports the speed-up against the reference, the achieved
GFLOP/s, its share of a peak measured in the same run (a large matmul in the same dtype) and the
peak memory. Prints a table and writes JSON (``bench/results/engine.json``).

    python -m bench.engine [--sizes 448x256,640x360,1280x720] [--scales 1,0.5,0.25] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.common import (interleaved_times, machine_info, peak_rss_mb, peak_rss_reset, print_header, summary,
                          write_json)
from rife_live.models.engine import Interpolator, cpu_supports_bfloat16

DEFAULT_SIZES = "448x256,640x360,1280x720"
DEFAULT_SCALES = "1,0.5,0.25"
MATMUL_N = 2048
MATMUL_REPEATS = 3
SEED = 0


def peak_gflops(dtype: torch.dtype, device: torch.device) -> float:
    """Best GFLOP/s of a MATMUL_N^3 matmul in ``dtype`` (the machine's practical peak)."""
    a = torch.randn(MATMUL_N, MATMUL_N, device=device).to(dtype)
    b = torch.randn(MATMUL_N, MATMUL_N, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.mm(a, b)
    sync()
    best = float("inf")
    for _ in range(MATMUL_REPEATS):
        t0 = time.perf_counter()
        torch.mm(a, b)
        sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * MATMUL_N**3 / best / 1e9


def variants(device: str, compiled: bool = False) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {
        "reference": dict(dtype="float32", channels_last=False, fuse_heads=False),
        "float32": dict(dtype="float32", channels_last=True, fuse_heads=True),
    }
    if device == "cuda":
        out["float16"] = dict(dtype="float16", channels_last=True, fuse_heads=True)
    elif cpu_supports_bfloat16():
        out["bfloat16"] = dict(dtype="bfloat16", channels_last=True, fuse_heads=True)
    if compiled:  # the default dtype, blocks compiled with torch.compile (warm-up not timed)
        out["compiled"] = dict(dtype="auto", channels_last=True, fuse_heads=True, compile=True)
    return out


def count_flops(engine: Interpolator, a: np.ndarray, b: np.ndarray, scale: float) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        engine.interpolate(a, b, 0.5, scale)
    return int(counter.get_total_flops())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--scales", default=DEFAULT_SCALES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--compile", action="store_true", help="add a torch.compile variant (slow to warm up)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    device = torch.device(args.device)
    info = machine_info(args.device)
    print_header("engine benchmark", info)
    engines = {name: Interpolator(device=args.device, log=lambda m: print(m, file=sys.stderr), **kw)
               for name, kw in variants(args.device, args.compile).items()}
    peaks = {str(e.dtype).replace("torch.", ""): peak_gflops(e.dtype, device) for e in engines.values()}
    print("# peak (matmul %d^3): %s" % (MATMUL_N, ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items())))
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(SEED)
    rows = []
    header = f"{'size':>9} {'scale':>5} {'variant':>9} {'ms/frame':>9} {'min ms':>8} {'speedup':>7} {'GFLOP':>6} " \
             f"{'GFLOP/s':>7} {'%peak':>5} {'peakMB':>7}"
    print(header)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        a = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        b = np.roll(a, 3, axis=1)
        for scale in (float(s) for s in args.scales.split(",")):
            flops = count_flops(engines["reference"], a, b, scale)
            memory = {}
            for name, engine in engines.items():
                engine.interpolate(a, b, 0.5, scale)
                peak_rss_reset()
                engine.interpolate(a, b, 0.5, scale)
                memory[name] = (torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else peak_rss_mb())
            fns = {name: (lambda e=engine: e.interpolate(a, b, 0.5, scale)) for name, engine in engines.items()}
            times = interleaved_times(fns, args.repeats, sync=sync)
            ref_ms = summary(times["reference"])["median_ms"]
            for name, engine in engines.items():
                s = summary(times[name])
                dtype = str(engine.dtype).replace("torch.", "")
                gflops = flops / 1e9 / (s["median_ms"] / 1000)
                row = dict(size=size, scale=scale, variant=name, dtype=dtype, **s, speedup=ref_ms / s["median_ms"],
                           gflop=flops / 1e9, gflops=gflops, peak_share=gflops / peaks[dtype], peak_mb=memory[name])
                rows.append(row)
                print(f"{size:>9} {scale:>5g} {name:>9} {s['median_ms']:9.1f} {s['min_ms']:8.1f} "
                      f"{row['speedup']:6.2f}x {row['gflop']:6.1f} {gflops:7.0f} {100 * row['peak_share']:4.0f}% "
                      f"{memory[name] or 0:7.0f}")
    out = write_json("engine", {"machine": info, "peak_gflops": peaks, "rows": rows}, args.json)
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
