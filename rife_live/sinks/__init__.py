"""rife_live.sinks: the export end of the pipeline (encoder, PNG folder, null) behind one interface.

``open_sink(spec)`` returns a :class:`Sink` (``write(image, meta)``, ``close()``,
``frames_written``, ``abort()``); ``check_video_name(path)`` checks an ``-o`` file name.
"""

from __future__ import annotations

from pathlib import Path

from rife_live.errors import OutputError
from rife_live.sinks.base import Sink, SinkSpec
from rife_live.sinks.encoder import CONTAINERS, EncoderSink
from rife_live.sinks.null import NullSink
from rife_live.sinks.png import PngFolderSink

__all__ = ["Sink", "SinkSpec", "open_sink", "check_video_name"]


def check_video_name(path: Path, flag: str = "-o") -> None:
    """OutputError unless ``path`` names a video file of a known container (``-o`` takes files
    only; a folder of PNG frames is ``--png DIR``)."""
    names = ", ".join(CONTAINERS)
    if path.is_dir() or not path.suffix:
        raise OutputError(f"{flag} {path}: not a video file name (use {names}); for a folder of PNG frames "
                          "use --png DIR")
    if path.suffix.lower() not in CONTAINERS:
        raise OutputError(f"{flag} {path}: unsupported container {path.suffix!r} (use {names}, "
                          "or --png DIR for PNG frames)")


def open_sink(spec: SinkSpec) -> Sink:
    """Open the sink ``spec`` asks for; OutputError (one line) when its output cannot be written."""
    if spec.kind == "null":
        return NullSink()
    assert spec.path is not None  # SinkSpec checks it
    if spec.kind == "png":
        return PngFolderSink(Path(spec.path), spec.png_bit_depth, replace=spec.overwrite, color=spec.color,
                             tone_mapping=spec.tone_mapping)
    return EncoderSink(spec)
