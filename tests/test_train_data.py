"""Training data: triplets from Vimeo90K folders and real videos, the held-back split, augmentation,
and the batch plan that makes a run's data a function of the seed and the step."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import ConfigError, InputError
from rife_live.evaluate.datasets import write_png
from rife_live.train.augment import augment
from rife_live.train.config import TrainConfig
from rife_live.train.sampler import BatchPlan, RankBatches, TripletDataset
from rife_live.train.triplets import load_triplets, open_vimeo
from rife_live.train.videos import cut_triplets, decode_video
from tests import media
from tests.train_helpers import make_translating_triplets

BIKES = Path(__file__).resolve().parent / "data" / "bikes.mp4"
BIKES_FIRST, BIKES_COUNT = 22, 14  # frames 22..35: the shot change before frame 30 is in the middle
BIKES_SIZE = (160, 68)
REPEATED = 3  # the clip repeats its frame 3 (a held frame, as animation has)


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def bikes_clip(tmp_path_factory) -> Path:
    """bikes frames 22..35 at 160x68 with frame 3 shown twice: 15 frames, a static pair (3, 4) and a
    scene cut between frames 8 and 9 (bikes' frame 30)."""
    frames = []
    with av.open(str(BIKES)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= BIKES_FIRST:
                frames.append(frame.to_ndarray(width=BIKES_SIZE[0], height=BIKES_SIZE[1], format="rgb24"))
            if len(frames) == BIKES_COUNT:
                break
    frames.insert(REPEATED + 1, frames[REPEATED].copy())
    return media.write_frames(tmp_path_factory.mktemp("clips") / "bikes-cut.mp4", frames)


def test_video_triplets_leave_out_scene_cuts_and_static_pairs(bikes_clip):
    video = decode_video(bikes_clip)
    assert video.count == BIKES_COUNT + 1 and video.size == (BIKES_SIZE[1], BIKES_SIZE[0])
    picks, report = cut_triplets(video, gaps=(1,), stride=1)
    # starts 7, 8 span the cut (8 | 9); starts 2, 3 have the repeated frame as truth and input
    assert [start for start, _ in picks] == [0, 1, 4, 5, 6, 9, 10, 11, 12]
    assert (report.kept, report.cuts, report.static) == (9, 2, 2)
    wide, _ = cut_triplets(video, gaps=(1, 2), stride=2)
    assert all(start % 2 == 0 for start, _ in wide)
    assert all(not (start <= 8 < start + 2 * gap) for start, gap in wide)  # no triplet across the cut
    assert (0, 2) in wide and (10, 2) in wide


def test_video_split_holds_back_the_end_of_each_video(bikes_clip):
    config = TrainConfig(videos=(bikes_clip, bikes_clip), crop=64, val_split=0.3)
    split = load_triplets(config, quiet)
    assert len(split.train) and len(split.val)
    for part, held in ((split.train, False), (split.val, True)):
        for index in range(len(part)):
            _, start, gap = part.picks[index]
            boundary = 15 - round(15 * 0.3)
            assert (start >= boundary) if held else (start + 2 * gap < boundary)
    frames = split.train.frames(0)
    assert frames.shape == (3, BIKES_SIZE[1], BIKES_SIZE[0], 3) and frames.dtype == np.uint8


def test_video_errors(tmp_path, bikes_clip):
    media.make_clip(tmp_path / "two.mp4", frames=2)
    with pytest.raises(InputError, match="has 2 frames; a training triplet needs at least 3"):
        load_triplets(TrainConfig(videos=(tmp_path / "two.mp4",), crop=32), quiet)
    with pytest.raises(ConfigError, match="--crop 96 is larger than the frames of .* \\(160x68\\)"):
        load_triplets(TrainConfig(videos=(bikes_clip,), crop=96), quiet)
    with pytest.raises(InputError, match="not found"):
        load_triplets(TrainConfig(videos=(tmp_path / "none.mp4",), crop=32), quiet)


def test_vimeo_folder_split_and_errors(tmp_path):
    root = make_translating_triplets(tmp_path / "vimeo", count=24, size=32, videos=6)
    split = load_triplets(TrainConfig(vimeo=root, crop=32, val_split=0.25, val_items=3), quiet)
    train_videos = {split.train.name(i).split("/")[0] for i in range(len(split.train))}
    val_videos = {split.val.name(i).split("/")[0] for i in range(len(split.val))}
    assert len(split.val) == 3 and not train_videos & val_videos  # whole source videos held back
    assert split.fingerprint() == load_triplets(TrainConfig(vimeo=root, crop=32, val_split=0.25, val_items=3),
                                                quiet).fingerprint()

    with pytest.raises(ConfigError, match="--crop 64 is larger"):
        open_vimeo(root, 64)
    write_png(root / "sequences" / "00002" / "0001" / "im3.png", np.zeros((32, 48, 3), np.uint8))
    with pytest.raises(InputError, match="mismatched triplet 00002/0001: its frames differ in size"):
        open_vimeo(root, 32)
    (root / "sequences" / "00002" / "0001" / "im3.png").unlink()
    with pytest.raises(InputError, match="dataset file missing: .*00002/0001/im3.png"):
        open_vimeo(root, 32)
    (root / "tri_trainlist.txt").write_text("\n")
    with pytest.raises(InputError, match="lists no triplets: the dataset is empty"):
        open_vimeo(root, 32)


def test_augment_is_a_function_of_the_generator_and_keeps_the_truth_in_the_middle():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(3, 40, 56, 3), dtype=np.uint8)
    one = augment(frames, np.random.default_rng(7), 32)
    assert one.shape == (3, 32, 32, 3) and one.flags.c_contiguous
    assert np.array_equal(one, augment(frames, np.random.default_rng(7), 32))
    seen_swap = seen_turn = False
    for seed in range(40):
        out = augment(frames, np.random.default_rng(seed), 32)
        plain = augment(frames, np.random.default_rng(seed), 32, enabled=False)
        # every augmentation is a permutation of the crop's pixels and channels, and the middle frame
        # stays the middle one: the same multiset of values per frame
        assert sorted(out[1].ravel()) == sorted(plain[1].ravel())
        swapped = sorted(out[0].ravel()) == sorted(plain[2].ravel())
        seen_swap |= swapped
        seen_turn |= not np.array_equal(np.rot90(plain, axes=(1, 2)), plain) and not swapped
    assert seen_swap and seen_turn
    with pytest.raises(ValueError):
        augment(frames, np.random.default_rng(0), 48)


def test_batch_plan_gives_every_world_size_the_same_samples():
    plan = BatchPlan(items=10, batch=4, seed=3)
    steps = [plan.keys(s) for s in range(5)]
    flat = [key for keys in steps for key in keys]
    assert [k[0] for k in flat] == [0] * 10 + [1] * 10  # epochs of 10 items, batches across epochs
    assert sorted(k[1] for k in flat[:10]) == list(range(10))  # each epoch is a permutation
    assert [k[1] for k in flat[:10]] != [k[1] for k in flat[10:]]  # and a new one each epoch
    assert BatchPlan(10, 4, seed=3).keys(3) == steps[3]  # a pure function of (seed, step)
    for world in (1, 2, 4):
        ranks = [list(RankBatches(BatchPlan(10, 4, 3), rank, world, start=2, stop=5)) for rank in range(world)]
        joined = [sum((ranks[r][i] for r in range(world)), []) for i in range(3)]
        assert joined == steps[2:5]
    with pytest.raises(ValueError):
        RankBatches(plan, 0, 3, 0, 1)


def test_dataset_augments_a_sample_the_same_way_wherever_it_is_drawn(tmp_path):
    root = make_translating_triplets(tmp_path / "vimeo", count=4, size=48, videos=2)
    triplets = open_vimeo(root, 32)
    dataset = TripletDataset(triplets, crop=32, augmented=True, seed=5)
    a, b = dataset[(1, 2)], TripletDataset(triplets, crop=32, augmented=True, seed=5)[(1, 2)]
    assert a.shape == (3, 32, 32, 3) and np.array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(dataset[(2, 2)].numpy(), a.numpy())  # another epoch, another draw
