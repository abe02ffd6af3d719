"""The rife-eval runner end to end on tiny datasets built from real footage; numbers are checked
against independent numpy computations."""

from __future__ import annotations

import csv
import io
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from rife_live.errors import ConfigError, InputError, OutputError
from rife_live.evaluate import datasets
from rife_live.evaluate.runner import EvalOptions, run_eval
from rife_live.models.settings import EngineConfig
from tests import media
from tests.test_datasets import build_middlebury, build_ucf, build_vimeo

W, H = 128, 96


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return media.bbb_frames(W, H, 9, start=60)


def np_psnr(pred: np.ndarray, truth: np.ndarray) -> float:
    mse = np.mean((pred / 255.0 - truth / 255.0) ** 2)
    return -10 * math.log10(mse)


def np_blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.floor((a.astype(np.int32) + b.astype(np.int32)) / 2 + 0.5)  # .5 ties differ from rint


def run(**kwargs) -> tuple:
    out = io.StringIO()
    report = run_eval(EvalOptions(**kwargs), out)
    return report, out.getvalue()


def test_vimeo_blend_and_repeat_match_numpy(tmp_path, frames):
    build_vimeo(tmp_path, frames)
    report, text = run(protocol="vimeo90k", path=tmp_path, methods=("repeat", "blend"),
                       json_path=tmp_path / "r.json", csv_path=tmp_path / "r.csv")
    triplets = [frames[0:3], frames[2:5]]
    repeat = np.mean([np_psnr(a, gt) for a, gt, _ in triplets])
    by_name = {s.method: s for s in report.summaries}
    assert by_name["repeat"].psnr == pytest.approx(repeat, abs=1e-9)
    assert by_name["repeat"].frames == 2 and by_name["repeat"].pairs == 2
    blend_rows = [r for r in report.rows if r.method == "blend"]
    for row, (a, gt, b) in zip(blend_rows, triplets):
        assert row.psnr == pytest.approx(np_psnr(np_blend(a, b), gt), abs=0.05)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["psnr"] == pytest.approx(repeat, abs=1e-9)  # first method at top level
    assert data["ssim"] == by_name["repeat"].ssim
    assert set(data["methods"]) == {"repeat", "blend"}
    assert data["methods"]["blend"]["psnr"] == by_name["blend"].psnr
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4
    assert {r["item"] for r in rows} == {"00001/0001", "00002/0417"}
    assert float(rows[0]["psnr"]) == pytest.approx(report.rows[0].psnr, abs=1e-4)
    assert "repeat" in text and "blend" in text and "PSNR" in text


def test_middlebury_ie_matches_numpy(tmp_path, frames):
    build_middlebury(tmp_path, frames)
    report, text = run(protocol="middlebury", path=tmp_path, methods=("repeat",))
    expected = np.mean([np.abs(frames[2 * k].astype(int) - frames[2 * k + 1]).mean() for k in range(2)])
    assert report.summaries[0].ie == pytest.approx(expected, abs=1e-9)
    assert "IE" in text


def test_network_on_ucf101_with_limit(tmp_path, frames):
    build_ucf(tmp_path, frames)
    report, _ = run(protocol="ucf101", path=tmp_path, methods=("network", "blend"),
                    engine=EngineConfig(device="cpu", dtype="float32"), limit=2)
    assert report.items == 2
    network, blend = report.summaries
    assert network.frames == 2 and network.passes == 2 and network.seconds > 0
    assert blend.passes == 0
    assert network.psnr > blend.psnr


def test_hd_psnr_is_luma_per_sequence_then_over_sequences(tmp_path):
    folder = tmp_path / "HD544p_GT"
    folder.mkdir()
    long = media.bbb_frames(1280, 544, 5, start=40)
    short = media.bbb_frames(1280, 544, 3, start=100)
    datasets.write_yuv420(folder / "a.yuv", long)
    datasets.write_yuv420(folder / "b.yuv", short)
    report, text = run(protocol="hd", path=tmp_path, methods=("repeat",))
    assert report.items == 3

    def luma_psnr(x, y):
        lx = x.astype(np.float64) @ [0.299, 0.587, 0.114]
        ly = y.astype(np.float64) @ [0.299, 0.587, 0.114]
        return 20 * math.log10(255 / math.sqrt(np.mean((lx - ly) ** 2)))

    seq_a = datasets.YuvSequence(folder / "a.yuv", 544, 1280)
    seq_b = datasets.YuvSequence(folder / "b.yuv", 544, 1280)
    read = datasets.read_yuv_frame
    a_mean = np.mean([luma_psnr(read(seq_a, i), read(seq_a, i + 1)) for i in (0, 2)])
    b_mean = luma_psnr(read(seq_b, 0), read(seq_b, 1))
    assert report.summaries[0].psnr == pytest.approx((a_mean + b_mean) / 2, abs=1e-9)
    assert "PSNR-Y" in text


def test_video_counts_and_flow_vs_bisect(tmp_path, frames):
    clip = media.write_frames(tmp_path / "clip.mp4", frames)  # 9 frames
    two, _ = run(protocol="video", path=clip, factor=2, methods=("repeat",))
    assert two.items == 4 and len(two.rows) == 4
    assert [t for t, _ in two.summaries[0].psnr_by_t] == [Fraction(1, 2)]
    costs = {}
    for mode in ("flow", "bisect"):
        report, text = run(protocol="video", path=clip, factor=4, methods=("network", "blend"), arbitrary_t=mode,
                           engine=EngineConfig(device="cpu", dtype="float32"))
        assert report.items == 2 and len(report.rows) == 2 * 2 * 3
        network = report.summaries[0]
        assert network.label == f"network ({mode})"
        assert [t for t, _ in network.psnr_by_t] == [Fraction(1, 4), Fraction(1, 2), Fraction(3, 4)]
        assert "t=1/4" in text
        costs[mode] = network.passes_per_pair
    assert costs == {"flow": 1.0, "bisect": 3.0}


def test_scene_cut_pairs_are_reported_apart(tmp_path):
    full = media.bbb_frames(1280, 720, 7)
    shots = [f[0:96, 0:128] for f in full[:4]] + [f[600:696, 1100:1228] for f in full[4:]]
    clip = media.write_frames(tmp_path / "cut.mp4", shots)
    report, text = run(protocol="video", path=clip, factor=2, methods=("repeat",))
    summary = report.summaries[0]
    assert report.items == 3 and report.cut_items == 1
    assert summary.frames == 2 and summary.cut_frames == 1
    clean = [r.psnr for r in report.rows if not r.cut]
    assert summary.psnr == pytest.approx(np.mean(clean), abs=1e-12)
    cut_rows = [r for r in report.rows if r.cut]
    assert [r.item for r in cut_rows] == ["2-4"]
    assert summary.cut_psnr == cut_rows[0].psnr
    assert "scene-cut pairs" in text


@pytest.mark.parametrize("kwargs", [
    dict(protocol="kitti"),
    dict(protocol="ucf101", methods=()),
    dict(protocol="ucf101", methods=("dain",)),
    dict(protocol="ucf101", methods=("blend", "blend")),
    dict(protocol="ucf101", arbitrary_t="nearest"),
    dict(protocol="ucf101", factor=4),
    dict(protocol="video", factor=3),
    dict(protocol="ucf101", limit=0),
])
def test_bad_options_are_config_errors(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        run(path=tmp_path, **kwargs)


def test_malformed_dataset_fails_before_any_work(tmp_path, frames):
    base = build_vimeo(tmp_path, frames)
    missing = base / "target" / "00001/0001" / "im2.png"
    missing.unlink()
    out = io.StringIO()
    with pytest.raises(InputError, match="im2.png"):
        run_eval(EvalOptions(protocol="vimeo90k", path=tmp_path, methods=("blend",)), out)
    assert out.getvalue() == ""


def test_unwritable_report_is_an_output_error(tmp_path, frames):
    build_vimeo(tmp_path, frames)
    with pytest.raises(OutputError):
        run(protocol="vimeo90k", path=tmp_path, methods=("repeat",), json_path=tmp_path / "no" / "r.json")
