"""The built-in 5x8 bitmap font (printable ASCII, written for this project): the OSD's glyph atlas
and text stamped into frames (the montage's labels). Pure numpy; no GL, no font library.
"""

from __future__ import annotations

import numpy as np

BYTE_MAX = 255
GLYPH_W, GLYPH_H = 5, 8  # drawn bits; rows 0-6 body, row 7 descenders
CELL_W, CELL_H = GLYPH_W + 1, GLYPH_H + 1  # one blank column and row of spacing
FIRST_CHAR, LAST_CHAR = 32, 126
ATLAS_COLS = 16
SOLID_CELL = LAST_CHAR - FIRST_CHAR + 1  # a fully covered cell, for the OSD box
ATLAS_ROWS = (SOLID_CELL + ATLAS_COLS) // ATLAS_COLS
FALLBACK_CHAR = "?"

# Each glyph: eight rows of five columns, '#' set, '.' clear; written for this project.
FONT_5X8: dict[str, str] = {
    " ": "..... ..... ..... ..... ..... ..... ..... .....",
    "!": "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#.. .....",
    '"': ".#.#. .#.#. ..... ..... ..... ..... ..... .....",
    "#": ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#. .....",
    "$": "..#.. .#### #.#.. .###. ..#.# ####. ..#.. .....",
    "%": "##... ##..# ...#. ..#.. .#... #..## ...## .....",
    "&": ".##.. #..#. #.#.. .#... #.#.# #..#. .##.# .....",
    "'": "..#.. ..#.. .#... ..... ..... ..... ..... .....",
    "(": "...#. ..#.. .#... .#... .#... ..#.. ...#. .....",
    ")": ".#... ..#.. ...#. ...#. ...#. ..#.. .#... .....",
    "*": "..... ..#.. #.#.# .###. #.#.# ..#.. ..... .....",
    "+": "..... ..#.. ..#.. ##### ..#.. ..#.. ..... .....",
    ",": "..... ..... ..... ..... ..... .##.. ..#.. .#...",
    "-": "..... ..... ..... ##### ..... ..... ..... .....",
    ".": "..... ..... ..... ..... ..... .##.. .##.. .....",
    "/": "..... ....# ...#. ..#.. .#... #.... ..... .....",
    "0": ".###. #...# #..## #.#.# ##..# #...# .###. .....",
    "1": "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###. .....",
    "2": ".###. #...# ....# ...#. ..#.. .#... ##### .....",
    "3": "##### ...#. ..#.. ...#. ....# #...# .###. .....",
    "4": "...#. ..##. .#.#. #..#. ##### ...#. ...#. .....",
    "5": "##### #.... ####. ....# ....# #...# .###. .....",
    "6": "..##. .#... #.... ####. #...# #...# .###. .....",
    "7": "##### ....# ...#. ..#.. .#... .#... .#... .....",
    "8": ".###. #...# #...# .###. #...# #...# .###. .....",
    "9": ".###. #...# #...# .#### ....# ...#. .##.. .....",
    ":": "..... .##.. .##.. ..... .##.. .##.. ..... .....",
    ";": "..... .##.. .##.. ..... .##.. ..#.. .#... .....",
    "<": "...#. ..#.. .#... #.... .#... ..#.. ...#. .....",
    "=": "..... ..... ##### ..... ##### ..... ..... .....",
    ">": ".#... ..#.. ...#. ....# ...#. ..#.. .#... .....",
    "?": ".###. #...# ....# ...#. ..#.. ..... ..#.. .....",
    "@": ".###. #...# ....# .##.# #.#.# #.#.# .###. .....",
    "A": ".###. #...# #...# ##### #...# #...# #...# .....",
    "B": "####. #...# #...# ####. #...# #...# ####. .....",
    "C": ".###. #...# #.... #.... #.... #...# .###. .....",
    "D": "###.. #..#. #...# #...# #...# #..#. ###.. .....",
    "E": "##### #.... #.... ####. #.... #.... ##### .....",
    "F": "##### #.... #.... ####. #.... #.... #.... .....",
    "G": ".###. #...# #.... #.### #...# #...# .#### .....",
    "H": "#...# #...# #...# ##### #...# #...# #...# .....",
    "I": ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###. .....",
    "J": "..### ...#. ...#. ...#. ...#. #..#. .##.. .....",
    "K": "#...# #..#. #.#.. ##... #.#.. #..#. #...# .....",
    "L": "#.... #.... #.... #.... #.... #.... ##### .....",
    "M": "#...# ##.## #.#.# #.#.# #...# #...# #...# .....",
    "N": "#...# #...# ##..# #.#.# #..## #...# #...# .....",
    "O": ".###. #...# #...# #...# #...# #...# .###. .....",
    "P": "####. #...# #...# ####. #.... #.... #.... .....",
    "Q": ".###. #...# #...# #...# #.#.# #..#. .##.# .....",
    "R": "####. #...# #...# ####. #.#.. #..#. #...# .....",
    "S": ".#### #.... #.... .###. ....# ....# ####. .....",
    "T": "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. .....",
    "U": "#...# #...# #...# #...# #...# #...# .###. .....",
    "V": "#...# #...# #...# #...# #...# .#.#. ..#.. .....",
    "W": "#...# #...# #...# #.#.# #.#.# #.#.# .#.#. .....",
    "X": "#...# #...# .#.#. ..#.. .#.#. #...# #...# .....",
    "Y": "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#.. .....",
    "Z": "##### ....# ...#. ..#.. .#... #.... ##### .....",
    "[": ".###. .#... .#... .#... .#... .#... .###. .....",
    "\\": "..... #.... .#... ..#.. ...#. ....# ..... .....",
    "]": ".###. ...#. ...#. ...#. ...#. ...#. .###. .....",
    "^": "..#.. .#.#. #...# ..... ..... ..... ..... .....",
    "_": "..... ..... ..... ..... ..... ..... ##### .....",
    "`": ".#... ..#.. ...#. ..... ..... ..... ..... .....",
    "a": "..... ..... .###. ....# .#### #...# .#### .....",
    "b": "#.... #.... #.##. ##..# #...# #...# ####. .....",
    "c": "..... ..... .###. #.... #.... #...# .###. .....",
    "d": "....# ....# .##.# #..## #...# #...# .#### .....",
    "e": "..... ..... .###. #...# ##### #.... .###. .....",
    "f": "..##. .#..# .#... ###.. .#... .#... .#... .....",
    "g": "..... ..... .#### #...# #...# .#### ....# .###.",
    "h": "#.... #.... #.##. ##..# #...# #...# #...# .....",
    "i": "..#.. ..... .##.. ..#.. ..#.. ..#.. .###. .....",
    "j": "...#. ..... ..##. ...#. ...#. ...#. #..#. .##..",
    "k": "#.... #.... #..#. #.#.. ##... #.#.. #..#. .....",
    "l": ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###. .....",
    "m": "..... ..... ##.#. #.#.# #.#.# #.#.# #.#.# .....",
    "n": "..... ..... #.##. ##..# #...# #...# #...# .....",
    "o": "..... ..... .###. #...# #...# #...# .###. .....",
    "p": "..... ..... ####. #...# #...# ####. #.... #....",
    "q": "..... ..... .#### #...# #...# .#### ....# ....#",
    "r": "..... ..... #.##. ##..# #.... #.... #.... .....",
    "s": "..... ..... .###. #.... .###. ....# ####. .....",
    "t": ".#... .#... ###.. .#... .#... .#..# ..##. .....",
    "u": "..... ..... #...# #...# #...# #..## .##.# .....",
    "v": "..... ..... #...# #...# #...# .#.#. ..#.. .....",
    "w": "..... ..... #...# #...# #.#.# #.#.# .#.#. .....",
    "x": "..... ..... #...# .#.#. ..#.. .#.#. #...# .....",
    "y": "..... ..... #...# #...# #...# .#### ....# .###.",
    "z": "..... ..... ##### ...#. ..#.. .#... ##### .....",
    "{": "...#. ..#.. ..#.. .#... ..#.. ..#.. ...#. .....",
    "|": "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#.. .....",
    "}": ".#... ..#.. ..#.. ...#. ..#.. ..#.. .#... .....",
    "~": "..... ..... .#... #.#.# ...#. ..... ..... .....",
}


def glyph_bits(char: str) -> np.ndarray:
    """The GLYPH_H x GLYPH_W boolean bitmap of one character (``?`` for unknown ones)."""
    rows = FONT_5X8.get(char, FONT_5X8[FALLBACK_CHAR]).split()
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def font_atlas() -> np.ndarray:
    """R8 coverage atlas (0 or 255): ATLAS_ROWS x ATLAS_COLS cells of CELL_H x CELL_W, row-major
    by character code from FIRST_CHAR, then one solid cell."""
    atlas = np.zeros((ATLAS_ROWS * CELL_H, ATLAS_COLS * CELL_W), np.uint8)
    for index in range(SOLID_CELL + 1):
        row, col = divmod(index, ATLAS_COLS)
        cell = atlas[row * CELL_H:(row + 1) * CELL_H, col * CELL_W:(col + 1) * CELL_W]
        if index == SOLID_CELL:
            cell[:] = BYTE_MAX
        else:
            cell[:GLYPH_H, :GLYPH_W] = glyph_bits(chr(FIRST_CHAR + index)) * BYTE_MAX
    return atlas


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """Coverage (bool, rows x columns) of one line of ``text`` in the font, magnified ``scale``
    times; one spacing column after each character, like the OSD."""
    if not text:
        return np.zeros((GLYPH_H * scale, 0), bool)
    cells = [np.pad(glyph_bits(char), ((0, 0), (0, CELL_W - GLYPH_W))) for char in text]
    line = np.concatenate(cells, axis=1)
    return np.repeat(np.repeat(line, scale, axis=0), scale, axis=1)


REFERENCE_HEIGHT = 360  # text is magnified one font pixel per screen pixel per this many rows
LABEL_MARGIN = 2  # font pixels between a label and the picture's corner, and around its text
LABEL_BOX_SHADE = 0.4  # the box behind a label keeps this share of the picture under it


def scale_for_height(height: int) -> int:
    """Integer font magnification for a window or picture ``height`` rows tall (the OSD's and the
    labels'): 1 up to 539 rows, 2 at 720p, 3 at 1080p."""
    return max(1, round(height / REFERENCE_HEIGHT))


def stamp_label(image: np.ndarray, text: str, scale: int = 1) -> None:
    """Write ``text`` in white on a darkened box into the top-left corner of ``image`` (HxWx3
    uint8 or uint16, in place), clipped to the picture."""
    mask = text_mask(text, scale)
    pad = LABEL_MARGIN * scale
    box_h, box_w = mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad
    top = left = pad
    height, width = image.shape[:2]
    bottom, right = min(height, top + box_h), min(width, left + box_w)
    if bottom <= top or right <= left:
        return
    box = image[top:bottom, left:right]
    np.multiply(box, LABEL_BOX_SHADE, out=box, casting="unsafe")
    glyphs = mask[: max(0, bottom - top - pad), : max(0, right - left - pad)]
    box[pad : pad + glyphs.shape[0], pad : pad + glyphs.shape[1]][glyphs] = np.iinfo(image.dtype).max
