"""models/cuda.py: CPU-runnable parts here (export colour conversion vs swscale, graph keying, the
CPU side of every interface) and the same assertions on a GPU (``@pytest.mark.cuda``, skipped with
"no CUDA device" elsewhere): golden match per dtype through the graph runner, graphs on == off,
pinned staging round trips, event timing, the conversion on the device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from av.video.reformatter import ColorRange, Colorspace

from rife_live.models.cuda import (UPLOAD_SLOTS, CudaEventTimer, GraphKey, GraphRunner, HostUploader, LruCache,
                                   WallTimer, graph_key, i420_planes, i420_size, pinned_frame, rgb_to_yuv420p,
                                   work_timer)
from rife_live.models.engine import Interpolator, to_uint8
from rife_live.models.settings import pad_multiple
from rife_live.sinks.encoder import even_padding, pad_edges

from test_engine import CASES, DTYPE_MAX_LOSS_DB, GOLDEN_MIN_DB, bbb_frames, psnr, read_png

NO_CUDA = "no CUDA device"
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
MAX_CODE_ERROR = 1  # export conversion vs the encoder's CPU conversion, in 8-bit code values
CROP = (200, 320)  # a small real-footage crop keeps CPU network runs short
SEED = 0


# ---------------------------------------------------------------- helpers

def swscale_i420(rgb: np.ndarray) -> list[np.ndarray]:
    """The encoder sink's CPU conversion (sinks/encoder.py ``write``): edge padding to even sides,
    then PyAV/swscale rgb24 -> yuv420p, BT.709 limited range. Planes Y, U, V as int arrays."""
    padded = pad_edges(rgb, *even_padding(rgb.shape[1], rgb.shape[0], "yuv420p"))
    frame = av.VideoFrame.from_ndarray(padded, format="rgb24").reformat(
        format="yuv420p", dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
    planes = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8, count=plane.line_size * plane.height)
        planes.append(rows.reshape(plane.height, plane.line_size)[:, :plane.width].astype(np.int32))
    return planes


def padded_input(rgb: np.ndarray, device: str = "cpu") -> torch.Tensor:
    """The frame as the engine holds it: (1,3,Hp,Wp) float32 in [0,1], zero-padded bottom/right."""
    height, width = rgb.shape[:2]
    multiple = pad_multiple(1.0)
    out = torch.zeros((1, 3, -(-height // multiple) * multiple, -(-width // multiple) * multiple), device=device)
    out[0, :, :height, :width] = torch.from_numpy(rgb).to(device).permute(2, 0, 1).float() / 255.0
    return out


def assert_i420_close(buffer: torch.Tensor, height: int, width: int, reference: list[np.ndarray]) -> None:
    planes = i420_planes(buffer.cpu().numpy(), height, width)
    for ours, theirs in zip(planes, reference):
        assert ours.shape == theirs.shape
        assert np.abs(ours.astype(np.int32) - theirs).max() <= MAX_CODE_ERROR


@pytest.fixture(scope="module")
def bbb40() -> np.ndarray:
    return bbb_frames([40])[40]


# ---------------------------------------------------------------- export conversion (CPU)

def test_yuv420p_matches_encoder_conversion_on_real_footage(bbb40):
    height, width = bbb40.shape[:2]
    buffer = rgb_to_yuv420p(padded_input(bbb40), height, width)
    assert buffer.dtype == torch.uint8 and buffer.shape == (i420_size(height, width)[2],)
    reference = swscale_i420(bbb40)
    assert_i420_close(buffer, height, width, reference)
    # Not only within one code value: almost all values are the same.
    y = i420_planes(buffer.numpy(), height, width)[0]
    assert np.mean(y == reference[0]) > 0.99


def test_yuv420p_odd_sizes_repeat_the_edge_like_the_encoder(bbb40):
    crop = np.ascontiguousarray(bbb40[101:342, 203:524])  # 321x241
    buffer = rgb_to_yuv420p(padded_input(crop), 241, 321)
    y, u, v = i420_planes(buffer.numpy(), 241, 321)
    assert y.shape == (242, 322) and u.shape == v.shape == (121, 161)
    assert_i420_close(buffer, 241, 321, swscale_i420(crop))


def test_yuv420p_rounds_and_clamps_float_frames_like_the_engine():
    """Unquantized values out of [0, 1] (a network output) convert as their ``to_uint8`` frame does."""
    rng = np.random.default_rng(SEED)
    x = torch.from_numpy(rng.uniform(-0.1, 1.1, (1, 3, 64, 96)).astype(np.float32))
    rgb = to_uint8(x, 62, 90).numpy()
    assert_i420_close(rgb_to_yuv420p(x, 62, 90), 62, 90, swscale_i420(rgb))


def test_i420_planes_rejects_a_wrong_buffer():
    with pytest.raises(ValueError, match="holds 6 bytes"):
        i420_planes(np.zeros(7, np.uint8), 2, 2)


# ---------------------------------------------------------------- graph keying (pure)

def test_graph_key_names_size_scale_dtype_and_checks_them():
    key = graph_key(768, 1280, 0.5, torch.float16)
    assert key == GraphKey(768, 1280, 0.5, "float16") and hash(key) == hash(GraphKey(768, 1280, 0.5, "float16"))
    assert graph_key(736, 1280, 1, "bfloat16") == GraphKey(736, 1280, 1.0, "bfloat16")
    assert len({graph_key(768, 1280, s, d) for s in (0.5, 1.0) for d in (torch.float16, torch.float32)}) == 4
    with pytest.raises(ValueError, match="flow scale 0.3"):
        graph_key(736, 1280, 0.3, torch.float32)
    with pytest.raises(ValueError, match="multiple of 64"):
        graph_key(736, 1280, 0.5, torch.float32)  # scale 0.5 pads to multiples of 64: 736 is not one


def test_lru_cache_builds_once_and_evicts_least_recently_used():
    built, evicted = [], []
    cache: LruCache[str, str] = LruCache(2, on_evict=lambda k, v: evicted.append((k, v)))

    def build(key: str) -> str:
        built.append(key)
        return key.upper()

    assert cache.get_or_build("a", build) == ("A", True)
    assert cache.get_or_build("a", build) == ("A", False)
    cache.get_or_build("b", build)
    cache.get_or_build("a", build)  # "b" is now the least recently used
    cache.get_or_build("c", build)
    assert built == ["a", "b", "c"] and evicted == [("b", "B")] and cache.keys() == ["a", "c"]
    cache.clear()
    assert len(cache) == 0 and evicted == [("b", "B"), ("a", "A"), ("c", "C")]
    with pytest.raises(ValueError):
        LruCache(0)


# ---------------------------------------------------------------- CPU side of each interface

@pytest.fixture(scope="module")
def fp32_cpu() -> Interpolator:
    return Interpolator(device="cpu", dtype="float32")


def test_runner_on_the_cpu_is_the_network(fp32_cpu):
    frames = bbb_frames([30, 32])
    a, b = (np.ascontiguousarray(frames[i][:CROP[0], :CROP[1]]) for i in (30, 32))
    runner = GraphRunner(fp32_cpu.net, fp32_cpu.dtype, "cpu", graphs=True, capacity=2)
    assert not runner.graphs  # graphs are a CUDA feature: the CPU runs the network directly
    p0, p1 = fp32_cpu.prepare(a, 1.0), fp32_cpu.prepare(b, 1.0)
    ours = runner.run(p0.tensor, p1.tensor, 1.0)
    state = fp32_cpu.flow(p0, p1, 1.0)
    assert torch.equal(ours.middle, state.middle) and torch.equal(ours.flow, state.flow)
    runner.run(fp32_cpu.prepare(a, 0.5).tensor, fp32_cpu.prepare(b, 0.5).tensor, 0.5)
    assert runner.cached_keys() == [graph_key(224, 320, 1.0, "float32"), graph_key(256, 320, 0.5, "float32")]
    assert runner.captures == 0


def test_uploader_on_the_cpu_copies_numpy_and_tensor_frames(bbb40):
    uploader = HostUploader("cpu")
    region = torch.zeros((3, 720, 1280))
    uploader.upload_into(region, bbb40)
    assert torch.equal(region, torch.from_numpy(bbb40).permute(2, 0, 1).float())
    payload = pinned_frame(720, 1280, pinned=False)
    payload.numpy()[:] = bbb40[::-1]
    uploader.upload_into(region, payload)
    assert torch.equal(region, torch.from_numpy(bbb40[::-1].copy()).permute(2, 0, 1).float())


def test_pinned_frame_is_a_plain_host_tensor_without_cuda():
    frame = pinned_frame(4, 6, pinned=False)
    assert frame.shape == (4, 6, 3) and frame.dtype == torch.uint8 and frame.device.type == "cpu"
    assert not frame.is_pinned()


def check_timer(timer, run_work) -> None:
    """Shared by the CPU and CUDA timers: one reading per measured span, in order, none twice."""
    assert timer.poll() == []
    with pytest.raises(RuntimeError, match="without begin"):
        timer.end()
    for _ in range(3):
        timer.begin()
        run_work()
        timer.end()
    with pytest.raises(RuntimeError, match="twice"):
        timer.begin()
        timer.begin()
    timer.end()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    readings = timer.poll()
    assert len(readings) == 4 and all(ms >= 0 for ms in readings)
    assert timer.poll() == []


def test_wall_timer_reads_each_span_once():
    x = torch.ones(64, 64)
    timer = work_timer("cpu")
    assert isinstance(timer, WallTimer)
    check_timer(timer, lambda: x @ x)


# ---------------------------------------------------------------- on a GPU

@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("folder,case", CASES, ids=[c["reference_mid"] for _, c in CASES])
def test_cuda_golden_through_graphs_per_dtype(folder, case):
    img0, img1 = read_png(folder / case["img0"]), read_png(folder / case["img1"])
    reference, truth = read_png(folder / case["reference_mid"]), read_png(folder / case["truth"])
    height, width = img0.shape[:2]
    results = {}
    for dtype in ("float32", "float16", "bfloat16"):
        engine = Interpolator(device="cuda", dtype=dtype)
        runner = GraphRunner(engine.net, engine.dtype, engine.device, graphs=True)
        p0, p1 = engine.prepare(img0, case["scale"]), engine.prepare(img1, case["scale"])
        out = runner.run(p0.tensor, p1.tensor, case["scale"])
        results[dtype] = to_uint8(out.middle, height, width).cpu().numpy()
        assert runner.captures == 1
    assert psnr(results["float32"], reference) >= GOLDEN_MIN_DB
    base = psnr(results["float32"], truth)
    for dtype in ("float16", "bfloat16"):
        assert psnr(results[dtype], truth) >= base - DTYPE_MAX_LOSS_DB


@pytest.mark.cuda
@needs_cuda
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cuda_graphs_on_and_off_give_identical_frames(dtype):
    frames = bbb_frames([30, 32, 34, 36])
    engine = Interpolator(device="cuda", dtype=dtype)
    graphed = GraphRunner(engine.net, engine.dtype, engine.device, graphs=True)
    eager = GraphRunner(engine.net, engine.dtype, engine.device, graphs=False)
    pairs = [(engine.prepare(frames[i], 1.0).tensor.clone(), engine.prepare(frames[i + 2], 1.0).tensor.clone())
             for i in (30, 34)]
    first = graphed.run(*pairs[0], 1.0)
    second = graphed.run(*pairs[1], 1.0)  # a replay: must not change the first result
    assert graphed.captures == 1
    for out, pair in ((first, pairs[0]), (second, pairs[1])):
        expected = eager.run(*pair, 1.0)
        for name in ("flow", "mask", "middle"):
            assert torch.equal(getattr(out, name), getattr(expected, name)), name
    assert not torch.equal(first.middle, second.middle)


@pytest.mark.cuda
@needs_cuda
def test_cuda_pinned_staging_round_trip(bbb40):
    payload = pinned_frame(720, 1280)
    assert payload.is_pinned()
    uploader = HostUploader("cuda")
    regions = [torch.zeros((3, 720, 1280), device="cuda") for _ in range(UPLOAD_SLOTS + 2)]
    sources = []
    for k, region in enumerate(regions):  # more frames than slots: every slot is reused
        frame = np.roll(bbb40, 7 * k, axis=1)
        if k % 2:
            payload.numpy()[:] = frame
            uploader.upload_into(region, payload)  # the caller's pinned frame: copied from directly
            payload.numpy()[:] = 0  # rewriting it right away must not reach the region
        else:
            uploader.upload_into(region, frame)
        sources.append(frame)
    for region, frame in zip(regions, sources):
        assert np.array_equal(region.permute(1, 2, 0).to(torch.uint8).cpu().numpy(), frame)


@pytest.mark.cuda
@needs_cuda
def test_cuda_event_timer_reads_each_span_once():
    x = torch.ones(1024, 1024, device="cuda")
    timer = work_timer("cuda")
    assert isinstance(timer, CudaEventTimer)
    check_timer(timer, lambda: x @ x)


@pytest.mark.cuda
@needs_cuda
def test_cuda_yuv420p_matches_cpu_and_encoder(bbb40):
    height, width = bbb40.shape[:2]
    x = padded_input(bbb40, "cuda")
    on_gpu = rgb_to_yuv420p(x, height, width)
    assert on_gpu.device.type == "cuda"
    assert_i420_close(on_gpu, height, width, swscale_i420(bbb40))
    on_cpu = rgb_to_yuv420p(x.cpu(), height, width)
    assert (on_gpu.cpu().int() - on_cpu.int()).abs().max() <= MAX_CODE_ERROR



@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_gpu_benchmark_says_no_cuda_device_and_succeeds():
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "bench.gpu"], cwd=repo, capture_output=True, text=True, timeout=120)
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "# GPU benchmark" and lines[1].startswith("# machine=") and lines[2:] == ["no CUDA device"]
