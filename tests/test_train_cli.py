"""``rife-train`` as users run it: real files, real subprocesses (torchrun included), one-line errors.

- From scratch on translating textures, the held-back PSNR rises clearly above the 50/50 blend.
- Ctrl+C ends a run with a final checkpoint and exit 130; ``--resume`` then reproduces the
  uninterrupted run's weights bit for bit.
- ``torchrun --nproc-per-node 2`` (gloo) ends with the weights of one process on the same global batch.
- Its ``flownet.pkl`` loads with ``--model`` in ``rife-interp``, ``rife-eval`` and ``rife-play``.
- Bad input gives one line ``rife-train: error: ...``, a non-zero exit and nothing written.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from rife_live.cli import eval_main, interp_main, train_main
from rife_live.evaluate.datasets import write_png
from rife_live.train.config import TrainConfig
from rife_live.train.loop import build_model
from tests import media
from tests.train_helpers import make_translating_triplets

REPO = Path(__file__).resolve().parents[1]
TRAIN = [sys.executable, "-m", "rife_live.train"]
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
RUN_TIMEOUT_S = 600  # a bound against hangs, far above the normal run time
ERROR_PREFIX = "rife-train: error: "
EXIT_INTERRUPTED = 130

# From scratch: 32x32 translating textures (up to 1.5 px per frame in any direction), whole frames
# trained and scored. (Trained on 32x32 crops, the network scored on larger frames is still unsteady
# after 200 steps: measured dips below the blend midway.)
SCRATCH_ARGS = ("--init", "scratch", "--steps", "200", "--batch", "8", "--crop", "32", "--lr", "1e-3",
                "--val-split", "0.125", "--val-every", "100", "--log-every", "50")
SCRATCH_MIN_GAIN_DB = 1.5  # held-back PSNR above the blend's after them (measured: 2.4 to 3.5 over 3 seeds)
# Short runs for resume and torchrun: float32, no validation.
SHORT_ARGS = ("--init", "scratch", "--crop", "32", "--batch", "4", "--lr", "1e-3", "--warmup", "2",
              "--val-split", "0", "--log-every", "1", "--precision", "float32")


def env() -> dict[str, str]:
    """One thread per process (as torchrun gives each of its processes): on a shared machine two
    threads that wait on each other lose more than they gain, and the runs compare alike."""
    out = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out.pop("RIFE_LIVE_DEBUG", None)
    return out


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env(), capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


def records(folder: Path, kind: str) -> list[dict]:
    lines = (folder / "train.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return torch.load(folder / "flownet.pkl", map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def textures(tmp_path_factory) -> Path:
    """256 translating-texture triplets of 32x32 in the Vimeo90K layout."""
    return make_translating_triplets(tmp_path_factory.mktemp("data") / "textures", count=256, size=32)


# -- learning ------------------------------------------------------------------------------------


def test_from_scratch_on_translating_textures_beats_the_blend(textures, tmp_path):
    result = run([*TRAIN, "--vimeo", str(textures), "-o", "run", *SCRATCH_ARGS], tmp_path)
    assert result.returncode == 0, result.stderr
    start = records(tmp_path / "run", "start")[0]
    vals = records(tmp_path / "run", "val")
    blend, first, last = start["val_blend_psnr"], vals[0]["val_psnr"], vals[-1]["val_psnr"]
    assert [v["step"] for v in vals] == [0, 100, 200]
    assert last > blend + SCRATCH_MIN_GAIN_DB, (blend, [v["val_psnr"] for v in vals])
    assert last > first + SCRATCH_MIN_GAIN_DB
    assert f"held-back PSNR {last:.2f} dB (50/50 blend {blend:.2f} dB)" in result.stderr


# -- resume and torchrun -----------------------------------------------------------------------------


def test_ctrl_c_saves_and_resume_reproduces_the_uninterrupted_run(textures, tmp_path):
    steps = ("--steps", "8", "--seed", "4")
    whole = run([*TRAIN, "--vimeo", str(textures), "-o", "whole", *SHORT_ARGS, *steps], tmp_path)
    assert whole.returncode == 0, whole.stderr

    proc = subprocess.Popen([*TRAIN, "--vimeo", str(textures), "-o", "parts", *SHORT_ARGS, *steps], cwd=tmp_path,
                            env=env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stderr:  # wait for the first logged step, then press Ctrl+C
            lines.append(line)
            if line.startswith("rife-train: [2/8]"):
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.communicate(timeout=RUN_TIMEOUT_S)[1]
    finally:
        proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, "".join(lines) + rest
    stopped = torch.load(tmp_path / "parts" / "checkpoint.pt", map_location="cpu", weights_only=True)["step"]
    assert 2 <= stopped < 8, rest
    assert f"interrupted at step {stopped} of 8: checkpoint saved" in rest
    assert not [p.name for p in (tmp_path / "parts").iterdir() if p.name.startswith(".")]  # no temporaries

    resumed = run([*TRAIN, "--resume", "-o", "parts"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {stopped}" in resumed.stderr
    a, b = weights(tmp_path / "whole"), weights(tmp_path / "parts")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in records(tmp_path / "parts", "train")] == list(range(1, 9))
    losses = [r["loss"] for r in records(tmp_path / "whole", "train")]
    assert [r["loss"] for r in records(tmp_path / "parts", "train")] == losses


def test_torchrun_two_processes_match_one_process_on_the_same_global_batch(textures, tmp_path):
    steps = ("--steps", "3", "--seed", "7")
    one = run([*TRAIN, "--vimeo", str(textures), "-o", "one", *SHORT_ARGS, *steps], tmp_path)
    assert one.returncode == 0, one.stderr
    two = run([*TORCHRUN, "-m", "rife_live.train", "--vimeo", str(textures), "-o", "two", *SHORT_ARGS, *steps],
              tmp_path)
    assert two.returncode == 0, two.stdout + two.stderr
    starts = records(tmp_path / "two", "start")
    assert [s["world"] for s in starts] == [2]  # one log, written by rank 0
    a, b = weights(tmp_path / "one"), weights(tmp_path / "two")
    initial = build_model(TrainConfig(init="scratch", seed=7), None, print).state_dict()
    moved = max((a[k] - initial[k.removeprefix("module.")]).abs().max().item() for k in a)
    worst = max((a[k] - b[k]).abs().max().item() for k in a)
    assert moved > 1e-3  # training changed the weights ...
    assert worst < 1e-4, (worst, moved)  # ... and both runs changed them alike (float tolerance)
    for x, y in zip(records(tmp_path / "one", "train"), records(tmp_path / "two", "train")):
        assert x["loss"] == pytest.approx(y["loss"], rel=1e-4)


# -- the result is a model every command loads -------------------------------------------------------


def test_a_fine_tuned_model_loads_with_model_in_every_command(textures, tmp_path, capsys):
    code = train_main(["--vimeo", str(textures), "-o", str(tmp_path / "tuned"), "--steps", "2", "--batch", "2",
                       "--crop", "32", "--val-split", "0.05", "--val-items", "4", "--log-every", "1"])
    assert code == 0, capsys.readouterr().err
    start, vals = records(tmp_path / "tuned", "start")[0], records(tmp_path / "tuned", "val")
    assert start["config"]["init"] == "rife-hd-v3" and start["config"]["lr"] == pytest.approx(2e-5)
    assert vals[0]["step"] == 0 and vals[0]["val_psnr"] > start["val_blend_psnr"]  # published weights at step 0
    saved = weights(tmp_path / "tuned")
    assert all(k.startswith("module.") for k in saved) and any(".block_tea." in k for k in saved)

    frames = media.bbb_frames(64, 48, 3)
    for index in (0, 2):
        write_png(tmp_path / f"f{index}.png", frames[index])
    assert interp_main([str(tmp_path / "f0.png"), str(tmp_path / "f2.png"), "--exp", "1", "-o", str(tmp_path / "mid"),
                        "--model", str(tmp_path / "tuned"), "--device", "cpu"]) == 0
    assert (tmp_path / "mid" / "img1.png").is_file()

    clip = media.write_frames(tmp_path / "clip.mp4", media.bbb_frames(64, 48, 5))
    assert eval_main(["video", str(clip), "--model", str(tmp_path / "tuned" / "flownet.pkl"), "--device", "cpu",
                      "--json", str(tmp_path / "eval.json")]) == 0
    assert json.loads((tmp_path / "eval.json").read_text())["psnr"] > 20

    played = run([sys.executable, "-c", "import sys; from rife_live.cli import play_main; sys.exit(play_main())",
                  str(clip), "-o", "out.mkv", "--model", str(tmp_path / "tuned"), "--device", "cpu"], tmp_path)
    assert played.returncode == 0, played.stderr
    assert len(list(media.iter_rgb(tmp_path / "out.mkv"))) == 10


# -- bad input: one line, non-zero, nothing written ---------------------------------------------------


def one_line_error(code: int, err: str, *words: str) -> str:
    lines = err.strip().splitlines()
    assert code != 0 and "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture()
def bad_data(tmp_path) -> Path:
    """A folder of small datasets, good and bad."""
    make_translating_triplets(tmp_path / "tiny", count=4, size=32, videos=2)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "tri_trainlist.txt").write_text("\n")
    mismatched = make_translating_triplets(tmp_path / "mismatched", count=2, size=32, videos=1)
    write_png(mismatched / "sequences" / "00001" / "0002" / "im2.png", np.zeros((32, 64, 3), np.uint8))
    media.make_clip(tmp_path / "two.mp4", frames=2)
    return tmp_path


BAD_INPUTS = {  # name: (arguments after -o DIR --init scratch, words the error line holds)
    "no data": ((), ("--vimeo DIR", "--from-videos")),
    "empty list": (("--vimeo", "empty", "--crop", "32"), ("lists no triplets", "empty")),
    "mismatched triplet": (("--vimeo", "mismatched", "--crop", "32"), ("mismatched triplet 00001/0002",)),
    "two-frame video": (("--from-videos", "two.mp4", "--crop", "32"), ("has 2 frames", "at least 3")),
    "crop too large": (("--vimeo", "tiny", "--crop", "64"), ("--crop 64 is larger", "32x32")),
    "crop not a multiple": (("--vimeo", "tiny", "--crop", "40"), ("multiple of 32",)),
    "zero batch": (("--vimeo", "tiny", "--crop", "32", "--batch", "0"), ("--batch must be at least 1",)),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_data_and_settings(case, bad_data, capsys, monkeypatch):
    monkeypatch.chdir(bad_data)
    args, words = BAD_INPUTS[case]
    code = train_main([*args, "-o", "run", "--init", "scratch"])
    one_line_error(code, capsys.readouterr().err, *words)
    assert not (bad_data / "run").exists()


def test_bad_output_folders(bad_data, capsys, monkeypatch):
    monkeypatch.chdir(bad_data)
    data = ("--vimeo", "tiny", "--crop", "32", "--init", "scratch", "--steps", "1", "--val-split", "0")
    (bad_data / "file").write_text("not a folder")
    one_line_error(train_main([*data, "-o", "file/run"]), capsys.readouterr().err, "file is not a folder")
    one_line_error(train_main([*data, "-o", "/proc/rife-train-run"]), capsys.readouterr().err,
                   "cannot write to /proc/rife-train-run")
    one_line_error(train_main(["--resume", "-o", "nothing"]), capsys.readouterr().err, "holds no checkpoint.pt")
    one_line_error(train_main(["--resume", "-y", "-o", "nothing"]), capsys.readouterr().err, "--resume", "-y/--yes")
    assert not (bad_data / "nothing").exists()

    assert train_main([*data, "-o", "run"]) == 0  # a real run to guard
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in (bad_data / "run").iterdir()}
    one_line_error(train_main([*data, "-o", "run"]), capsys.readouterr().err,
                   "already holds a training run", "--resume", "-y/--yes")
    one_line_error(train_main(["--resume", "-o", "run", "--lr", "1e-3"]), capsys.readouterr().err,
                   "--resume continues the run with its saved settings; leave out --lr")
    assert {p.name: p.read_bytes() for p in (bad_data / "run").iterdir()} == before

    media.make_random_bytes(bad_data / "run" / "checkpoint.pt")
    one_line_error(train_main(["--resume", "-o", "run"]), capsys.readouterr().err,
                   "is not a usable rife-train checkpoint", "-y")
    assert (bad_data / "run" / "checkpoint.pt").read_bytes() != before["checkpoint.pt"]  # left as it was found
    assert (bad_data / "run" / "flownet.pkl").read_bytes() == before["flownet.pkl"]
    assert train_main([*data, "-o", "run", "-y"]) == 0  # -y replaces the damaged run
    assert torch.load(bad_data / "run" / "checkpoint.pt", weights_only=True)["step"] == 1
