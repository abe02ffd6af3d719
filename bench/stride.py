"""Stride or scale: which way should live playback give up quality when the CPU is short?

Two ways to spend less per source pair: a coarser flow scale at every pair, or a finer scale at a
steady stride (the network on p of q pairs; the outputs of the others show the earlier source
frame, as a live miss does). This measures both on real footage, at equal cost:

- **cost**: one network pass plus one synthesis per pair at each scale, at the clip's size,
  timed interleaved through the engine (median);
- **quality**: the video protocol of ``rife-eval`` (every other frame dropped and predicted back,
  PSNR of each predicted frame against the dropped one; scene-cut pairs left out, as the live
  player repeats across cuts anyway). A stride's score mixes the network's frames on the pairs
  it takes (evenly, as ``pipeline.pacing`` takes them) with repeated frames on the others.

    python -m bench.stride [--size 448x256] [--clips bbb,bikes] [--repeats 15]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from fractions import Fraction
from pathlib import Path

import av

from bench.common import interleaved_times, machine_info, print_header, summary, write_json
from rife_live.evaluate.runner import EvalOptions, run_eval
from rife_live.models.adaptive import STRIDES
from rife_live.models.engine import Interpolator

REPO = Path(__file__).resolve().parents[1]
CLIPS = {"bbb": REPO / "tests" / "data" / "bigbuckbunny.mp4", "bikes": REPO / "tests" / "data" / "bikes.mp4"}
SCALES = (0.25, 0.5, 1.0)
CACHE = Path("/tmp/rife-live-bench")


def scaled_clip(name: str, width: int, height: int) -> Path:
    """The clip at ``width`` x ``height``, losslessly (FFV1), so the truth is the scaled footage itself."""
    path = CACHE / f"stride_{name}_{width}x{height}.mkv"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part.mkv")
    with av.open(str(CLIPS[name])) as src, av.open(str(tmp), "w") as out:
        stream = out.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv444p"
        for index, frame in enumerate(src.decode(video=0)):
            image = frame.to_ndarray(width=width, height=height, format="rgb24")
            new = av.VideoFrame.from_ndarray(image, format="rgb24")
            new.pts, new.time_base = index, Fraction(1, 25)
            out.mux(stream.encode(new))
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


def per_pair_psnr(clip: Path, scale: float) -> tuple[list[float], list[float]]:
    """PSNR per non-cut pair (one predicted frame each, t = 1/2): the network at ``scale``, and a repeat."""
    report = run_eval(EvalOptions(protocol="video", path=clip, methods=("network", "repeat"), scale=scale),
                      io.StringIO())
    net = [r.psnr for r in report.rows if r.method == "network" and not r.cut]
    rep = [r.psnr for r in report.rows if r.method == "repeat" and not r.cut]
    return net, rep


def stride_mix(net: list[float], rep: list[float], share: Fraction) -> float:
    """Mean PSNR when the network runs on ``share`` of the pairs, evenly, the others repeating."""
    phase, scores = Fraction(0), []
    for good, bad in zip(net, rep):
        phase += share
        if phase >= 1:
            phase -= 1
            scores.append(good)
        else:
            scores.append(bad)
    return statistics.mean(scores)


def pair_costs(engine: Interpolator, clip: Path, repeats: int) -> dict[float, float]:
    """Median ms of one pass + one synthesis per pair at each scale (interleaved)."""
    with av.open(str(clip)) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(2), container.decode(video=0))]
    a, b = frames

    def one(scale: float) -> None:
        state = engine.flow(engine.prepare(a, scale), engine.prepare(b, scale), scale)
        engine.synthesize(state, Fraction(1, 2))

    times = interleaved_times({s: (lambda s=s: one(s)) for s in SCALES}, repeats, warmup=2)
    return {s: summary(t)["median_ms"] for s, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="448x256")
    parser.add_argument("--clips", default="bbb,bikes")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", type=Path, default=None, help="default bench/results/stride.json")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    info = machine_info("cpu")
    print_header(f"stride or scale at {args.size}: quality at equal cost", info)
    engine = Interpolator(log=lambda m: print(f"# {m}", file=sys.stderr))
    results = {}
    for name in args.clips.split(","):
        clip = scaled_clip(name, width, height)
        costs = pair_costs(engine, clip, args.repeats)
        scores = {s: per_pair_psnr(clip, s) for s in SCALES}
        rep = scores[SCALES[0]][1]
        options = []
        for scale in SCALES:
            net = scores[scale][0]
            for share in (Fraction(1),) + STRIDES:
                options.append({"scale": scale, "stride": str(share), "cost_ms": costs[scale] * float(share),
                                "psnr": stride_mix(net, rep, share)})
        base = costs[SCALES[0]]
        print(f"\n## {name} ({len(rep)} pairs without a cut); pass + synthesis per pair: "
              + ", ".join(f"{s:g}: {c:.1f} ms" for s, c in costs.items()) + f"; repeat {statistics.mean(rep):.2f} dB")
        print(f"{'scale':>5} {'stride':>6} {'cost vs 0.25':>12} {'PSNR dB':>8}")
        for o in sorted(options, key=lambda o: o["cost_ms"]):
            print(f"{o['scale']:>5g} {o['stride']:>6} {o['cost_ms'] / base:>11.2f}x {o['psnr']:>8.2f}")
        results[name] = {"clip": str(clip), "pairs": len(rep), "pass_ms": costs, "repeat_psnr": statistics.mean(rep),
                         "options": options}
    out = write_json("stride", {"machine": info, "size": args.size, "clips": results}, args.json)
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
