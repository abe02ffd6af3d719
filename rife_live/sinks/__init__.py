"""rife_live.sinks: the export end of the pipeline (encoder, PNG folder, null) behind one interface.

``open_sink(spec)`` returns a :class:`Sink` (``write(image, meta)``, ``close()``,
``frames_written``); ``kind_for_output(path)`` says which kind an output path asks for.
"""

from __future__ import annotations

from pathlib import Path

from rife_live.errors import OutputError
from rife_live.sinks.base import Sink, SinkSpec
from rife_live.sinks.encoder import CONTAINERS, EncoderSink
from rife_live.sinks.null import NullSink
from rife_live.sinks.png import PngFolderSink

__all__ = ["Sink", "SinkSpec", "open_sink", "kind_for_output"]


def kind_for_output(path: Path) -> str:
    """"encoder" for a video file name, "png" for a folder (no extension or an existing directory)."""
    if path.is_dir() or not path.suffix:
        return "png"
    if path.suffix.lower() in CONTAINERS:
        return "encoder"
    names = ", ".join(CONTAINERS)
    raise OutputError(
        f"cannot write {path.name}: unsupported container {path.suffix!r} (use {names}, or a folder for PNGs)"
    )


def open_sink(spec: SinkSpec) -> Sink:
    """Open the sink ``spec`` asks for; OutputError (one line) when its output cannot be written."""
    if spec.kind == "null":
        return NullSink()
    assert spec.path is not None  # SinkSpec checks it
    if spec.kind == "png":
        return PngFolderSink(Path(spec.path), spec.png_bit_depth)
    return EncoderSink(spec)
