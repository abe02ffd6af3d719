"""Fine-tune the published weights on the first 60 % of a clip; score the last 40 % before and after.

Run: ``python -m bench.finetune`` from the repository root (``--quick`` for a smoke run). For each of
``tests/data/bikes.mp4`` and ``tests/data/bigbuckbunny.mp4``:

1. the clip is cut with PyAV into a head (its first 60 % of frames) and a tail (the last 40 %),
   written losslessly (FFV1, RGB, Matroska) from the frames ``rife-eval`` itself decodes
   (``to_ndarray("rgb24")``): the tail holds exactly the pixels the whole clip has there, and
   ``rife-train`` (the player's decode) reads exactly those too (both checked);
2. ``rife-train --from-videos HEAD --init rife-hd-v3`` fine-tunes (a subprocess, as a user runs it;
   its JSON-lines log gives steps, samples/s and wall time);
3. ``rife-eval video TAIL`` (factor 2: every odd frame predicted from its neighbours) scores the
   published weights and the fine-tuned ones on the tail of the same clip (the same domain) and of
   the other clip (a regression check), with the 50/50 blend for reference.

Prints a table with the machine description and writes ``bench/results/finetune.json``. The tail is
never trained on: training triplets come from the head only (and the head's own held-back end).
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import machine_info, print_header, write_json  # noqa: E402
from rife_live.evaluate.runner import EvalOptions, run_eval  # noqa: E402
from rife_live.train.videos import decode_video  # noqa: E402

CLIPS = {"bikes": REPO / "tests" / "data" / "bikes.mp4", "bbb": REPO / "tests" / "data" / "bigbuckbunny.mp4"}
HEAD_SHARE = 0.6
LOSSLESS = {"codec": "ffv1", "pix_fmt": "bgr0"}  # RGB kept as RGB: no colour matrix on the way in or out
REGRESSION_LIMIT_DB = 0.1
# Sized for ~35 min in all on 2 shared cores (measured 0.33 samples/s at 224x224, batch 8, two threads,
# with the machine's load at 8): 640 crops of 160x160 per clip.
FULL = {"steps": 160, "batch": 4, "crop": 160, "lr": 2e-5}
QUICK = {"steps": 4, "batch": 2, "crop": 128, "lr": 2e-5}


def decode(path: Path) -> list[np.ndarray]:
    """Every frame as rife-eval's video protocol decodes it."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]


def write_lossless(path: Path, frames: list[np.ndarray], rate: int) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(LOSSLESS["codec"], rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], LOSSLESS["pix_fmt"]
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=LOSSLESS["pix_fmt"])
            frame.pts = index
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    for reader in (decode, lambda p: list(decode_video(p).frames)):
        back = reader(path)
        if len(back) != len(frames) or any(not np.array_equal(a, b) for a, b in zip(back, frames)):
            raise RuntimeError(f"{path} does not hold the exact frames it was written from")
    return path


def cut(name: str, source: Path, work: Path) -> dict[str, object]:
    frames = decode(source)
    with av.open(str(source)) as container:
        rate = int(round(float(container.streams.video[0].average_rate)))
    split = int(round(len(frames) * HEAD_SHARE))
    head = write_lossless(work / f"{name}-head.mkv", frames[:split], rate)
    tail = write_lossless(work / f"{name}-tail.mkv", frames[split:], rate)
    return {"frames": len(frames), "head_frames": split, "tail_frames": len(frames) - split,
            "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "head": head, "tail": tail}


def evaluate(tail: Path, model: str | None, methods: tuple[str, ...] = ("network",)) -> dict[str, float]:
    options = EvalOptions(protocol="video", path=tail, methods=methods, model=model)
    report = run_eval(options, io.StringIO())
    return {s.method: s.psnr for s in report.summaries}


def fine_tune(name: str, head: Path, work: Path, settings: dict[str, object]) -> dict[str, object]:
    out = work / f"tuned-{name}"
    cmd = [sys.executable, "-m", "rife_live.train", "--from-videos", str(head), "-o", str(out),
           "--init", "rife-hd-v3", "--steps", str(settings["steps"]), "--batch", str(settings["batch"]),
           "--crop", str(settings["crop"]), "--lr", str(settings["lr"]), "--val-split", "0.1", "--val-items", "8",
           "--val-every", str(settings["steps"]), "--log-every", "10", "--checkpoint-every", str(settings["steps"])]
    started = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"rife-train failed on {name}: {result.stderr.strip().splitlines()[-1:]}")
    log = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    start = next(r for r in log if r["kind"] == "start")
    end = next(r for r in log if r["kind"] == "end")
    vals = [r for r in log if r["kind"] == "val"]
    return {"model": str(out), "steps": end["step"], "batch": settings["batch"], "crop": settings["crop"],
            "lr": settings["lr"], "train_triplets": start["train_triplets"], "samples_per_s": end["samples_per_s"],
            "train_seconds": end["elapsed_s"], "wall_seconds": wall, "precision": start["precision"],
            "head_val_psnr": {"before": vals[0]["val_psnr"], "after": vals[-1]["val_psnr"],
                              "blend": start["val_blend_psnr"]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps at small crops (smoke run)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--crop", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    settings = dict(QUICK if args.quick else FULL)
    settings.update({k: v for k, v in (("steps", args.steps), ("lr", args.lr), ("batch", args.batch),
                                       ("crop", args.crop)) if v is not None})
    info = machine_info("cpu")
    print_header("fine-tune the published weights on a clip's first 60 %, score its last 40 %", info)
    results: dict[str, object] = {"machine": info, "settings": settings, "clips": {}, "runs": {}}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rife-finetune-") as tmp:
        work = Path(tmp)
        clips = {name: cut(name, path, work) for name, path in CLIPS.items()}
        eval_started = time.perf_counter()
        before = {name: evaluate(c["tail"], None, ("network", "blend")) for name, c in clips.items()}
        results["eval_seconds_published"] = time.perf_counter() - eval_started
        for name, clip in clips.items():
            results["clips"][name] = {k: v for k, v in clip.items() if k not in ("head", "tail")} | {
                "published_psnr": before[name]["network"], "blend_psnr": before[name]["blend"]}
        for name, clip in clips.items():
            run = fine_tune(name, clip["head"], work, settings)
            run["tail_psnr"] = {other: evaluate(c["tail"], run["model"])["network"] for other, c in clips.items()}
            del run["model"]
            results["runs"][name] = run
            print(f"# fine-tuned on {name}: {run['steps']} steps, {run['samples_per_s']:.2f} samples/s, "
                  f"{run['train_seconds']:.0f} s", flush=True)
    results["wall_seconds"] = time.perf_counter() - started
    print(f"\n{'trained on':<11}{'steps':>6}{'batch':>6}{'crop':>6}{'samples/s':>10}{'train s':>9}"
          f"{'scored on':>18}{'published':>10}{'tuned':>8}{'change':>8}{'blend':>8}")
    for name, run in results["runs"].items():
        for other in CLIPS:
            was = results["clips"][other]["published_psnr"]
            now = run["tail_psnr"][other]
            label = f"{other} tail" + (" (same)" if other == name else "")
            print(f"{name:<11}{run['steps']:>6}{run['batch']:>6}{run['crop']:>6}{run['samples_per_s']:>10.2f}"
                  f"{run['train_seconds']:>9.0f}{label:>18}{was:>10.2f}{now:>8.2f}{now - was:>+8.2f}"
                  f"{results['clips'][other]['blend_psnr']:>8.2f}")
    worst = min(run["tail_psnr"][o] - results["clips"][o]["published_psnr"]
                for n, run in results["runs"].items() for o in CLIPS if o != n)
    print(f"# PSNR in dB (rife-eval video, factor 2, mean over predicted frames, scene-cut pairs apart); "
          f"worst change on the other clip {worst:+.2f} dB (limit -{REGRESSION_LIMIT_DB} dB); "
          f"total wall {results['wall_seconds']:.0f} s")
    path = write_json("finetune", results, args.json)
    print(f"# wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
