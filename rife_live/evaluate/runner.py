"""``rife-eval``: score interpolation methods on a benchmark dataset or any video.

``run_eval(options, out)`` checks the dataset, runs every method on every item, scores each predicted
frame (PSNR, SSIM, the RIFE benchmark's SSIM, Middlebury IE), prints a table to ``out`` and returns
an ``EvalReport``; optionally it writes a JSON summary and a CSV of per-frame rows.

Averages follow the RIFE benchmark scripts: the mean over predicted frames of the per-frame PSNR
(not a PSNR of the pooled MSE). On ``hd`` the headline PSNR is luma PSNR, averaged per sequence and
then over sequences, as ``benchmark/HD.py``. Scene-cut pairs (video protocol) are kept out of the
headline numbers and summarised on their own line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, TextIO

from rife_live.errors import ConfigError
from rife_live.evaluate.datasets import PROTOCOLS, VIDEO_FACTORS, Dataset, EvalItem, open_dataset
from rife_live.evaluate.methods import ARBITRARY_T, METHODS, Method, make_engine, make_method
from rife_live.evaluate.metrics import score
from rife_live.models.settings import EngineConfig
from rife_live.outputs import check_new_file, refuse_input, same_file, write_bytes

PROGRESS_EVERY = 10  # items between progress lines
CSV_FIELDS = ("method", "item", "group", "target", "t", "cut", "psnr", "psnr_y", "ssim", "ssim_rife", "ie",
              "item_passes", "item_seconds")


@dataclass(frozen=True)
class EvalOptions:
    """What to evaluate and how; built by the CLI (``rife-eval``)."""

    protocol: str  # "vimeo90k" | "ucf101" | "middlebury" | "hd" | "video"
    path: Path
    factor: int = 2  # video protocol: 2 or 4
    methods: tuple[str, ...] = ("network",)  # any of network, blend, repeat, minterpolate
    arbitrary_t: str = "flow"  # "flow" | "bisect" (network method, t != 1/2)
    scale: float = 1.0
    engine: EngineConfig = field(default_factory=EngineConfig)
    limit: int | None = None  # first N items
    json_path: Path | None = None  # overall "psnr"/"ssim" (first method) at top level, per method too
    csv_path: Path | None = None  # per-frame rows
    overwrite: bool = False  # -y: replace existing --json/--csv files


@dataclass(frozen=True)
class Row:
    """One predicted frame of one method, scored."""

    method: str
    item: str
    group: str
    target: str
    t: Fraction
    cut: bool
    psnr: float
    psnr_y: float
    ssim: float
    ssim_rife: float
    ie: float
    item_passes: int  # network passes the method ran for the whole item (pair)
    item_seconds: float  # seconds the method took for the whole item (pair), scoring excluded


@dataclass(frozen=True)
class MethodSummary:
    """Averages of one method over the frames of non-cut pairs (``cut_*``: the scene-cut pairs)."""

    method: str
    label: str  # "network (flow)", "blend", ...
    frames: int
    pairs: int
    psnr: float | None  # headline PSNR (luma PSNR per sequence on hd)
    ssim: float | None
    ssim_rife: float | None
    ie: float | None
    psnr_by_t: tuple[tuple[Fraction, float], ...]
    passes: int  # network passes over the non-cut pairs
    seconds: float  # prediction time over the non-cut pairs
    cut_frames: int
    cut_psnr: float | None
    cut_ssim: float | None

    @property
    def passes_per_pair(self) -> float | None:
        return self.passes / self.pairs if self.pairs else None

    @property
    def seconds_per_pair(self) -> float | None:
        return self.seconds / self.pairs if self.pairs else None

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label, "frames": self.frames, "pairs": self.pairs, "psnr": self.psnr,
            "ssim": self.ssim, "ssim_rife": self.ssim_rife, "ie": self.ie,
            "psnr_by_t": {str(t): v for t, v in self.psnr_by_t},
            "passes": self.passes, "seconds": self.seconds,
            "passes_per_pair": self.passes_per_pair, "seconds_per_pair": self.seconds_per_pair,
            "cut": {"frames": self.cut_frames, "psnr": self.cut_psnr, "ssim": self.cut_ssim},
        }


@dataclass(frozen=True)
class EvalReport:
    """Everything one run measured."""

    options: EvalOptions
    items: int
    cut_items: int
    summaries: tuple[MethodSummary, ...]
    rows: tuple[Row, ...] = field(repr=False)
    engine: dict[str, str] | None = None  # device, dtype and model of the network method

    def to_json(self) -> dict[str, Any]:
        first = self.summaries[0]
        return {
            "protocol": self.options.protocol, "path": str(self.options.path), "engine": self.engine,
            "factor": self.options.factor if self.options.protocol == "video" else None,
            "scale": self.options.scale, "arbitrary_t": self.options.arbitrary_t,
            "items": self.items, "cut_items": self.cut_items,
            "psnr": first.psnr, "ssim": first.ssim, "ssim_rife": first.ssim_rife, "ie": first.ie,
            "methods": {s.method: s.to_json() for s in self.summaries},
        }


# -- options ---------------------------------------------------------------------------------------

def check_options(opts: EvalOptions) -> None:
    """Reject impossible option combinations with a one-line ``ConfigError``."""
    if opts.protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {opts.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not opts.methods:
        raise ConfigError("no method to evaluate")
    for name in opts.methods:
        if name not in METHODS:
            raise ConfigError(f"unknown method {name!r}; choose from {', '.join(METHODS)}")
    if len(set(opts.methods)) != len(opts.methods):
        raise ConfigError(f"a method is named twice in {', '.join(opts.methods)}")
    if opts.arbitrary_t not in ARBITRARY_T:
        raise ConfigError(f"arbitrary-t mode must be one of {', '.join(ARBITRARY_T)}, not {opts.arbitrary_t!r}")
    if opts.protocol == "video" and opts.factor not in VIDEO_FACTORS:
        raise ConfigError(f"factor must be one of {', '.join(map(str, VIDEO_FACTORS))}, not {opts.factor}")
    if opts.protocol != "video" and opts.factor != 2:
        raise ConfigError(f"factor applies to the video protocol only (the {opts.protocol} set is 2x)")
    if opts.limit is not None and opts.limit < 1:
        raise ConfigError(f"limit must be at least 1, not {opts.limit}")
    outputs = [(flag, Path(path)) for flag, path in (("--json", opts.json_path), ("--csv", opts.csv_path))
               if path is not None]
    if len(outputs) == 2 and same_file(outputs[0][1], outputs[1][1]):
        raise ConfigError(f"--json and --csv name the same file {outputs[0][1]}")
    for flag, path in outputs:
        refuse_input(path, [opts.path], flag)
        check_new_file(path, opts.overwrite, flag)


# -- running -----------------------------------------------------------------------------------------

def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return math.fsum(values) / len(values) if values else None


def _headline_psnr(protocol: str, rows: Sequence[Row]) -> float | None:
    if protocol != "hd":
        return _mean(r.psnr for r in rows)
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(r.group, []).append(r.psnr_y)
    return _mean(_mean(v) or 0.0 for v in groups.values()) if groups else None


def summarize(protocol: str, method: str, label: str, rows: Sequence[Row]) -> MethodSummary:
    """Averages of one method's rows; scene-cut rows apart."""
    clean = [r for r in rows if not r.cut]
    cuts = [r for r in rows if r.cut]
    item_cost = {r.item: (r.item_passes, r.item_seconds) for r in clean}
    ts = sorted({r.t for r in clean})
    return MethodSummary(
        method=method, label=label, frames=len(clean), pairs=len(item_cost),
        psnr=_headline_psnr(protocol, clean), ssim=_mean(r.ssim for r in clean),
        ssim_rife=_mean(r.ssim_rife for r in clean), ie=_mean(r.ie for r in clean),
        psnr_by_t=tuple((t, _mean(r.psnr for r in clean if r.t == t) or 0.0) for t in ts),
        passes=sum(p for p, _ in item_cost.values()), seconds=math.fsum(s for _, s in item_cost.values()),
        cut_frames=len(cuts), cut_psnr=_mean(r.psnr for r in cuts), cut_ssim=_mean(r.ssim for r in cuts),
    )


def evaluate_item(item: EvalItem, method: Method) -> list[Row]:
    """Run one method on one item and score every predicted frame."""
    ts = [target.t for target in item.targets]
    start = time.perf_counter()
    prediction = method.predict(item.frame0, item.frame1, ts)
    seconds = time.perf_counter() - start
    rows = []
    for target, frame in zip(item.targets, prediction.frames):
        s = score(frame, target.truth)
        rows.append(Row(method=method.name, item=item.name, group=item.group, target=target.label, t=target.t,
                        cut=item.cut, psnr=s.psnr, psnr_y=s.psnr_y, ssim=s.ssim, ssim_rife=s.ssim_rife, ie=s.ie,
                        item_passes=prediction.passes, item_seconds=seconds))
    return rows


def _label(name: str, opts: EvalOptions) -> str:
    if name != "network":
        return name
    return f"network ({opts.arbitrary_t})" if opts.protocol == "video" and opts.factor != 2 else "network"


def run_eval(opts: EvalOptions, out: TextIO, log: Callable[[str], None] | None = None) -> EvalReport:
    """Evaluate ``opts.methods`` on the dataset; print progress and a table to ``out`` (``log``:
    notices such as the one-time model download)."""
    check_options(opts)
    dataset = open_dataset(opts.protocol, Path(opts.path), opts.factor)
    engine = None
    if "network" in opts.methods:
        engine = make_engine(opts.engine, log)
    methods = [make_method(name, engine, opts.arbitrary_t, opts.scale) for name in opts.methods]
    total = dataset.count if opts.limit is None else min(opts.limit, dataset.count or opts.limit)
    print(_header(dataset, opts, total), file=out, flush=True)

    rows: list[Row] = []
    items = cut_items = 0
    for item in dataset:
        if opts.limit is not None and items >= opts.limit:
            break
        for method in methods:
            rows.extend(evaluate_item(item, method))
        items += 1
        cut_items += item.cut
        if items % PROGRESS_EVERY == 0:
            first = [r.psnr for r in rows if r.method == methods[0].name and not r.cut]
            print(f"  [{items}/{total if total is not None else '?'}] {methods[0].name} "
                  f"{_fmt(_mean(first), 2)} dB so far", file=out, flush=True)

    summaries = tuple(summarize(opts.protocol, m.name, _label(m.name, opts), [r for r in rows if r.method == m.name])
                      for m in methods)
    report = EvalReport(options=opts, items=items, cut_items=cut_items, summaries=summaries, rows=tuple(rows),
                        engine=engine.describe() if engine is not None else None)
    out.write(format_table(report))
    out.flush()
    if opts.json_path is not None:
        write_json(report, Path(opts.json_path))
    if opts.csv_path is not None:
        write_csv(report, Path(opts.csv_path))
    return report


# -- output ------------------------------------------------------------------------------------------

def _header(dataset: Dataset, opts: EvalOptions, total: int | None) -> str:
    extra = f", factor {opts.factor}" if opts.protocol == "video" else ""
    notes = f" ({'; '.join(dataset.notes)})" if dataset.notes else ""
    return (f"rife-eval: {opts.protocol} {dataset.root}{extra}{notes}: "
            f"{total if total is not None else '?'} items, methods {', '.join(opts.methods)}")


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_table(report: EvalReport) -> str:
    """The summary table printed at the end of a run."""
    opts = report.options
    psnr_name = "PSNR-Y" if opts.protocol == "hd" else "PSNR"
    ts = sorted({t for s in report.summaries for t, _ in s.psnr_by_t})
    by_t = len(ts) > 1
    show_ie = opts.protocol == "middlebury"
    head = f"{'method':<18}{'frames':>7}{psnr_name:>9}{'SSIM':>8}{'SSIM-R':>8}"
    if show_ie:
        head += f"{'IE':>7}"
    if by_t:
        head += "".join(f"{'t=' + str(t):>8}" for t in ts)
    head += f"{'passes/pair':>13}{'s/pair':>9}"
    lines = ["", head, "-" * len(head)]
    for s in report.summaries:
        line = (f"{s.label:<18}{s.frames:>7}{_fmt(s.psnr, 2):>9}{_fmt(s.ssim, 4):>8}"
                f"{_fmt(s.ssim_rife, 4):>8}")
        if show_ie:
            line += f"{_fmt(s.ie, 2):>7}"
        if by_t:
            values = dict(s.psnr_by_t)
            line += "".join(f"{_fmt(values.get(t), 2):>8}" for t in ts)
        line += f"{_fmt(s.passes_per_pair, 2):>13}{_fmt(s.seconds_per_pair, 3):>9}"
        lines.append(line)
    lines.append(f"{report.items} items ({report.items - report.cut_items} scored, "
                 f"{report.cut_items} scene-cut pairs apart); PSNR in dB, mean over frames"
                 + ("; PSNR-Y per sequence, then over sequences" if opts.protocol == "hd" else "")
                 + "; SSIM-R: the RIFE benchmark's 3-D SSIM")
    if report.cut_items:
        lines.append("scene-cut pairs: " + "; ".join(
            f"{s.label} {_fmt(s.cut_psnr, 2)} dB SSIM {_fmt(s.cut_ssim, 4)} ({s.cut_frames} frames)"
            for s in report.summaries))
    return "\n".join(lines) + "\n"


def write_json(report: EvalReport, path: Path) -> None:
    write_bytes(path, (json.dumps(report.to_json(), indent=1) + "\n").encode())


def write_csv(report: EvalReport, path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(CSV_FIELDS)
    for r in report.rows:
        writer.writerow([r.method, r.item, r.group, r.target, str(r.t), int(r.cut), f"{r.psnr:.4f}",
                         f"{r.psnr_y:.4f}", f"{r.ssim:.6f}", f"{r.ssim_rife:.6f}", f"{r.ie:.4f}",
                         r.item_passes, f"{r.item_seconds:.4f}"])
    write_bytes(path, text.getvalue().encode())
