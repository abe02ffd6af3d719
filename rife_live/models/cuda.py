"""CUDA pieces of the engine and of export, each behind a small class or function the CPU path shares.

- ``pinned_frame``: a ring payload for host frames (page-locked on CUDA, plain memory on the CPU).
- ``HostUploader``: host HxWx3 uint8 frames into a network input region; on CUDA the host->device
  copy runs on its own stream through pinned staging slots, guarded by events, so it overlaps the
  network pass already queued on the compute stream.
- ``GraphRunner``: the network pass, replayed from a CUDA graph captured once per (padded size,
  scale, dtype) (static input/output buffers, warmed on first use); with graphs off, or on the
  CPU, it calls the network directly. ``GraphKey``/``LruCache`` are its pure keying logic.
- ``work_timer``: per-pair work time for the adaptive-scale controller: CUDA events on CUDA
  (read without stalling the GPU), ``time.perf_counter`` on the CPU; one interface.
- ``rgb_to_yuv420p``: export's colour conversion on the tensor's device (BT.709 limited range,
  4:2:0 with swscale's chroma filter), so a CUDA export copies one small I420 buffer to the host.

Everything here is used from one thread at a time (the interpolation thread owns the engine), and
nothing touches CUDA on import. The CUDA paths follow the PyTorch CUDA semantics documentation
(streams and events, pinned memory, CUDA graphs: warm-up on a side stream, static buffers).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Protocol, TypeVar, Union

import numpy as np
import torch
import torch.nn.functional as F

from rife_live.models.ifnet import IFNet, IFNetOutput, base_grid, flow_to_grid_units
from rife_live.models.settings import FLOW_SCALES, pad_multiple

UPLOAD_SLOTS = 3  # pinned + device staging slots of HostUploader (in flight at once)
GRAPH_CACHE_SIZE = 4  # captured graphs kept (as the engine's per-resolution cache)
GRAPH_WARMUP_RUNS = 3  # eager runs on a side stream before capture (PyTorch's documented recipe)
GRAPH_CAPTURE_MODE = "thread_local"  # other threads (decode, presenter) may use CUDA meanwhile
TIMER_SLOTS = 8  # work-time measurements that may be in flight on the GPU
RGB_CHANNELS = 3

# BT.709 luma coefficients and 8-bit limited range (as the encoder sink tags its output)
BT709_KR = 0.2126
BT709_KB = 0.0722
LIMITED_Y_OFFSET, LIMITED_Y_SPAN = 16.0, 219.0
LIMITED_C_OFFSET, LIMITED_C_SPAN = 128.0, 224.0
BYTE_MAX = 255.0
# swscale's default rgb24 -> yuv420p chroma filter (measured on FFmpeg 8.1, see tests/test_cuda.py):
# each horizontal pair averaged, then a vertical [1, 3, 3, 1] / 8 window over rows 2k-1 .. 2k+2.
CHROMA_ROW_TAPS = (1.0 / 8.0, 3.0 / 8.0, 3.0 / 8.0, 1.0 / 8.0)

HostFrame = Union[np.ndarray, torch.Tensor]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def cuda_device(device: torch.device | str) -> bool:
    """Whether ``device`` is a CUDA device."""
    return torch.device(device).type == "cuda"


# ---------------------------------------------------------------- pinned ring payloads

def pinned_frame(height: int, width: int, channels: int = RGB_CHANNELS, pinned: bool | None = None,
                 dtype: torch.dtype = torch.uint8) -> torch.Tensor:
    """A HxWxC uint8 (or ``dtype``) host tensor for a ring slot: page-locked when CUDA is available (or ``pinned``).

    The decoder writes into ``frame.numpy()`` in place; a pinned slot lets ``HostUploader`` copy
    it to the GPU asynchronously. Use as ``Ring(n, lambda i: pinned_frame(h, w))``.
    """
    if pinned is None:
        pinned = torch.cuda.is_available()
    return torch.empty((height, width, channels), dtype=dtype, pin_memory=pinned)


# ---------------------------------------------------------------- host -> device uploads

class HostUploader:
    """Writes HxWx3 uint8 frames into (3,H,W) regions of network inputs on ``device``.

    ``upload_into(region, frame)`` leaves ``region`` holding the frame's values (converted to the
    region's dtype; the caller scales them) for work queued after it on the current stream, and
    the caller may rewrite ``frame`` as soon as it returns, as on the CPU. On CUDA a host frame
    goes through a pinned slot and a uint8 device slot on the copy stream:

    1. the copy stream waits for the compute stream to be done with the device slot (``freed``);
    2. host -> pinned (skipped for a pinned tensor), then pinned -> device slot, async (``copied``);
    3. the compute stream waits for ``copied`` and converts the slot into ``region`` (``freed``).

    A pinned slot is refilled only after its previous copy finished (``copied`` synchronized); a
    caller's own pinned tensor is copied from directly and waited for before returning. Frames
    already on the device are converted on the current stream.
    """

    def __init__(self, device: torch.device | str, slots: int = UPLOAD_SLOTS) -> None:
        self.device = torch.device(device)
        self._cuda = cuda_device(self.device)
        self._slots = slots
        self._next = 0
        self._pinned: list[torch.Tensor | None] = [None] * slots
        self._staged: list[torch.Tensor | None] = [None] * slots
        if self._cuda:
            self._stream = torch.cuda.Stream(self.device)
            self._copied = [torch.cuda.Event(blocking=True) for _ in range(slots)]
            self._freed = [torch.cuda.Event() for _ in range(slots)]

    def upload_into(self, region: torch.Tensor, frame: HostFrame) -> None:
        src = torch.from_numpy(frame) if isinstance(frame, np.ndarray) else frame
        if not self._cuda or src.device.type == "cuda":
            region.copy_(src.permute(2, 0, 1), non_blocking=True)
            return
        i = self._next
        self._next = (i + 1) % self._slots
        own = not src.is_pinned()
        if own:
            self._copied[i].synchronize()  # the slot's previous host->device copy has finished
            pinned = self._pinned[i] = _fit(self._pinned[i], src,
                                            lambda: pinned_frame(*src.shape, pinned=True, dtype=src.dtype))
            pinned.copy_(src)
        else:
            pinned = src
        staged = self._staged[i] = _fit(self._staged[i], src,
                                        lambda: torch.empty(src.shape, dtype=src.dtype, device=self.device))
        compute = torch.cuda.current_stream(self.device)
        with torch.cuda.stream(self._stream):
            self._stream.wait_event(self._freed[i])
            staged.copy_(pinned, non_blocking=True)
            self._copied[i].record(self._stream)
        compute.wait_event(self._copied[i])
        region.copy_(staged.permute(2, 0, 1))
        self._freed[i].record(compute)
        if not own:
            self._copied[i].synchronize()  # the caller may rewrite its pinned frame after this


def _fit(tensor: torch.Tensor | None, like: torch.Tensor, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``tensor`` when it has ``like``'s shape and dtype (uint8 or uint16 frames), else a new one."""
    return tensor if tensor is not None and tensor.shape == like.shape and tensor.dtype == like.dtype else make()


# ---------------------------------------------------------------- graph keying (pure)

@dataclass(frozen=True)
class GraphKey:
    """What a captured network pass depends on: padded input size, flow scale, compute dtype."""

    padded_h: int
    padded_w: int
    scale: float
    dtype: str  # torch dtype name, e.g. "float16"


def graph_key(padded_h: int, padded_w: int, scale: float, dtype: torch.dtype | str) -> GraphKey:
    """The key of one capture; ValueError for a scale or size the network cannot take."""
    scale = float(scale)
    if scale not in FLOW_SCALES:
        raise ValueError(f"flow scale {scale:g} is not one of {FLOW_SCALES}")
    multiple = pad_multiple(scale)
    if padded_h <= 0 or padded_w <= 0 or padded_h % multiple or padded_w % multiple:
        raise ValueError(f"padded size {padded_w}x{padded_h} is not a positive multiple of {multiple} "
                         f"(flow scale {scale:g})")
    name = str(dtype).removeprefix("torch.")
    return GraphKey(int(padded_h), int(padded_w), scale, name)


class LruCache(Generic[K, V]):
    """At most ``capacity`` values, built on first use, least recently used evicted first."""

    def __init__(self, capacity: int, on_evict: Callable[[K, V], None] = lambda k, v: None) -> None:
        if capacity < 1:
            raise ValueError(f"cache capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._on_evict = on_evict
        self._items: OrderedDict[K, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[K]:
        """Keys from least to most recently used."""
        return list(self._items)

    def get_or_build(self, key: K, build: Callable[[K], V]) -> tuple[V, bool]:
        """The value for ``key`` and whether it was built by this call."""
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key], False
        value = build(key)
        self._items[key] = value
        while len(self._items) > self.capacity:
            old_key, old_value = self._items.popitem(last=False)
            self._on_evict(old_key, old_value)
        return value, True

    def clear(self) -> None:
        while self._items:
            key, value = self._items.popitem(last=False)
            self._on_evict(key, value)


# ---------------------------------------------------------------- the network pass

@dataclass
class _Captured:
    """One captured pass: its graph and the static tensors the graph reads and writes."""

    graph: object  # torch.cuda.CUDAGraph, or None when graphs are off
    img0: torch.Tensor  # (1,3,Hp,Wp) float32 static inputs
    img1: torch.Tensor
    grid: torch.Tensor
    units: torch.Tensor
    out: IFNetOutput | None  # static outputs of the capture


class GraphRunner:
    """Runs ``net`` on padded (1,3,Hp,Wp) float32 pairs; replays CUDA graphs when ``graphs``.

    ``run(img0, img1, scale)`` returns an ``IFNetOutput`` whose tensors belong to the caller (a
    replay's static outputs are cloned, so a later replay never changes an earlier result). The
    first pair of each ``GraphKey`` warms the network up on a side stream and captures it; later
    pairs copy into the static inputs and replay. With ``graphs`` off, or on the CPU, it runs the
    network directly with a per-size warp grid (the same arithmetic, for comparisons).
    """

    def __init__(self, net: IFNet, dtype: torch.dtype, device: torch.device | str, graphs: bool = True,
                 capacity: int = GRAPH_CACHE_SIZE) -> None:
        self.net = net
        self.dtype = dtype
        self.device = torch.device(device)
        self.graphs = graphs and cuda_device(self.device)
        self.captures = 0  # graphs captured so far (for tests and benchmarks)
        self._cache: LruCache[GraphKey, _Captured] = LruCache(capacity)

    @torch.inference_mode()
    def run(self, img0: torch.Tensor, img1: torch.Tensor, scale: float) -> IFNetOutput:
        key = graph_key(int(img0.shape[-2]), int(img0.shape[-1]), scale, self.dtype)
        entry, _ = self._cache.get_or_build(key, self._capture if self.graphs else self._plain)
        if entry.graph is None:
            return self.net(img0, img1, key.scale, grid=entry.grid, units=entry.units)
        entry.img0.copy_(img0)
        entry.img1.copy_(img1)
        entry.graph.replay()  # type: ignore[attr-defined]
        assert entry.out is not None
        return IFNetOutput(flow=entry.out.flow.clone(), mask=entry.out.mask.clone(),
                           middle=entry.out.middle.clone())

    def _plain(self, key: GraphKey) -> _Captured:
        f32 = torch.float32
        shape = (1, RGB_CHANNELS, key.padded_h, key.padded_w)
        return _Captured(graph=None, img0=torch.zeros(shape, device=self.device, dtype=f32),
                         img1=torch.zeros(shape, device=self.device, dtype=f32),
                         grid=base_grid(2, key.padded_h, key.padded_w, self.device, f32),
                         units=flow_to_grid_units(key.padded_h, key.padded_w, self.device, f32), out=None)

    def _capture(self, key: GraphKey) -> _Captured:
        entry = self._plain(key)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_RUNS):
                self.net(entry.img0, entry.img1, key.scale, grid=entry.grid, units=entry.units)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, capture_error_mode=GRAPH_CAPTURE_MODE):
            entry.out = self.net(entry.img0, entry.img1, key.scale, grid=entry.grid, units=entry.units)
        entry.graph = graph
        self.captures += 1
        return entry

    def cached_keys(self) -> list[GraphKey]:
        return self._cache.keys()

    def clear(self) -> None:
        """Drop every capture (their static buffers and graph memory pools go with them)."""
        self._cache.clear()


# ---------------------------------------------------------------- work timing

class WorkTimer(Protocol):
    """Time of the work queued between ``begin`` and ``end``; read later with ``poll``."""

    def begin(self) -> None: ...

    def end(self) -> None: ...

    def poll(self) -> list[float]:
        """Milliseconds of every finished, unread measurement, oldest first (never blocks long)."""
        ...


class WallTimer:
    """CPU work: ``time.perf_counter`` between ``begin`` and ``end`` (the work is done by then)."""

    def __init__(self) -> None:
        self._start: float | None = None
        self._done: list[float] = []

    def begin(self) -> None:
        if self._start is not None:
            raise RuntimeError("WorkTimer.begin called twice without end")
        self._start = time.perf_counter()

    def end(self) -> None:
        if self._start is None:
            raise RuntimeError("WorkTimer.end called without begin")
        self._done.append(1000.0 * (time.perf_counter() - self._start))
        self._start = None

    def poll(self) -> list[float]:
        done, self._done = self._done, []
        return done


class CudaEventTimer:
    """GPU work: a pair of timing events around it, read once the end event has completed.

    ``poll`` only queries events, so reading never stalls the queue; when ``slots`` measurements
    are still in flight, ``begin`` waits for the oldest (a blocking event wait, no spinning).
    """

    def __init__(self, device: torch.device | str, slots: int = TIMER_SLOTS) -> None:
        self.device = torch.device(device)
        self._slots = slots
        self._pending: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._open: torch.cuda.Event | None = None
        self._done: list[float] = []

    def begin(self) -> None:
        if self._open is not None:
            raise RuntimeError("WorkTimer.begin called twice without end")
        if len(self._pending) >= self._slots:
            self._pending[0][1].synchronize()
        self._collect()
        self._open = torch.cuda.Event(enable_timing=True, blocking=True)
        self._open.record(torch.cuda.current_stream(self.device))

    def end(self) -> None:
        if self._open is None:
            raise RuntimeError("WorkTimer.end called without begin")
        stop = torch.cuda.Event(enable_timing=True, blocking=True)
        stop.record(torch.cuda.current_stream(self.device))
        self._pending.append((self._open, stop))
        self._open = None

    def _collect(self) -> None:
        while self._pending and self._pending[0][1].query():
            start, stop = self._pending.pop(0)
            self._done.append(float(start.elapsed_time(stop)))

    def poll(self) -> list[float]:
        self._collect()
        done, self._done = self._done, []
        return done


def work_timer(device: torch.device | str) -> WorkTimer:
    """The timer for work on ``device``: CUDA events on CUDA, the wall clock on the CPU."""
    return CudaEventTimer(device) if cuda_device(device) else WallTimer()


# ---------------------------------------------------------------- export colour conversion

def i420_size(height: int, width: int) -> tuple[int, int, int]:
    """(even height, even width, bytes) of the I420 picture for a ``height`` x ``width`` frame."""
    h2, w2 = height + height % 2, width + width % 2
    return h2, w2, h2 * w2 + 2 * (h2 // 2) * (w2 // 2)


def i420_planes(buffer: torch.Tensor | np.ndarray, height: int, width: int) -> tuple:
    """Views (Y, U, V) of a flat I420 buffer made by ``rgb_to_yuv420p`` for a ``height`` x ``width`` frame."""
    h2, w2, total = i420_size(height, width)
    if buffer.shape != (total,):
        raise ValueError(f"an I420 buffer for {width}x{height} holds {total} bytes, got shape {tuple(buffer.shape)}")
    luma, chroma = h2 * w2, (h2 // 2) * (w2 // 2)
    y = buffer[:luma].reshape(h2, w2)
    u = buffer[luma:luma + chroma].reshape(h2 // 2, w2 // 2)
    v = buffer[luma + chroma:].reshape(h2 // 2, w2 // 2)
    return y, u, v


def rgb_to_yuv420p(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """A padded (1,3,Hp,Wp) RGB tensor in [0,1] as one flat I420 uint8 buffer on the same device.

    Matches the encoder sink's CPU path (uint8 RGB rounded as ``engine.to_uint8``, odd sides
    padded by repeating the edge, swscale rgb24 -> yuv420p BT.709 limited range) within one code
    value. The planes are ``i420_planes(buffer, height, width)``; one copy brings all three to
    the host.
    """
    h2, w2, total = i420_size(height, width)
    rgb = x[:, :, :height, :width].float().clamp(0.0, 1.0).mul(BYTE_MAX).round()
    if (h2, w2) != (height, width):
        rgb = F.pad(rgb, (0, w2 - width, 0, h2 - height), mode="replicate")
    red, green, blue = (rgb[0, c] / BYTE_MAX for c in range(RGB_CHANNELS))
    kg = 1.0 - BT709_KR - BT709_KB
    luma = BT709_KR * red + kg * green + BT709_KB * blue
    pb = (blue - luma) / (2.0 * (1.0 - BT709_KB))
    pr = (red - luma) / (2.0 * (1.0 - BT709_KR))
    out = torch.empty(total, dtype=torch.uint8, device=x.device)
    y, u, v = i420_planes(out, height, width)
    y.copy_(_to_code(luma, LIMITED_Y_OFFSET, LIMITED_Y_SPAN))
    u.copy_(_to_code(_subsample(pb), LIMITED_C_OFFSET, LIMITED_C_SPAN))
    v.copy_(_to_code(_subsample(pr), LIMITED_C_OFFSET, LIMITED_C_SPAN))
    return out


def _subsample(plane: torch.Tensor) -> torch.Tensor:
    """(H,W) -> (H/2,W/2): horizontal pairs averaged, then CHROMA_ROW_TAPS over rows 2k-1 .. 2k+2."""
    pairs = (plane[:, 0::2] + plane[:, 1::2]) * 0.5
    rows = F.pad(pairs[None, None], (0, 0, 1, 1), mode="replicate")[0, 0]
    a, b, c, d = CHROMA_ROW_TAPS
    return a * rows[0:-2:2] + b * rows[1:-1:2] + c * rows[2::2] + d * rows[3::2]


def _to_code(values: torch.Tensor, offset: float, span: float) -> torch.Tensor:
    return (values * span + offset).round_().clamp_(0.0, BYTE_MAX).to(torch.uint8)
