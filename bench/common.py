"""Shared bits of the benchmarks: machine description, robust timing, JSON output.

Benchmarks print a table and write JSON; they are never tests. Figures are reported as ratios
against a baseline measured in the same run, with variants interleaved so load on the machine
affects them alike.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(device: str = "cpu") -> dict[str, object]:
    info: dict[str, object] = {
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device,
    }
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_header(title: str, info: dict[str, object]) -> None:
    print(f"# {title}")
    print("# " + ", ".join(f"{k}={v}" for k, v in info.items()))


def interleaved_times(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 1,
                      sync: Callable[[], None] = lambda: None) -> dict[str, list[float]]:
    """Run each function ``warmup`` times, then ``repeats`` rounds round-robin; seconds per call."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - t0)
    return times


def summary(samples: list[float]) -> dict[str, float]:
    return {"median_ms": 1000 * statistics.median(samples), "min_ms": 1000 * min(samples), "n": len(samples)}


def peak_rss_reset() -> None:
    """Reset the process's peak RSS mark (Linux); a no-op elsewhere."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def write_json(name: str, payload: dict[str, object], path: Path | None = None) -> Path:
    out = path or RESULTS_DIR / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=1, default=str))
    return out
