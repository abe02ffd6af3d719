"""How every input is opened with PyAV: one call, the same lenient rules everywhere.

Damaged files must end in one clear line, never a traceback. PyAV decodes the container's and the
streams' metadata tags (title, language, DURATION ...) as UTF-8 while opening, and by default a
tag that is not valid UTF-8 (a flipped bit is enough) raises ``UnicodeDecodeError``, which no
caller expects from ``av.open``. Tags are only ever shown, so bad bytes are replaced instead.

``reason(exc)`` is the human part of an FFmpeg error for those one-line messages: its strerror
("Invalid data found when processing input") without the errno and the name of the C function.
"""

from __future__ import annotations

import os

import av
from av.codec.hwaccel import HWAccel

__all__ = ["HWAccel", "open_input", "reason"]

METADATA_ERRORS = "replace"  # a tag that is not UTF-8 reads with U+FFFD, never raises


def open_input(target: str | os.PathLike[str], **kwargs: object) -> av.container.InputContainer:
    """``av.open(target, **kwargs)`` for reading, with metadata decoded leniently."""
    return av.open(os.fspath(target), metadata_errors=METADATA_ERRORS, **kwargs)


def reason(exc: BaseException) -> str:
    """The human part of an FFmpeg (or OS) error: its strerror, else its text."""
    text = getattr(exc, "strerror", None) or str(exc)
    return str(text).strip()
