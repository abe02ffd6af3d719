"""Fuzzed media: damaged copies of small real clips, and the command line each one is fed to.

Shared by the CI test (``tests/test_fuzz.py``: a fixed seed, a few dozen cases) and the long run
(``bench/fuzz.py --cases N --seed S``); ``tests/fuzz_run.py`` runs the cases and checks them.

``make_bases(folder)`` writes the clean material once, from ``tests/data`` footage (bigbuckbunny and
bikes) at 64x48, ``BASE_FRAMES`` frames: a clip in every video container the product writes
(``rife_live.sinks.encoder.CONTAINERS``: .mkv H.264 + AAC, .mp4 H.264 + AAC, .mov H.264, .webm
VP9 + Opus), an animated GIF (written by the product's own GIF writer), a folder of numbered PNG
frames (the product's PNG writer), the PNG pair ``rife-interp`` reads, and a one-triplet folder in
the Vimeo90K layout for ``rife-eval vimeo90k``. The encoders are set up to give the same bytes
on every run (``digest`` checks it), so a case can be rebuilt from its seed and index alone.

``make_case(seed, index, bases)`` builds case ``index`` of the run ``seed``: the program and input
(``TARGETS``, taken in turn, so a few dozen cases cover every pair), the damage (``MUTATIONS``,
drawn), the flags (drawn) and the files. Everything drawn comes from one ``random.Random`` seeded by
``(seed, index)``: case 17 of seed 0 is the same whether the run has 20 cases or 2000.

Damage, each to the bytes of one file (an image folder or a PNG pair gets 1-3 damaged files):
``bitflip`` (1-24 bits anywhere), ``header-bitflip`` (1-8 bits in the first KiB), ``truncate`` (cut
at a random offset, 0 included), ``zero-header`` (a run of zeros in the first 512 bytes),
``zero-chunk`` (16 B - 4 KiB of zeros anywhere), ``foreign-header`` (the first 16 B - 4 KiB taken
from another container's file), ``swap-chunks`` (two equal chunks exchanged), ``insert`` (1-64
random bytes inserted: every later offset shifts).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from rife_live.sinks.encoder import CONTAINERS
from rife_live.sinks.stills import write_gif, write_png
from tests import media

BASE_WIDTH, BASE_HEIGHT = 64, 48
BASE_FRAMES = 12
BASE_FPS = Fraction(25)
# The same bytes on every run: one thread, a constant quantizer and no macroblock tree (x264's
# floating-point rate control otherwise varies with the state other libraries leave the FPU in) ...
X264_EXACT = {"x264-params": "threads=1:lookahead-threads=1:qp=24:mbtree=0"}
BITEXACT = {"fflags": "+bitexact"}  # ... and no random track IDs or dates in the container
VP9_FAST = {"threads": "1", "cpu-used": "8", "deadline": "realtime", "b": "0", "crf": "40"}
BIKES_START = 40  # a stretch of bikes.mp4 with motion and no cut

VIDEO_SUFFIXES = tuple(CONTAINERS)  # .mkv .mp4 .mov .webm: what ``rife-play -o`` writes
GIF_NAME = "clip.gif"
FRAMES_DIR = "frames"  # a numbered PNG folder (an image-folder input)
PAIR = ("a.png", "b.png")  # rife-interp's two images
VIMEO_DIR = "vimeo"  # vimeo_interp_test/{tri_testlist.txt, target/00001/0001/im1..3.png}
VIMEO_SEQUENCE = "00001/0001"
VIMEO_FRAMES = ("im1.png", "im2.png", "im3.png")
VIDEO_INPUTS = tuple(f"clip{suffix}" for suffix in VIDEO_SUFFIXES) + (GIF_NAME,)

IN_DIR = "in"  # a case folder: in/ holds its inputs, out/ what the program writes
OUT_DIR = "out"

# (program, base input). Cases take them in turn; "interp" comes three times: which image is damaged.
TARGETS: tuple[tuple[str, str], ...] = (
    *(("export", name) for name in (*VIDEO_INPUTS, FRAMES_DIR)),
    *(("live", name) for name in (*VIDEO_INPUTS, FRAMES_DIR)),
    ("interp", PAIR[0]), ("interp", PAIR[1]), ("interp", "both"),
    *(("eval", name) for name in (*VIDEO_INPUTS, VIMEO_DIR)),
)
ENTRIES = {"export": "play_main", "live": "play_main", "interp": "interp_main", "eval": "eval_main"}
PROGS = {"play_main": "rife-play", "interp_main": "rife-interp", "eval_main": "rife-eval"}


# --- the clean material -----------------------------------------------------------------------


def _bikes(count: int = BASE_FRAMES) -> list:
    return media.clip_frames(media.BIKES_PATH, BASE_WIDTH, BASE_HEIGHT, count, BIKES_START)


def _bbb(count: int = BASE_FRAMES) -> list:
    return media.bbb_frames(BASE_WIDTH, BASE_HEIGHT, count)


def make_bases(folder: Path) -> dict[str, Path]:
    """Write the clean inputs into ``folder``; returns them by name (``VIDEO_INPUTS``,
    ``FRAMES_DIR``, the ``PAIR`` images, ``VIMEO_DIR``)."""
    folder.mkdir(parents=True, exist_ok=True)
    bbb, bikes = _bbb(), _bikes()

    def write(path: Path, frames: list, **kwargs) -> Path:
        return media.write_frames(path, frames, container_options=BITEXACT, **kwargs)

    bases = {
        "clip.mkv": write(folder / "clip.mkv", bbb, fps=BASE_FPS, audio=True, options=X264_EXACT),
        "clip.mp4": write(folder / "clip.mp4", bikes, fps=BASE_FPS, audio=True, options=X264_EXACT),
        "clip.mov": write(folder / "clip.mov", bbb, fps=BASE_FPS, options=X264_EXACT),
        "clip.webm": write(folder / "clip.webm", bikes, fps=BASE_FPS, codec="libvpx-vp9", audio=True,
                           audio_codec="libopus", options=VP9_FAST),
    }
    write_gif(folder / GIF_NAME, bbb, BASE_FPS)
    bases[GIF_NAME] = folder / GIF_NAME
    frames = folder / FRAMES_DIR
    frames.mkdir(exist_ok=True)
    for index, image in enumerate(bikes):
        write_png(frames / f"{index}.png", image)
    bases[FRAMES_DIR] = frames
    for name, image in zip(PAIR, bikes[:2]):
        write_png(folder / name, image)
        bases[name] = folder / name
    vimeo = folder / VIMEO_DIR / "vimeo_interp_test"
    triplet = vimeo / "target" / VIMEO_SEQUENCE
    triplet.mkdir(parents=True, exist_ok=True)
    (vimeo / "tri_testlist.txt").write_text(VIMEO_SEQUENCE + "\n")
    for name, image in zip(VIMEO_FRAMES, bbb[:3]):
        write_png(triplet / name, image)
    bases[VIMEO_DIR] = folder / VIMEO_DIR
    return bases


def digest(bases: dict[str, Path]) -> str:
    """One sha256 over every base file: equal digests mean equal cases for equal (seed, index)."""
    hasher = hashlib.sha256()
    for name in sorted(bases):
        root = bases[name]
        for path in sorted(root.rglob("*")) if root.is_dir() else [root]:
            if path.is_file():
                hasher.update(str(path.relative_to(root.parent)).encode())
                hasher.update(path.read_bytes())
    return hasher.hexdigest()


# --- damage -------------------------------------------------------------------------------------

Mutation = Callable[[random.Random, bytes, bytes], tuple[bytes, str]]
HEADER_BYTES = 1024
ZERO_HEADER_SPAN = 512


def _bitflip(rng: random.Random, data: bytes, limit: int, most: int) -> tuple[bytes, str]:
    out = bytearray(data)
    count = rng.randint(1, most)
    for _ in range(count):
        bit = rng.randrange(min(len(out), limit) * 8)
        out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out), f"{count} bits"


def bitflip(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    return _bitflip(rng, data, len(data), 24)


def header_bitflip(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    return _bitflip(rng, data, HEADER_BYTES, 8)


def truncate(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    cut = rng.randrange(len(data))
    return data[:cut], f"at {cut}/{len(data)}"


def zero_header(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    start = rng.randrange(min(len(data), ZERO_HEADER_SPAN))
    length = rng.randint(4, 256)
    return _zeroed(data, start, length), f"{length} at {start}"


def zero_chunk(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    start = rng.randrange(len(data))
    length = rng.randint(16, 4096)
    return _zeroed(data, start, length), f"{length} at {start}"


def _zeroed(data: bytes, start: int, length: int) -> bytes:
    end = min(len(data), start + length)
    return data[:start] + bytes(end - start) + data[end:]


def foreign_header(rng: random.Random, data: bytes, donor: bytes) -> tuple[bytes, str]:
    length = min(rng.choice((16, 64, 512, 4096)), len(donor), len(data))
    return donor[:length] + data[length:], f"{length} bytes"


def swap_chunks(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    length = rng.randint(1, max(1, len(data) // 4))
    if len(data) < 2 * length:
        return data, "nothing (too small)"
    a = rng.randrange(len(data) - 2 * length + 1)
    b = rng.randrange(a + length, len(data) - length + 1)
    out = data[:a] + data[b:b + length] + data[a + length:b] + data[a:a + length] + data[b + length:]
    return out, f"{length} at {a} and {b}"


def insert(rng: random.Random, data: bytes, _donor: bytes) -> tuple[bytes, str]:
    at = rng.randrange(len(data) + 1)
    extra = rng.randbytes(rng.randint(1, 64))
    return data[:at] + extra + data[at:], f"{len(extra)} at {at}"


MUTATIONS: dict[str, Mutation] = {
    "bitflip": bitflip, "header-bitflip": header_bitflip, "truncate": truncate, "zero-header": zero_header,
    "zero-chunk": zero_chunk, "foreign-header": foreign_header, "swap-chunks": swap_chunks, "insert": insert,
}


# --- cases --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One fuzz case: ``entry`` (``tests.commands.run``'s entry point) run with ``args`` in a case
    folder holding ``inputs`` (relative path -> bytes) under ``in/`` and an empty ``out/``."""

    seed: int
    index: int
    program: str  # export, live, interp or eval
    base: str
    mutation: str  # kind
    detail: str  # what exactly was damaged: file, offsets, lengths
    inputs: tuple[tuple[str, bytes], ...]
    args: tuple[str, ...]

    @property
    def entry(self) -> str:
        return ENTRIES[self.program]

    @property
    def prog(self) -> str:
        return PROGS[self.entry]

    @property
    def name(self) -> str:
        return f"{self.index:04d}-{self.program}-{self.base}-{self.mutation}"

    def write(self, folder: Path) -> None:
        """Lay the case out in ``folder`` (made empty beforehand)."""
        for relative, data in self.inputs:
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        (folder / OUT_DIR).mkdir(parents=True, exist_ok=True)

    def command_line(self) -> str:
        return f"{self.prog} {' '.join(self.args)}"


def _files(root: Path) -> list[tuple[str, bytes]]:
    """(path relative to root's parent, bytes) of a file, or of every file in a folder."""
    paths = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
    return [(str(p.relative_to(root.parent)), p.read_bytes()) for p in paths]


def _damage(rng: random.Random, files: list[tuple[str, bytes]], victims: list[int], kind: str,
            donor: bytes) -> tuple[list[tuple[str, bytes]], str]:
    out = list(files)
    notes = []
    for i in victims:
        name, data = out[i]
        damaged, note = MUTATIONS[kind](rng, data, donor)
        out[i] = (name, damaged)
        notes.append(f"{name}: {note}")
    return out, "; ".join(notes)


def _donor(rng: random.Random, bases: dict[str, Path], base: str) -> bytes:
    """The bytes of another container's file (for foreign-header)."""
    others = [name for name in VIDEO_INPUTS if name != base] + ([PAIR[0]] if base in VIDEO_INPUTS else [])
    return bases[rng.choice(others)].read_bytes()


def _inputs(rng: random.Random, program: str, base: str, bases: dict[str, Path],
            kind: str) -> tuple[list[tuple[str, bytes]], str, list[str]]:
    """The damaged input files (under in/), what was damaged, and the input arguments."""
    donor = _donor(rng, bases, base)
    if program == "interp":
        files = _files(bases[PAIR[0]]) + _files(bases[PAIR[1]])
        victims = [0, 1] if base == "both" else [PAIR.index(base)]
        files, detail = _damage(rng, files, victims, kind, donor)
        return [(f"{IN_DIR}/{n}", d) for n, d in files], detail, [f"{IN_DIR}/{n}" for n, _ in files]
    files = _files(bases[base])
    if base in (FRAMES_DIR, VIMEO_DIR):  # damage 1-3 of the folder's images
        images = [i for i, (n, _) in enumerate(files) if n.endswith(".png")]
        victims = sorted(rng.sample(images, rng.randint(1, min(3, len(images)))))
    else:
        victims = [0]
    files, detail = _damage(rng, files, victims, kind, donor)
    return [(f"{IN_DIR}/{n}", d) for n, d in files], detail, [f"{IN_DIR}/{base}"]


def _maybe(rng: random.Random, chance: float, *flags: str) -> list[str]:
    return list(flags) if rng.random() < chance else []


def _args(rng: random.Random, program: str, given: list[str]) -> list[str]:
    """The command line after the inputs; outputs go under out/."""
    if program == "export":
        target = rng.choice([*VIDEO_SUFFIXES, "png"])
        out = ["--png", f"{OUT_DIR}/frames"] if target == "png" else ["-o", f"{OUT_DIR}/video{target}"]
        return [*given, *out, *_maybe(rng, 0.3, "--stats-json", f"{OUT_DIR}/stats.json"),
                *_maybe(rng, 0.2, "--start", "0.2"), *_maybe(rng, 0.15, "--end", "0.3"),
                *_maybe(rng, 0.15, "--exp", "2")]
    if program == "live":
        return [*given, "--vo", "null", "--ao", "null",
                *_maybe(rng, 0.3, "--stats-json", f"{OUT_DIR}/stats.json"),
                *_maybe(rng, 0.2, "--start", "0.2"), *_maybe(rng, 0.15, "--no-interp")]
    if program == "interp":
        video = rng.choice(VIDEO_SUFFIXES)
        return [*given, "-o", f"{OUT_DIR}/frames", "--exp", str(rng.choice((1, 2))),
                *_maybe(rng, 0.3, "--gif", f"{OUT_DIR}/seq.gif"),
                *_maybe(rng, 0.3, "--video", f"{OUT_DIR}/seq{video}")]
    protocol = "vimeo90k" if given[0].endswith(VIMEO_DIR) else "video"
    extra = [] if protocol != "video" else [*_maybe(rng, 0.3, "--factor", "4"), "--limit", "3"]
    return [protocol, *given, *extra, *_maybe(rng, 0.3, "--method", "network,blend"),
            *_maybe(rng, 0.4, "--json", f"{OUT_DIR}/eval.json"), *_maybe(rng, 0.2, "--csv", f"{OUT_DIR}/eval.csv")]


def make_case(seed: int, index: int, bases: dict[str, Path]) -> Case:
    """Case ``index`` of the run ``seed`` (see the module text)."""
    rng = random.Random(f"rife-live-fuzz:{seed}:{index}")
    program, base = TARGETS[index % len(TARGETS)]
    kind = rng.choice(sorted(MUTATIONS))
    inputs, detail, given = _inputs(rng, program, base, bases, kind)
    args = _args(rng, program, given)
    return Case(seed=seed, index=index, program=program, base=base, mutation=kind, detail=detail,
                inputs=tuple(inputs), args=tuple(args))


def write_case(folder: Path, *, seed: int, index: int) -> Path:
    """Lay out case ``index`` of the run ``seed`` in ``folder`` (its clean material in
    ``folder/bases``): how a regression test gets back the damaged file that showed a bug."""
    case = make_case(seed, index, make_bases(folder / "bases"))
    case.write(folder)
    return folder
