"""Dataset layouts built in temporary folders from real footage (bigbuckbunny frames, 128x96)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from rife_live.errors import ConfigError, InputError
from rife_live.evaluate import datasets
from rife_live.evaluate.datasets import open_dataset, read_image, write_png
from tests import media

W, H = 128, 96
HALF = Fraction(1, 2)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return media.bbb_frames(W, H, 9, start=60)


def build_vimeo(root: Path, frames: list[np.ndarray], names=("00001/0001", "00002/0417")) -> Path:
    base = root / "vimeo_interp_test"
    for k, name in enumerate(names):
        folder = base / "target" / name
        folder.mkdir(parents=True)
        for j, file in enumerate(("im1.png", "im2.png", "im3.png")):
            write_png(folder / file, frames[2 * k + j])
    (base / "tri_testlist.txt").write_text("\n".join(names) + "\n\n")
    return base


def build_ucf(root: Path, frames: list[np.ndarray], ids=("2", "10", "1")) -> Path:
    base = root / "ucf101_interp_ours"
    for k, name in enumerate(ids):
        folder = base / name
        folder.mkdir(parents=True)
        for j, file in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
            write_png(folder / file, frames[2 * k + j])
    return base


def build_middlebury(root: Path, frames: list[np.ndarray], names=("Beanbags", "Walking")) -> Path:
    for k, name in enumerate(names):
        (root / "other-data" / name).mkdir(parents=True)
        (root / "other-gt-interp" / name).mkdir(parents=True)
        write_png(root / "other-data" / name / "frame10.png", frames[2 * k])
        write_png(root / "other-gt-interp" / name / "frame10i11.png", frames[2 * k + 1])
        write_png(root / "other-data" / name / "frame11.png", frames[2 * k + 2])
    # a sequence without ground truth (the evaluation half of OTHER) is not an item
    (root / "other-data" / "Army").mkdir()
    return root


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


def test_png_round_trip_is_lossless(tmp_path, frames):
    write_png(tmp_path / "a.png", frames[0])
    assert np.array_equal(read_image(tmp_path / "a.png"), frames[0])


def test_unreadable_image_is_an_input_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    with pytest.raises(InputError) as exc:
        read_image(bad)
    assert str(bad) in one_line(exc)


def test_vimeo_items_and_parent_folder(tmp_path, frames):
    build_vimeo(tmp_path, frames)
    for path in (tmp_path, tmp_path / "vimeo_interp_test"):
        ds = open_dataset("vimeo90k", path)
        assert ds.count == 2
        items = list(ds)
        assert [i.name for i in items] == ["00001/0001", "00002/0417"]
        second = items[1]
        assert np.array_equal(second.frame0, frames[2])
        assert np.array_equal(second.frame1, frames[4])
        assert len(second.targets) == 1 and second.targets[0].t == HALF
        assert np.array_equal(second.targets[0].truth, frames[3])


def test_vimeo_missing_frame_is_named(tmp_path, frames):
    base = build_vimeo(tmp_path, frames)
    missing = base / "target" / "00002/0417" / "im3.png"
    missing.unlink()
    with pytest.raises(InputError) as exc:
        open_dataset("vimeo90k", tmp_path)
    assert str(missing) in one_line(exc)


def test_vimeo_missing_list_is_named(tmp_path, frames):
    base = build_vimeo(tmp_path, frames)
    (base / "tri_testlist.txt").unlink()
    with pytest.raises(InputError) as exc:
        open_dataset("vimeo90k", base)
    assert "tri_testlist.txt" in one_line(exc)


def test_ucf101_items_sorted_by_name(tmp_path, frames):
    build_ucf(tmp_path, frames)
    items = list(open_dataset("ucf101", tmp_path))
    assert [i.name for i in items] == ["1", "10", "2"]
    first = items[0]  # id "1" was built from frames 4, 5, 6
    assert np.array_equal(first.frame0, frames[4])
    assert np.array_equal(first.targets[0].truth, frames[5])
    assert np.array_equal(first.frame1, frames[6])


def test_ucf101_missing_ground_truth_is_named(tmp_path, frames):
    base = build_ucf(tmp_path, frames)
    missing = base / "10" / "frame_01_gt.png"
    missing.unlink()
    with pytest.raises(InputError) as exc:
        open_dataset("ucf101", base)
    assert str(missing) in one_line(exc)


def test_middlebury_items_are_the_sequences_with_ground_truth(tmp_path, frames):
    build_middlebury(tmp_path, frames)
    items = list(open_dataset("middlebury", tmp_path))
    assert [i.name for i in items] == ["Beanbags", "Walking"]
    assert np.array_equal(items[1].targets[0].truth, frames[3])


def test_middlebury_missing_input_is_named(tmp_path, frames):
    build_middlebury(tmp_path, frames)
    missing = tmp_path / "other-data" / "Walking" / "frame11.png"
    missing.unlink()
    with pytest.raises(InputError) as exc:
        open_dataset("middlebury", tmp_path)
    assert str(missing) in one_line(exc)


def test_middlebury_missing_ground_truth_folder_is_named(tmp_path, frames):
    (tmp_path / "other-data").mkdir()
    with pytest.raises(InputError) as exc:
        open_dataset("middlebury", tmp_path)
    assert "other-gt-interp" in one_line(exc)


def test_frames_of_different_sizes_are_refused(tmp_path, frames):
    base = build_ucf(tmp_path, frames, ids=("1",))
    write_png(base / "1" / "frame_02.png", frames[2][:-2])
    with pytest.raises(InputError) as exc:
        list(open_dataset("ucf101", base))
    assert "frame_02.png" in one_line(exc)


def test_yuv_conversion_follows_the_analogue_bt601_equations():
    """HD.py's YUV: Y/255, U/255 - 0.5, V/255 - 0.5, then R = Y + 1.13983 V, G = Y - 0.39465 U -
    0.58060 V, B = Y + 2.03211 U (textbook analogue YUV), clipped and truncated to 8 bits."""
    h, w = 4, 6
    rng = np.random.default_rng(3)
    y = rng.integers(16, 236, (h, w)).astype(np.uint8)
    u, v = 100, 170  # constant chroma planes, so upsampling cannot change them
    raw = np.concatenate([y.ravel(), np.full(h * w // 4, u, np.uint8), np.full(h * w // 4, v, np.uint8)])
    rgb = datasets.yuv420_to_rgb(raw, h, w).astype(int)
    yf, uf, vf = y / 255.0, u / 255.0 - 0.5, v / 255.0 - 0.5
    expected = np.stack([yf + 1.13983 * vf, yf - 0.39465 * uf - 0.58060 * vf, yf + 2.03211 * uf], axis=-1)
    expected = (255 * np.clip(expected, 0, 1)).astype(int)
    assert np.abs(rgb - expected).max() <= 1
    assert np.mean(rgb == expected) > 0.9
    grey = np.full(h * w * 3 // 2, 128, np.uint8)  # chroma 128 is +0.002, not zero, in this convention
    assert datasets.yuv420_to_rgb(grey, h, w)[0, 0].tolist() == [128, 127, 129]


def test_hd_layout_items_per_sequence(tmp_path):
    root = tmp_path / "HD_dataset"
    folder = root / "HD544p_GT"
    folder.mkdir(parents=True)
    hd_frames = media.bbb_frames(1280, 544, 5, start=60)
    datasets.write_yuv420(folder / "Sintel_Alley2_1280x544.yuv", hd_frames)
    ds = open_dataset("hd", tmp_path)
    assert ds.count == 2  # frames 0, 2 predict 1; frames 2, 4 predict 3
    items = list(ds)
    assert [i.name for i in items] == ["Sintel_Alley2_1280x544:1", "Sintel_Alley2_1280x544:3"]
    assert {i.group for i in items} == {"Sintel_Alley2_1280x544"}
    assert items[1].frame0.shape == (544, 1280, 3)
    assert media.psnr(items[1].targets[0].truth, hd_frames[3]) > 35  # 4:2:0 round trip of real footage


def test_hd_short_or_missing_files_are_named(tmp_path):
    with pytest.raises(InputError) as exc:
        open_dataset("hd", tmp_path)
    assert "HD720p_GT" in one_line(exc)
    folder = tmp_path / "HD720p_GT"
    folder.mkdir()
    short = folder / "parkrun_1280x720_50.yuv"
    short.write_bytes(bytes(1280 * 720 * 3 // 2 * 2))  # two frames: no triplet
    with pytest.raises(InputError) as exc:
        open_dataset("hd", tmp_path)
    assert str(short) in one_line(exc)


def test_video_pairs_for_factor_2_and_4(tmp_path, frames):
    clip = media.write_frames(tmp_path / "clip.mp4", frames)  # 9 frames
    decoded = list(media.iter_rgb(clip))
    assert len(decoded) == 9
    two = list(open_dataset("video", clip, 2))
    assert len(two) == datasets.video_item_count(9, 2) == 4
    assert [i.name for i in two] == ["0-2", "2-4", "4-6", "6-8"]
    assert np.array_equal(two[1].targets[0].truth, decoded[3])
    assert all(len(i.targets) == 1 and i.targets[0].t == HALF for i in two)
    four = list(open_dataset("video", clip, 4))
    assert len(four) == datasets.video_item_count(9, 4) == 2
    assert [t.t for t in four[1].targets] == [Fraction(1, 4), HALF, Fraction(3, 4)]
    assert np.array_equal(four[1].frame0, decoded[4]) and np.array_equal(four[1].frame1, decoded[8])
    assert [t.label for t in four[1].targets] == ["frame 5", "frame 6", "frame 7"]
    assert not any(i.cut for i in two + four)


def test_video_scene_cut_pair_is_flagged(tmp_path):
    full = media.bbb_frames(1280, 720, 7)
    shot_a = [f[0:96, 0:128] for f in full[:4]]  # dark trees, top left
    shot_b = [f[600:696, 1100:1228] for f in full[4:]]  # bright grass, bottom right
    clip = media.write_frames(tmp_path / "cut.mp4", shot_a + shot_b)
    items = list(open_dataset("video", clip, 2))
    assert [i.cut for i in items] == [False, True, False]  # pair 2-4 spans the cut at frame 4


def test_bad_protocol_factor_and_paths(tmp_path):
    with pytest.raises(ConfigError):
        open_dataset("kitti", tmp_path)
    with pytest.raises(ConfigError):
        open_dataset("video", media.BBB_PATH, 3)
    with pytest.raises(InputError) as exc:
        open_dataset("video", tmp_path / "nope.mp4")
    assert "nope.mp4" in one_line(exc)
    with pytest.raises(InputError) as exc:
        open_dataset("ucf101", tmp_path / "nowhere")
    assert "nowhere" in one_line(exc)
    not_video = media.make_random_bytes(tmp_path / "noise.mp4")
    with pytest.raises(InputError):
        open_dataset("video", not_video)
