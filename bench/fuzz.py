"""Fuzz run: damaged media fed to every program; counts how each run ended.

The cases are those of the CI test (``tests/test_fuzz.py``), more of them: ``tests/fuzz_media.py``
builds case k of seed S (a program and input in turn: export, live ``--vo null``, ``rife-interp``,
``rife-eval``; damage drawn from a ``random.Random`` seeded by S and k) and ``tests/fuzz_run.py``
runs it (at most two processes at a time) and checks the invariants: the run ends within the hang
timeout, exits 0 or with one ``PROG: error: ...`` line (never a traceback or an internal error),
leaves no ``.partial-`` file and only complete outputs, and leaves its input unchanged.

Printed: exits by kind (ok / one-line error by exit code / traceback / internal error / hang),
by program and by damage, the failures (each with its command line; their folders are kept under
``--keep``), and the slowest case. JSON under ``bench/results/fuzz.json``.

    nice -n 19 python -m bench.fuzz --cases 300 [--seed 0] [--timeout 120] [--keep /tmp/rife-fuzz]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.common import machine_info, print_header, write_json
from tests.fuzz_media import TARGETS, digest, make_bases, make_case
from tests.fuzz_run import HANG_TIMEOUT_S, MAX_WORKERS, Outcome, run_cases, summarize


def _table(title: str, rows: dict[str, dict[str, int]]) -> None:
    kinds = sorted({kind for counts in rows.values() for kind in counts})
    width = max([len(title), *(len(name) for name in rows)])
    print(f"{title:<{width}}  " + "  ".join(f"{k:>14}" for k in kinds))
    for name, counts in rows.items():
        print(f"{name:<{width}}  " + "  ".join(f"{counts.get(k, 0):>14}" for k in kinds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=len(TARGETS) * 5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--first", type=int, default=0, help="index of the first case (rerun one: --first K --cases 1)")
    parser.add_argument("--timeout", type=float, default=HANG_TIMEOUT_S, help="seconds before a case counts as hung")
    parser.add_argument("--workers", type=int, default=MAX_WORKERS, help=f"processes at a time (1-{MAX_WORKERS})")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the folders of failing cases here (default: a temporary folder, removed)")
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/fuzz.json")
    args = parser.parse_args(argv)
    info = machine_info("cpu")
    print_header("fuzz: damaged media into rife-play (export, live --vo null), rife-interp, rife-eval", info)
    with tempfile.TemporaryDirectory(prefix="rife-fuzz-") as tmp:
        root = args.keep or Path(tmp) / "cases"
        bases = make_bases(Path(tmp) / "bases")
        base_digest = digest(bases)
        print(f"# seed {args.seed}, cases {args.first}..{args.first + args.cases - 1}, hang timeout "
              f"{args.timeout:g} s, {min(args.workers, MAX_WORKERS)} at a time; base media sha256 {base_digest[:16]}")
        cases = [make_case(args.seed, k, bases) for k in range(args.first, args.first + args.cases)]
        done = [0]
        started = time.perf_counter()

        def progress(outcome: Outcome) -> None:
            done[0] += 1
            mark = "" if outcome.passed else "  FAILED: " + "; ".join(outcome.problems)[:300]
            print(f"[{done[0]:>4}/{len(cases)}] {outcome.case.name:<44} {outcome.exit:<15} "
                  f"{outcome.seconds:6.1f} s{mark}", flush=True)

        outcomes = run_cases(cases, root, timeout=args.timeout, workers=args.workers,
                             keep_failures=args.keep is not None, on_done=progress)
        wall = time.perf_counter() - started
    summary = summarize(outcomes)
    print()
    _table("program", summary["by_program"])
    print()
    _table("damage", summary["by_mutation"])
    print()
    failures = [o for o in outcomes if not o.passed]
    for outcome in failures:
        print("FAILED " + outcome.report())
    slowest = summary["slowest"]
    print(f"cases {summary['cases']} in {wall:.0f} s; exits: "
          + ", ".join(f"{kind} {n}" for kind, n in summary["exits"].items()))
    print(f"failed invariants {summary['failed']}, tracebacks {summary['tracebacks']}, internal errors "
          f"{summary['internal_errors']}, hangs {summary['hangs']}")
    if slowest is not None:
        print(f"slowest case {slowest['name']}: {slowest['seconds']:.1f} s ({slowest['exit']})")
    payload = {"machine": info, "seed": args.seed, "first": args.first, "timeout_s": args.timeout,
               "workers": min(args.workers, MAX_WORKERS), "base_sha256": base_digest, "wall_s": round(wall, 1),
               "summary": summary, "cases": [o.to_json() for o in outcomes]}
    out = write_json("fuzz", payload, args.json)
    print(f"# wrote {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
