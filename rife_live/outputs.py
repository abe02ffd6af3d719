"""Where outputs go: checked before anything is opened, never over an input, never over an
existing file unless the user said ``-y``, and written so that a failure leaves nothing behind.

The rules (FFmpeg's convention for ``-y``):

- An output that names an input is refused, whatever the spelling: a relative or absolute path,
  ``./`` prefixes, a symlink or a hard link to it (``os.path.samefile``). A PNG folder may not be
  an image-folder input nor lie inside it.
- An existing output file, or a non-empty PNG folder, is an error that names ``-y/--yes``. With it,
  the new output replaces the old one whole: a file is replaced by a rename when the new one is
  complete; a PNG folder loses its old frames of the same name pattern before the first new one.
- Every output path is checked up front (parent folder exists, the name is not a folder, the
  folder is writable), so a long run never ends in "cannot write" with its results lost.
- Files are written under a temporary name beside the target (``PartialFile``) and renamed over
  it only once complete; a run that fails removes the temporary file and leaves the old output as
  it was.

Every refusal is a ``ConfigError`` or ``OutputError`` carrying one line.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rife_live.errors import ConfigError, OutputError

if TYPE_CHECKING:
    from rife_live.config import Config

OVERWRITE_FLAG = "-y/--yes"
PARTIAL_PREFIX = "."  # temporary files are hidden ...
PARTIAL_TAG = ".partial-"  # ... and say what they are: .movie.partial-1234.mkv


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name one file or folder (links and spellings resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist: compare where they would be
        return os.path.realpath(a) == os.path.realpath(b)


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (links resolved)."""
    if same_file(path, folder):
        return True
    real_folder = Path(os.path.realpath(folder))
    return real_folder in Path(os.path.realpath(path)).parents


def refuse_input(output: Path, inputs: Iterable[Path], what: str) -> None:
    """ConfigError when ``output`` is one of ``inputs`` (an existing file, however it is named)."""
    for source in inputs:
        if _exists(source) and same_file(output, source):
            raise ConfigError(f"{what} {output} is the input {source}: choose another output name "
                              "(the input would be destroyed)")


def refuse_folder_over_input(folder: Path, source: Path, what: str) -> None:
    """ConfigError when a PNG ``folder`` is the image-folder input ``source`` or lies inside it."""
    if source.is_dir() and is_within(folder, source):
        raise ConfigError(f"{what} {folder} is the input folder {source} or inside it: choose a folder "
                          "elsewhere (the input frames would be overwritten)")


def check_new_file(path: Path, overwrite: bool, what: str) -> None:
    """An output file can be written: its folder exists and is writable, it is not a folder, and
    it is new or ``overwrite`` allows replacing it."""
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a folder")
    if _exists(path) and not overwrite:
        raise OutputError(f"{what} {path} exists; add {OVERWRITE_FLAG} to replace it")
    check_writable_folder(path.parent, f"{what} {path}")


def check_writable_folder(folder: Path, what: str) -> None:
    """``folder`` exists, is a folder and a file can be created in it."""
    folder = folder if str(folder) else Path(".")
    if not folder.is_dir():
        reason = "is not a folder" if _exists(folder) else "does not exist"
        raise OutputError(f"cannot write {what}: folder {folder} {reason}")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write {what}: folder {folder}: {exc.strerror or exc}") from exc


def check_png_folder(folder: Path, overwrite: bool, what: str = "--png") -> None:
    """A PNG output folder is new, empty, or ``overwrite`` allows replacing its frames; its
    nearest existing ancestor must be writable (the folder is made when the run starts)."""
    if _exists(folder) and not folder.is_dir():
        raise OutputError(f"cannot write frames into {folder}: it exists and is not a folder")
    if folder.is_dir():
        if any(folder.iterdir()) and not overwrite:
            raise OutputError(f"{what} {folder} is not empty; add {OVERWRITE_FLAG} to replace its frames")
        check_writable_folder(folder, f"frames into {folder}")
        return
    ancestor = folder.parent
    while not ancestor.is_dir():
        if _exists(ancestor):
            raise OutputError(f"cannot create {folder}: {ancestor} is not a folder")
        ancestor = ancestor.parent
    check_writable_folder(ancestor, f"frames into {folder}")


def check_play_outputs(config: Config, target: str | None, overwrite: bool) -> None:
    """Every output of a ``rife-play`` run, checked before anything is opened: none names the
    input, none names another, files are new unless ``overwrite``, folders are writable."""
    from rife_live.pipeline.source import local_path
    from rife_live.sinks import check_video_name  # the sinks write through this module: imported late

    out = config.output
    files = [(flag, path) for flag, path in (("-o", out.path), ("--stats-json", out.stats_json)) if path is not None]
    source = local_path(target) if target is not None else None
    inputs = [source] if source is not None else []
    for flag, path in files:
        refuse_input(path, inputs, flag)
    if out.png_dir is not None:
        for folder in inputs:
            refuse_folder_over_input(out.png_dir, folder, "--png")
        refuse_input(out.png_dir, inputs, "--png")
    named = [path for _, path in files] + ([out.png_dir] if out.png_dir is not None else [])
    for i, path in enumerate(named):
        if any(same_file(path, other) for other in named[:i]):
            raise ConfigError(f"{path} is named as two outputs: give each output its own name")
    if out.path is not None:
        check_video_name(out.path)
    for flag, path in files:
        check_new_file(path, overwrite, flag)
    if out.png_dir is not None:
        check_png_folder(out.png_dir, overwrite)
    shots = config.player.screenshot_dir
    if shots is not None:
        check_writable_folder(shots, f"screenshots into {shots}")


def remove_frames(folder: Path, pattern: re.Pattern[str]) -> int:
    """Delete the files of ``folder`` whose names match ``pattern`` (a replaced PNG sequence);
    returns how many. Other files are left alone."""
    removed = 0
    for entry in folder.iterdir():
        if pattern.fullmatch(entry.name) and entry.is_file():
            try:
                entry.unlink()
            except OSError as exc:
                raise OutputError(f"cannot replace {entry}: {exc.strerror or exc}") from exc
            removed += 1
    return removed


@dataclass
class PartialFile:
    """A file written under a temporary name beside ``target`` and renamed over it when complete.

    ``path`` is where the writer writes. ``commit()`` renames it to ``target`` (replacing an old
    file there in one step); ``discard()`` removes it. Both are idempotent; after either, the other
    does nothing.
    """

    target: Path
    path: Path
    done: bool = False

    @classmethod
    def beside(cls, target: Path) -> PartialFile:
        target = Path(target)
        name = f"{PARTIAL_PREFIX}{target.stem}{PARTIAL_TAG}{os.getpid()}{target.suffix}"
        return cls(target=target, path=target.with_name(name))

    def commit(self) -> None:
        if self.done:
            return
        self.done = True
        try:
            os.replace(self.path, self.target)
        except OSError as exc:
            self.path.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.target}: {exc.strerror or exc}") from exc

    def discard(self) -> None:
        if self.done:
            return
        self.done = True
        self.path.unlink(missing_ok=True)


def write_bytes(target: Path, data: bytes) -> None:
    """Write a whole small file atomically (a temporary name, then a rename)."""
    partial = PartialFile.beside(target)
    try:
        partial.path.write_bytes(data)
    except OSError as exc:
        partial.discard()
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    partial.commit()
