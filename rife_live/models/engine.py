"""The interpolation engine: device and dtype, a per-resolution cache, one network pass per pair.

``Interpolator.flow(img0, img1, scale)`` runs the network once and returns a ``FlowState``;
``Interpolator.synthesize(state, t)`` makes the frame at any time ``t`` in (0, 1) from it: t = ½ is
exactly the network's output, other t reuse the flow scaled for t (DESIGN.md §4). Frames go in and
out as HxWx3 uint8 RGB, either numpy arrays or torch tensors on the engine's device; uint16 frames
(sources deeper than 8 bits, DESIGN.md §11) go in the same way and come out as uint16.

An ``Interpolator`` is used from one thread at a time (the interpolation thread owns it).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable, Union

import numpy as np
import torch

from rife_live.errors import ConfigError, InputError
from rife_live.models import store
from rife_live.models.cuda import GraphRunner, HostUploader
from rife_live.models.ifnet import IFNet, base_grid, flow_to_grid_units, warp
from rife_live.models.settings import DEVICES, DTYPES, FLOW_SCALES, EngineConfig, pad_multiple

PREPARED_BUFFERS = 3  # padded input buffers per resolution: previous frame, current frame, one spare
RESOLUTION_CACHE_SIZE = 4  # resolutions kept (a live source that changes size does not grow memory)
MIN_SIDE = 2
U8_MAX = 255.0
U16_MAX = 65535.0
HALF = Fraction(1, 2)

Frame = Union[np.ndarray, torch.Tensor]


def cpu_supports_bfloat16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic that oneDNN uses (AVX512-BF16 / AMX)."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(torch.backends.mkldnn.is_available() and probe is not None and probe())


def pick_device(name: str) -> torch.device:
    if name not in DEVICES:
        raise ConfigError(f"--device must be one of {', '.join(DEVICES)}, not '{name}'")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device is available (this torch build or machine has none)")
    return torch.device(name)


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """The compute dtype of the network's convolutions for ``name`` on ``device``."""
    if name not in DTYPES:
        raise ConfigError(f"--dtype must be one of {', '.join(DTYPES)}, not '{name}'")
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_supports_bfloat16() else torch.float32
    if name == "float16" and device.type == "cpu":
        raise ConfigError("--dtype float16 is for CUDA; on the CPU use bfloat16 or float32")
    if name == "bfloat16" and device.type == "cpu" and not cpu_supports_bfloat16():
        raise ConfigError("--dtype bfloat16: this CPU has no native bfloat16 support; use float32")
    return getattr(torch, name)


def check_scale(scale: float) -> float:
    if float(scale) not in FLOW_SCALES:
        allowed = ", ".join(f"{s:g}" for s in FLOW_SCALES)
        raise ConfigError(f"flow scale must be one of {allowed}, not {scale:g}")
    return float(scale)


@dataclass
class _Resolution:
    """Everything cached for one (height, width, scale): padded buffers, warp grid, units."""

    height: int
    width: int
    padded_h: int
    padded_w: int
    grid: torch.Tensor  # (2,Hp,Wp,2): both images are warped in one call
    units: torch.Tensor
    buffers: list[torch.Tensor]  # (1,3,Hp,Wp) float32, zero padding kept from allocation
    next_buffer: int = 0


@dataclass(frozen=True)
class PreparedFrame:
    """A frame converted to the network's input: (1,3,Hp,Wp) float32 in [0,1], zero-padded.

    It lives in one of the resolution's rotating buffers and stays valid until
    ``PREPARED_BUFFERS - 1`` further frames of that resolution have been prepared.
    """

    tensor: torch.Tensor
    height: int
    width: int
    source: Frame  # the original uint8 (or uint16) frame (returned as is for t = 0)


@dataclass(frozen=True)
class FlowState:
    """One network pass over a pair: everything ``synthesize`` needs for any t."""

    frame0: PreparedFrame
    frame1: PreparedFrame
    flow: torch.Tensor  # (1,4,Hp,Wp) float32
    mask: torch.Tensor  # (1,1,Hp,Wp) logit
    middle: torch.Tensor  # (1,3,Hp,Wp) the network's output at t = 1/2
    scale: float
    resolution: _Resolution = field(repr=False)


class Interpolator:
    """IFNet on a device, with per-resolution caches. See the module docstring."""

    def __init__(self, device: str = "auto", dtype: str = "auto", model: str | None = None,
                 model_dir: Path | None = None, channels_last: bool = True, fuse_heads: bool = True,
                 cuda_graphs: bool = True, compile: bool = False, threads: int = 0,
                 log: Callable[[str], None] | None = None) -> None:
        self.device = pick_device(device)
        if threads > 0 and self.device.type == "cpu":
            # The network is the process's only torch user: its thread count is the engine's to set
            # (--threads; torch applies it to the interpolation thread when that thread first runs an op).
            torch.set_num_threads(threads)
        self.dtype = pick_dtype(dtype, self.device)
        state = store.load(model, model_dir, log) if log is not None else store.load(model, model_dir)
        self.model = str(model) if model is not None else store.DEFAULT_MODEL
        net = IFNet()
        net.load_state_dict(state, strict=True)
        if fuse_heads:
            net.fuse_heads()
        net.eval().requires_grad_(False)
        net.to(self.device)
        for block in net.blocks():
            block.to(dtype=self.dtype)
            if channels_last:
                block.to(memory_format=torch.channels_last)
        if compile:
            # Each block is compiled for the shapes it meets (one graph per resolution and scale);
            # inductor caches the generated code on disk, so later runs start faster.
            for block in net.blocks():
                block.forward = torch.compile(block.forward, dynamic=False)
        self.net = net
        # CUDA: frames go up through pinned staging on a copy stream, and the network pass is
        # replayed as a CUDA graph per resolution. On the CPU both are the plain calls.
        self._uploader = HostUploader(self.device)
        self._runner = GraphRunner(net, self.dtype, self.device, graphs=cuda_graphs) if self.device.type == "cuda" else None
        self._cache: OrderedDict[tuple[int, int, float], _Resolution] = OrderedDict()

    @classmethod
    def from_config(cls, config: EngineConfig, log: Callable[[str], None] | None = None) -> Interpolator:
        """The engine the ``[engine]`` options ask for (the speed switches keep their defaults)."""
        return cls(device=config.device, dtype=config.dtype, model=config.model, model_dir=config.model_dir,
                   threads=config.threads, log=log)

    def describe(self) -> dict[str, str]:
        """What runs the network, for stats: device, dtype and model (a registry name or a path)."""
        return {"device": self.device.type, "dtype": str(self.dtype).removeprefix("torch."), "model": self.model}

    # -- per-resolution cache -------------------------------------------------------------------
    def _resolution(self, height: int, width: int, scale: float) -> _Resolution:
        key = (height, width, scale)
        res = self._cache.get(key)
        if res is not None:
            self._cache.move_to_end(key)
            return res
        multiple = pad_multiple(scale)
        ph = -(-height // multiple) * multiple
        pw = -(-width // multiple) * multiple
        f32 = torch.float32
        res = _Resolution(
            height=height, width=width, padded_h=ph, padded_w=pw,
            grid=base_grid(2, ph, pw, self.device, f32),
            units=flow_to_grid_units(ph, pw, self.device, f32),
            buffers=[torch.zeros((1, 3, ph, pw), device=self.device, dtype=f32) for _ in range(PREPARED_BUFFERS)],
        )
        self._cache[key] = res
        while len(self._cache) > RESOLUTION_CACHE_SIZE:
            self._cache.popitem(last=False)
        return res

    # -- frames in --------------------------------------------------------------------------------
    @torch.inference_mode()
    def prepare(self, image: Frame, scale: float = 1.0) -> PreparedFrame:
        """Convert an HxWx3 uint8 (or uint16) frame into a padded network input (one of the cached buffers)."""
        height, width = _check_frame(image)
        res = self._resolution(height, width, check_scale(scale))
        buf = res.buffers[res.next_buffer]
        res.next_buffer = (res.next_buffer + 1) % PREPARED_BUFFERS
        region = buf[0, :, :height, :width]
        self._uploader.upload_into(region, image)
        region.mul_(1.0 / code_max(image))
        return PreparedFrame(tensor=buf, height=height, width=width, source=image)

    # -- the network pass -------------------------------------------------------------------------
    @torch.inference_mode()
    def flow(self, img0: Frame | PreparedFrame, img1: Frame | PreparedFrame, scale: float = 1.0) -> FlowState:
        """One network pass over the pair; the result serves every t of the pair."""
        scale = check_scale(scale)
        p0 = img0 if isinstance(img0, PreparedFrame) else self.prepare(img0, scale)
        p1 = img1 if isinstance(img1, PreparedFrame) else self.prepare(img1, scale)
        if (p0.height, p0.width) != (p1.height, p1.width):
            raise InputError(f"the two frames differ in size ({p0.width}x{p0.height} vs {p1.width}x{p1.height})")
        if code_max(p0.source) != code_max(p1.source):
            raise InputError(f"the two frames differ in bit depth ({p0.source.dtype} vs {p1.source.dtype})")
        res = self._resolution(p0.height, p0.width, scale)
        if self._runner is not None:
            out = self._runner.run(p0.tensor, p1.tensor, scale)
        else:
            out = self.net(p0.tensor, p1.tensor, scale, grid=res.grid, units=res.units)
        return FlowState(frame0=p0, frame1=p1, flow=out.flow, mask=out.mask, middle=out.middle, scale=scale,
                         resolution=res)

    # -- frames out -------------------------------------------------------------------------------
    @torch.inference_mode()
    def synthesize_tensor(self, state: FlowState, t: float | Fraction) -> torch.Tensor:
        """The frame at ``t`` as a padded (1,3,Hp,Wp) float tensor in [0,1] (not clamped)."""
        if not 0 <= t <= 1:
            raise ValueError(f"t must lie in [0, 1], not {t}")
        if t == HALF:
            return state.middle
        if t == 0:
            return state.frame0.tensor
        if t == 1:
            return state.frame1.tensor
        tf = float(t)
        res = state.resolution
        flow_t = torch.cat((state.flow[:, 0:2] * (2.0 * tf), state.flow[:, 2:4] * (2.0 * (1.0 - tf))), dim=0)
        both = warp(torch.cat((state.frame0.tensor, state.frame1.tensor), dim=0), flow_t, res.grid, res.units)
        w0 = blend_weight(torch.sigmoid(state.mask), tf)
        return both[0:1] * w0 + both[1:2] * (1.0 - w0)

    def synthesize(self, state: FlowState, t: float | Fraction) -> Frame:
        """The frame at ``t`` as HxWx3 uint8 (uint16 for uint16 inputs), numpy or tensor like the
        inputs. t = 0/1 return the inputs."""
        if t == 0:
            return state.frame0.source
        if t == 1:
            return state.frame1.source
        to_integer = to_uint16 if code_max(state.frame0.source) == U16_MAX else to_uint8
        image = to_integer(self.synthesize_tensor(state, t), state.frame0.height, state.frame0.width)
        if isinstance(state.frame0.source, np.ndarray):
            return image.cpu().numpy()
        return image

    def interpolate(self, img0: Frame, img1: Frame, t: float | Fraction = HALF, scale: float = 1.0) -> Frame:
        """Convenience: the frame at ``t`` between ``img0`` and ``img1`` (one network pass)."""
        return self.synthesize(self.flow(img0, img1, scale), t)


def blend_weight(alpha: torch.Tensor, t: float) -> torch.Tensor:
    """Weight of the warped first frame at time ``t`` given the network's mask ``alpha`` = sigmoid(mask).

    Linear motion calls for (1 - t, t); the network's mask knows occlusions at t = ½. The weight
    follows (1 - t) and bends toward the mask by a tent that is 1 at t = ½ and 0 at both ends, so
    t = ½ is exactly the network's blend and the ends are exactly the inputs.
    """
    tent = 1.0 - abs(2.0 * t - 1.0)
    return (1.0 - t) + (alpha - 0.5) * tent


def to_uint8(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop a padded (1,3,Hp,Wp) [0,1] tensor to HxWx3 uint8 (rounded, clamped)."""
    return x[0, :, :height, :width].clamp(0.0, 1.0).mul(U8_MAX).round_().to(torch.uint8).permute(1, 2, 0).contiguous()


def to_uint16(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Crop a padded (1,3,Hp,Wp) [0,1] tensor to HxWx3 uint16 (rounded, clamped)."""
    scaled = x[0, :, :height, :width].clamp(0.0, 1.0).mul(U16_MAX).round_()
    return scaled.to(torch.int32).to(torch.uint16).permute(1, 2, 0).contiguous()


def code_max(image: Frame) -> float:
    """The largest code value of a frame's dtype: 65535 for uint16, else 255."""
    return U16_MAX if image.dtype in (np.uint16, torch.uint16) else U8_MAX


def _check_frame(image: Frame) -> tuple[int, int]:
    if not isinstance(image, (np.ndarray, torch.Tensor)):
        raise TypeError(f"a frame must be a numpy array or torch tensor, not {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"a frame must be HxWx3 RGB, got shape {tuple(image.shape)}")
    if image.dtype not in (np.uint8, torch.uint8, np.uint16, torch.uint16):
        raise InputError(f"a frame must be uint8 or uint16, got {image.dtype}")
    height, width = int(image.shape[0]), int(image.shape[1])
    if height < MIN_SIDE or width < MIN_SIDE:
        raise InputError(f"frames must be at least {MIN_SIDE}x{MIN_SIDE} pixels, got {width}x{height}")
    return height, width
