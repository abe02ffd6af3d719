"""GPU benchmark: engine ms per frame on CUDA by size, flow scale and dtype, CUDA graphs on and off;
and the presenter's upload of a frame that is on the GPU, through CUDA-GL interop or through host
memory.

Engine rows time one network pass plus the t = 1/2 frame as uint8 on the device (what the
presenter or the export conversion takes), graphs on and off interleaved in one run. Frames are
real footage (bigbuckbunny) resized on the device to each size. Presenter rows need an X display
whose OpenGL is NVIDIA's (Xvfb with ``__GLX_VENDOR_LIBRARY_NAME=nvidia``); elsewhere they are
skipped with the reason. On a machine without CUDA it prints the header, "no CUDA device" and
exits 0. Prints a table and writes JSON (``bench/results/gpu.json``).

    python -m bench.gpu [--sizes 1280x720,1920x1080,3840x2160] [--scales 1,0.5,0.25] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from bench.common import interleaved_times, machine_info, print_header, summary, write_json

DEFAULT_SIZES = "1280x720,1920x1080,3840x2160"
DEFAULT_SCALES = "1,0.5,0.25"
DTYPES = ("float32", "float16", "bfloat16")
BBB = Path(__file__).resolve().parents[1] / "tests" / "data" / "bigbuckbunny.mp4"
BBB_PAIR = (60, 62)


def bbb_pair() -> tuple[np.ndarray, np.ndarray]:
    wanted, found = set(BBB_PAIR), {}
    with av.open(str(BBB)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                found[i] = frame.to_ndarray(format="rgb24")
            if len(found) == len(wanted):
                break
    return found[BBB_PAIR[0]], found[BBB_PAIR[1]]


def resized(frame: np.ndarray, width: int, height: int) -> torch.Tensor:
    """A HxWx3 uint8 CUDA frame of the given size (bilinear from the footage)."""
    x = torch.from_numpy(frame).cuda().permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x[0].round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous()


def engine_rows(sizes: list[tuple[int, int]], scales: list[float], repeats: int) -> list[dict[str, object]]:
    from rife_live.models.cuda import GraphRunner
    from rife_live.models.engine import Interpolator, to_uint8

    a_host, b_host = bbb_pair()
    rows = []
    print(f"{'size':>9} {'scale':>5} {'dtype':>8} {'graphs':>6} {'ms/frame':>9} {'min ms':>7} {'speedup':>7}")
    for dtype in DTYPES:
        engine = Interpolator(device="cuda", dtype=dtype, log=lambda m: print(m, file=sys.stderr))
        runners = {on: GraphRunner(engine.net, engine.dtype, engine.device, graphs=on) for on in (False, True)}
        for width, height in sizes:
            a, b = resized(a_host, width, height), resized(b_host, width, height)
            for scale in scales:
                p0 = engine.prepare(a, scale).tensor.clone()
                p1 = engine.prepare(b, scale).tensor.clone()

                def frame(on: bool) -> torch.Tensor:
                    return to_uint8(runners[on].run(p0, p1, scale).middle, height, width)

                times = interleaved_times({on: (lambda on=on: frame(on)) for on in (False, True)}, repeats,
                                          sync=torch.cuda.synchronize)
                eager_ms = summary(times[False])["median_ms"]
                for on in (False, True):
                    s = summary(times[on])
                    row = dict(kind="engine", size=f"{width}x{height}", scale=scale, dtype=dtype, graphs=on, **s,
                               speedup=eager_ms / s["median_ms"])
                    rows.append(row)
                    print(f"{row['size']:>9} {scale:>5g} {dtype:>8} {'on' if on else 'off':>6} "
                          f"{s['median_ms']:9.2f} {s['min_ms']:7.2f} {row['speedup']:6.2f}x")
        for runner in runners.values():
            runner.clear()
        del engine, runners
        torch.cuda.empty_cache()
    return rows


def presenter_rows(sizes: list[tuple[int, int]], repeats: int) -> list[dict[str, object]]:
    """CUDA frame -> GL texture: host path (device->host copy + glTexSubImage2D) vs interop."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("# presenter: skipped (no display; run under Xvfb with __GLX_VENDOR_LIBRARY_NAME=nvidia)")
        return []
    from rife_live.present.interop import available, open_interop
    from rife_live.present.renderer import Renderer
    from rife_live.present.window import WindowConfig, open_window

    a_host, _ = bbb_pair()
    rows = []
    with open_window(WindowConfig(width=640, height=360, visible=False, swap_interval=0)):
        from OpenGL import GL

        ok, reason = available(GL)
        if not ok:
            print(f"# presenter: interop rows skipped ({reason})")
        renderer = Renderer()
        interop = open_interop(GL, lambda line: print(f"# {line}")) if ok else None
        try:
            print(f"{'size':>9} {'path':>8} {'ms/frame':>9} {'min ms':>7}")
            for width, height in sizes:
                frame = resized(a_host, width, height)

                def host() -> None:
                    renderer.upload(frame.cpu().numpy())
                    GL.glFinish()

                fns = {"host": host}
                if interop is not None:
                    def direct() -> None:
                        interop.upload(frame)
                        GL.glFinish()

                    fns["interop"] = direct
                times = interleaved_times(fns, repeats, sync=torch.cuda.synchronize)
                for path, samples in times.items():
                    s = summary(samples)
                    rows.append(dict(kind="presenter", size=f"{width}x{height}", path=path, **s))
                    print(f"{f'{width}x{height}':>9} {path:>8} {s['median_ms']:9.2f} {s['min_ms']:7.2f}")
        finally:
            if interop is not None:
                interop.close()
            renderer.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=DEFAULT_SIZES)
    parser.add_argument("--scales", default=DEFAULT_SCALES)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-presenter", action="store_true", help="engine rows only")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    info = machine_info("cuda" if torch.cuda.is_available() else "none")
    print_header("GPU benchmark", info)
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 0
    sizes = [tuple(int(v) for v in size.lower().split("x")) for size in args.sizes.split(",")]
    scales = [float(s) for s in args.scales.split(",")]
    rows = engine_rows(sizes, scales, args.repeats)
    if not args.no_presenter:
        rows += presenter_rows(sizes, args.repeats)
    out = write_json("gpu", {"machine": info, "rows": rows}, args.json)
    print(f"# wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
