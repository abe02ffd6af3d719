"""HDR and 10-bit benchmarks (issue 14), three parts, each its own table and JSON:

- ``domain``: which values the network should see on HDR. An HDR10 clip made from real footage
  (bigbuckbunny through the known mapping of ``tests/media.sdr_to_hdr``: BT.709 -> BT.2020, SDR
  white at 203 nits, highlights up to 1000 nits, PQ, HEVC 10-bit) is interpolated at t = 1/2 from
  every other frame (rife-eval's video protocol, factor 2) with the network fed (a) the PQ code
  values as they are, (b) ``gamma``: PQ -> light -> (light / peak)^(1/2.4), BT.2020 primaries, and
  (c) ``sdr709``: the same in BT.709 primaries (the network's training domain). Each output goes
  back to PQ and is scored against the dropped frame: PSNR on the PQ code values and PSNR after
  the SDR rendition (``color.to_sdr``, bt.2390) that a viewer of an SDR screen sees.
- ``quality``: ``rife-eval video --factor 2`` on 10-bit sources (that HDR10 clip and a 10-bit SDR
  clip of the same footage): the 8-bit path (frames narrowed to 8 bits before the network, the
  output widened back: what the player did before) against the new path (16-bit frames end to
  end); both scored against the same 16-bit truth.
- ``speed``: ``rife-play CLIP -o out.mkv`` of an 8-bit 448x256 clip with this tree's code and with
  another tree's (``--before``, default ``/work/main``), alternately, as subprocesses; the hashes of
  the outputs' video packets are compared too (the 8-bit path must not change).

    python -m bench.hdr domain|quality|speed [--frames N] [--size WxH] [--repeats N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from bench.common import machine_info, print_header, write_json
from rife_live import color
from rife_live.colorinfo import ColorInfo
from rife_live.evaluate.datasets import open_dataset
from rife_live.evaluate.metrics import psnr, score
from rife_live.models.engine import Interpolator

ROOT = Path(__file__).resolve().parents[1]
HALF = Fraction(1, 2)
DEFAULT_SIZE = "448x256"
DEFAULT_FRAMES = 25  # 12 predicted frames per segment
SEGMENT_STARTS = (0, 66)  # two stretches of bigbuckbunny (slow pan; the rabbit moving)
DEFAULT_REPEATS = 3
DOMAINS = ("pq", "gamma", "sdr709")
SDR_GAMMA = color.SDR_GAMMA
U16 = 65535.0


def parse_size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


# -- clips --------------------------------------------------------------------------------------------

def make_clips(folder: Path, width: int, height: int, frames: int) -> dict[str, list[Path]]:
    sys.path.insert(0, str(ROOT))
    from tests import media

    clips: dict[str, list[Path]] = {"hdr10": [], "sdr10": []}
    for start in SEGMENT_STARTS:
        clips["hdr10"].append(media.make_hdr10_clip(folder / f"hdr10_{start}.mkv", width=width, height=height,
                                                    frames=frames, start=start))
        clips["sdr10"].append(media.make_10bit_sdr_clip(folder / f"sdr10_{start}.mkv", width=width, height=height,
                                                        frames=frames, start=start))
    return clips


def items(path: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(frame0, truth at t = 1/2, frame1) of the video protocol, factor 2, scene cuts left out."""
    return [(it.frame0, it.targets[0].truth, it.frame1) for it in open_dataset("video", path, 2) if not it.cut]


# -- the network's domain -----------------------------------------------------------------------------

def to_domain(code: np.ndarray, domain: str, peak: float) -> np.ndarray:
    """PQ code values (BT.2020) -> the values the network sees, in [0, 1]."""
    if domain == "pq":
        return code
    light = color.pq_eotf(code) / peak
    if domain == "sdr709":
        light = light @ color.gamut_matrix("bt2020", "bt709").T
    return np.sign(light) * np.power(np.abs(light), 1.0 / SDR_GAMMA)


def from_domain(values: np.ndarray, domain: str, peak: float) -> np.ndarray:
    if domain == "pq":
        return values
    light = np.sign(values) * np.power(np.abs(values), SDR_GAMMA)
    if domain == "sdr709":
        light = light @ color.gamut_matrix("bt709", "bt2020").T
    return color.pq_inverse_eotf(light * peak)


def quantize(values: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(values, 0.0, 1.0) * U16).astype(np.uint16)


def run_domain(args: argparse.Namespace, engine: Interpolator, clips: dict[str, list[Path]]) -> dict:
    hdr = ColorInfo(primaries="bt2020", transfer="smpte2084", matrix="bt2020", bit_depth=10)
    peak = hdr.peak_nits
    rows: dict[str, dict[str, list[float]]] = {d: {"psnr_pq": [], "psnr_sdr": []} for d in DOMAINS}
    triples = [t for path in clips["hdr10"] for t in items(path)]
    for frame0, truth, frame1 in triples:
        truth_sdr = color.to_sdr(color.code_values(truth), hdr)
        for domain in DOMAINS:  # interleaved: each triple runs every domain before the next one
            a = quantize(to_domain(color.code_values(frame0), domain, peak))
            b = quantize(to_domain(color.code_values(frame1), domain, peak))
            out = np.asarray(engine.interpolate(a, b, HALF, scale=args.scale))
            pq = quantize(from_domain(color.code_values(out), domain, peak))
            rows[domain]["psnr_pq"].append(psnr(pq, truth))
            sdr = color.to_sdr(color.code_values(pq), hdr)
            rows[domain]["psnr_sdr"].append(float(-10 * np.log10(max(np.mean((sdr - truth_sdr) ** 2), 1e-10))))
    summary = {d: {k: statistics.fmean(v) for k, v in r.items()} for d, r in rows.items()}
    base = summary["pq"]
    print(f"\n## network domain on HDR10 (PQ, BT.2020) from real footage: {len(triples)} predicted frames")
    print(f"{'domain':<10}{'PSNR PQ':>10}{'vs pq':>8}{'PSNR SDR':>10}{'vs pq':>8}")
    for d in DOMAINS:
        s = summary[d]
        print(f"{d:<10}{s['psnr_pq']:>10.3f}{s['psnr_pq'] - base['psnr_pq']:>+8.3f}"
              f"{s['psnr_sdr']:>10.3f}{s['psnr_sdr'] - base['psnr_sdr']:>+8.3f}")
    return {"frames": len(triples), "summary": summary, "per_frame": rows}


# -- 8-bit path vs 16-bit path ------------------------------------------------------------------------

def run_quality(args: argparse.Namespace, engine: Interpolator, clips: dict[str, list[Path]]) -> dict:
    results = {}
    print("\n## rife-eval video --factor 2 on 10-bit sources: 8-bit path vs the 16-bit path (same 16-bit truth)")
    print(f"{'clip':<8}{'frames':>7}{'8-bit PSNR':>12}{'16-bit PSNR':>13}{'gain dB':>9}{'8-bit SSIM':>12}"
          f"{'16-bit SSIM':>13}")
    for name, paths in clips.items():
        scores: dict[str, list] = {"8bit": [], "16bit": []}
        for path in paths:
            for frame0, truth, frame1 in items(path):
                narrow = [color.narrow_to_uint8(f) for f in (frame0, frame1)]
                out8 = np.asarray(engine.interpolate(*narrow, HALF, scale=args.scale))
                out16 = np.asarray(engine.interpolate(frame0, frame1, HALF, scale=args.scale))
                scores["8bit"].append(score(out8.astype(np.uint16) * np.uint16(257), truth))
                scores["16bit"].append(score(out16, truth))
        mean = {k: {"psnr": statistics.fmean(s.psnr for s in v), "ssim": statistics.fmean(s.ssim for s in v)}
                for k, v in scores.items()}
        results[name] = {"frames": len(scores["8bit"]), **mean}
        print(f"{name:<8}{len(scores['8bit']):>7}{mean['8bit']['psnr']:>12.3f}{mean['16bit']['psnr']:>13.3f}"
              f"{mean['16bit']['psnr'] - mean['8bit']['psnr']:>+9.3f}{mean['8bit']['ssim']:>12.5f}"
              f"{mean['16bit']['ssim']:>13.5f}")
    return results


# -- 8-bit export speed, before and after --------------------------------------------------------------

def run_speed(args: argparse.Namespace, folder: Path) -> dict:
    sys.path.insert(0, str(ROOT))
    from tests import media

    width, height = parse_size(args.size)
    clip = media.make_clip(folder / "eight.mp4", width=width, height=height, frames=args.frames)
    trees = {"before": Path(args.before).resolve(), "after": ROOT}
    python = sys.executable
    times: dict[str, list[float]] = {k: [] for k in trees}
    inside: dict[str, list[float]] = {k: [] for k in trees}  # the export's own seconds (its stats JSON)
    rest: dict[str, list[float]] = {k: [] for k in trees}  # ... less the network passes and syntheses
    cpu: dict[str, list[float]] = {k: [] for k in trees}  # CPU seconds of the command (user + system): less
    #                                                       sensitive than wall time to other processes
    hashes: dict[str, set[str]] = {k: set() for k in trees}
    for round_no in range(args.repeats + 1):  # round 0 warms caches (weights, page cache) and is dropped
        order = list(trees.items()) if round_no % 2 else list(trees.items())[::-1]  # ABBA: no order bias
        for name, tree in order:
            out, stats = folder / f"{name}.mkv", folder / f"{name}.json"
            env = dict(os.environ, PYTHONPATH=str(tree))
            command = [python, "-c", "import sys; from rife_live.cli import play_main; sys.exit(play_main())",
                       str(clip), "-o", str(out), "-y", "--no-audio", "--scale", "1", "--stats-json", str(stats)]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            if done.returncode != 0:
                raise SystemExit(f"{name}: rife-play failed: {done.stderr.strip()}")
            hashes[name].add(video_digest(out))
            if round_no:
                times[name].append(elapsed)
                record = json.loads(stats.read_text())
                interp = record["interpolate"]
                network = interp["network_ms_per_pass"] * interp["network_passes"] / 1000
                synth = (interp["synthesize_ms_per_frame"] or 0) * interp["kinds"].get("interp", 0) / 1000
                inside[name].append(record["elapsed_s"])
                cpu[name].append(cpu_s)
                rest[name].append(record["elapsed_s"] - network - synth)
    median = {k: statistics.median(v) for k, v in times.items()}
    median_inside = {k: statistics.median(v) for k, v in inside.items()}
    median_rest = {k: statistics.median(v) for k, v in rest.items()}
    median_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    paired = [a / b for a, b in zip(times["after"], times["before"])]  # within a round
    ratio = median["after"] / median["before"]
    ratio_inside = median_inside["after"] / median_inside["before"]
    print(f"\n## 8-bit export speed ({width}x{height}, {args.frames} frames -> {2 * args.frames}, "
          f"{args.repeats} interleaved runs each, wall time of the whole command)")
    print(f"{'tree':<8}{'command s':>10}{'export s':>10}{'not network s':>15}{'CPU s':>8}  runs (command s)")
    for name in trees:
        print(f"{name:<8}{median[name]:>10.2f}{median_inside[name]:>10.2f}{median_rest[name]:>15.2f}"
              f"{median_cpu[name]:>8.2f}  {' '.join(f'{t:.2f}' for t in times[name])}")
    same = hashes["before"] == hashes["after"] and len(hashes["after"]) == 1
    print(f"after / before (medians): command {ratio:.3f}, export {ratio_inside:.3f}, not network "
          f"{median_rest['after'] / median_rest['before']:.3f}, CPU {median_cpu['after'] / median_cpu['before']:.3f}; "
          f"paired by round: median "
          f"{statistics.median(paired):.3f} (range {min(paired):.3f}-{max(paired):.3f})")
    print(f"video packets identical: {same} ({', '.join(h[:12] for h in hashes['after'])})")
    return {"clip": f"{width}x{height}x{args.frames}", "trees": {k: str(v) for k, v in trees.items()},
            "times_s": times, "median_s": median, "ratio": ratio, "export_s": inside,
            "median_export_s": median_inside, "ratio_export": ratio_inside, "not_network_s": rest,
            "median_not_network_s": median_rest, "cpu_s": cpu, "median_cpu_s": median_cpu, "paired_ratios": paired, "identical_output": same,
            "hashes": {k: sorted(v) for k, v in hashes.items()}}


def video_digest(path: Path) -> str:
    """sha256 of a file's video packets (Matroska writes a random segment UID and a date into every
    file, so whole-file hashes differ between identical encodes)."""
    digest = hashlib.sha256()
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            if packet.size:
                digest.update(bytes(packet))
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hdr", description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=("domain", "quality", "speed"))
    parser.add_argument("--size", default=DEFAULT_SIZE)
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS, help="speed: interleaved runs per tree")
    parser.add_argument("--before", default="/work/main", help="speed: the tree measured as 'before'")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rife-hdr-bench-") as tmp:
        folder = Path(tmp)
        if args.part == "speed":
            info = machine_info("cpu")
            print_header(f"hdr {args.part}", info)
            payload = run_speed(args, folder)
        else:
            engine = Interpolator()
            info = {**machine_info(engine.device.type), "dtype": engine.describe()["dtype"]}
            print_header(f"hdr {args.part}", info)
            width, height = parse_size(args.size)
            clips = make_clips(folder, width, height, args.frames)
            run = run_domain if args.part == "domain" else run_quality
            payload = run(args, engine, clips)
    path = write_json(f"hdr_{args.part}", {"machine": info, "args": vars(args), **payload})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
