"""Run the benchmark suite and write one JSON with the machine's description.

    python -m bench [--only engine,pipeline,live,scenes,gpu] [--quick] [--json bench/results/all.json]

Each benchmark prints its own table (see bench/README.md for how to read them) and writes its own
JSON; this runner collects them into a single file. ``--quick`` shortens the long ones (fewer
sizes and repeats, 15 s of live playback) for a smoke run; report figures from a full run.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from bench import engine, gpu, live, pipeline, scenes
from bench.common import RESULTS_DIR, machine_info, print_header, write_json

SUITE: dict[str, tuple[Callable[[list[str]], int], list[str], list[str]]] = {
    # name: (main, full arguments, quick arguments)
    "engine": (engine.main, [], ["--sizes", "448x256,640x360", "--scales", "1,0.5", "--repeats", "3"]),
    "pipeline": (pipeline.main, [], ["--sizes", "448x256", "--repeats", "1"]),
    "live": (live.main, [], ["--seconds", "15", "--runs", "1"]),
    "scenes": (scenes.main, [], []),
    "gpu": (gpu.main, [], []),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SUITE), help=f"comma-separated subset of {', '.join(SUITE)}")
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test; not for reporting)")
    parser.add_argument("--json", type=Path, default=RESULTS_DIR / "all.json")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SUITE]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    info = machine_info("cpu")
    print_header("rife-live benchmark suite", info)
    results: dict[str, object] = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="rife-bench-") as tmp:
        for name in names:
            run, full, quick = SUITE[name]
            out = Path(tmp) / f"{name}.json"
            print(f"\n## {name}", flush=True)
            started = time.perf_counter()
            code = run([*(quick if args.quick else full), "--json", str(out)])
            elapsed = time.perf_counter() - started
            if code != 0:
                failed.append(name)
                results[name] = {"exit_code": code, "seconds": elapsed}
                continue
            if not out.exists():  # nothing to measure here (gpu without CUDA)
                results[name] = {"exit_code": code, "seconds": elapsed, "skipped": True}
                continue
            results[name] = {"exit_code": code, "seconds": elapsed, "result": json.loads(out.read_text())}
    path = write_json("all", {"machine": info, "quick": args.quick, "benchmarks": results}, args.json)
    print(f"\n# wrote {path}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
