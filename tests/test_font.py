"""font: the built-in bitmap font, its OSD atlas, and labels stamped into frames."""

from __future__ import annotations

import numpy as np

from rife_live.font import (CELL_H, CELL_W, FIRST_CHAR, FONT_5X8, GLYPH_H, GLYPH_W, LABEL_BOX_SHADE, LABEL_MARGIN,
                            LAST_CHAR, font_atlas, glyph_bits, scale_for_height, stamp_label, text_mask)
from tests import media


def test_font_covers_printable_ascii_with_distinct_glyphs():
    assert sorted(FONT_5X8) == [chr(c) for c in range(FIRST_CHAR, LAST_CHAR + 1)]
    seen = {}
    for char, pattern in FONT_5X8.items():
        rows = pattern.split()
        assert len(rows) == GLYPH_H and all(len(r) == GLYPH_W and set(r) <= {".", "#"}
                                            for r in rows), char
        assert pattern not in seen, f"{char!r} looks like {seen.get(pattern)!r}"
        seen[pattern] = char
    assert not glyph_bits(" ").any() and glyph_bits("H").sum() == 17
    assert np.array_equal(glyph_bits("\u00e9"), glyph_bits("?"))


def test_font_atlas_cells():
    atlas = font_atlas()
    assert atlas.dtype == np.uint8 and atlas.shape[0] % CELL_H == 0 and atlas.shape[1] % CELL_W == 0
    cols = atlas.shape[1] // CELL_W
    index = ord("A") - FIRST_CHAR
    row, col = divmod(index, cols)
    cell = atlas[row * CELL_H:(row + 1) * CELL_H, col * CELL_W:(col + 1) * CELL_W]
    assert np.array_equal(cell[:GLYPH_H, :GLYPH_W] > 0, glyph_bits("A"))
    assert not cell[GLYPH_H:].any() and not cell[:, GLYPH_W:].any()  # spacing stays clear


def test_scale_for_height():
    assert [scale_for_height(h) for h in (90, 360, 539, 540, 720, 1080)] == [1, 1, 1, 2, 2, 3]


def test_text_mask_is_the_glyphs_side_by_side_magnified():
    mask = text_mask("Hi", 3)
    assert mask.shape == (3 * GLYPH_H, 3 * 2 * CELL_W)
    assert np.array_equal(mask[::3, ::3][:, :GLYPH_W], glyph_bits("H"))
    assert np.array_equal(mask[::3, ::3][:, CELL_W:CELL_W + GLYPH_W], glyph_bits("i"))
    assert text_mask("", 2).shape == (2 * GLYPH_H, 0)


def test_stamp_label_on_real_footage():
    frame = media.bbb_frames(320, 180, 1, start=60)[0]
    before = frame.copy()
    stamp_label(frame, "source", 1)
    mask = text_mask("source", 1)
    pad = LABEL_MARGIN
    text = frame[2 * pad:2 * pad + mask.shape[0], 2 * pad:2 * pad + mask.shape[1]]
    assert (text[mask] == 255).all()  # the glyphs are white
    shaded = before[2 * pad:2 * pad + mask.shape[0], 2 * pad:2 * pad + mask.shape[1]][~mask]
    assert np.array_equal(text[~mask], (shaded * LABEL_BOX_SHADE).astype(np.uint8))  # the box darkens
    box_h, box_w = mask.shape[0] + 2 * pad, mask.shape[1] + 2 * pad
    outside = np.ones(frame.shape[:2], bool)
    outside[pad:pad + box_h, pad:pad + box_w] = False
    assert np.array_equal(frame[outside], before[outside])  # nothing else changes


def test_stamp_label_clips_to_a_small_picture():
    tiny = np.full((14, 20, 3), 200, np.uint8)
    stamp_label(tiny, "interpolated", 1)  # far wider than the picture: clipped, no error
    assert tiny.max() == 255 and tiny.min() < 200
    assert (tiny[:LABEL_MARGIN] == 200).all() and (tiny[:, :LABEL_MARGIN] == 200).all()
    sliver = np.full((3, 3, 3), 200, np.uint8)
    stamp_label(sliver, "x", 2)  # no room at all: left as it was
    assert (sliver == 200).all()


def test_stamp_label_on_16bit_frames_is_white_at_16_bits():
    frame = media.bbb_frames(320, 180, 1, start=60)[0].astype(np.uint16) * np.uint16(257)
    eight = media.bbb_frames(320, 180, 1, start=60)[0]
    stamp_label(frame, "source", 1)
    stamp_label(eight, "source", 1)
    mask = text_mask("source", 1)
    pad = LABEL_MARGIN
    assert (frame[2 * pad:2 * pad + mask.shape[0], 2 * pad:2 * pad + mask.shape[1]][mask] == 65535).all()
    changed = frame != eight.astype(np.uint16) * np.uint16(257)
    assert changed[:30, :60].any() and not changed[30:].any()  # only the label box differs (rounding)
