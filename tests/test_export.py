"""The export pipeline end to end (decode thread -> interpolation thread -> sink) on real footage.

``export.export`` runs in this process with the real engine on the CPU, so clips are small
downscales of bigbuckbunny and bikes; one test takes a short window of the real 720p clip. The
timeline checks compare against ``timing.py``'s definition: output k at exactly k / rate.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live import color
from rife_live.colorinfo import WIDEN_8_TO_16, ColorInfo, ContentLight
from rife_live.config import load_config
from rife_live.models.engine import Interpolator
from rife_live.export import ExportResult, export
from rife_live.pipeline.convert import convert_frame
from rife_live.pipeline.source import describe_color, pick_colorspace
from rife_live.sinks.stills import read_image
from rife_live.timing import expected_output_count, output_pts
from tests import media

BIKES = Path(__file__).resolve().parent / "data" / "bikes.mp4"
BIKES_CUT = 30  # first frame of bikes' second shot
SMALL = (160, 96)
TIMELINE_SIZE = (256, 144)  # the whole bbb clip, downscaled with its audio copied
FULL_WINDOW = (Fraction(2), Fraction(23, 10))  # seconds of the real 720p clip: 18 outputs, 7 network passes
BBB_SECONDS = Fraction(media.BBB_FRAMES) / media.BBB_FPS  # 5.28 s
PSNR_MARGIN_DB = 1.0  # the network must beat the blend by at least this much on average


def _quiet(_message: str) -> None:
    pass


def _export(target: Path, **flags: object) -> ExportResult:
    """``rife-play TARGET --flag value ...`` without the process (flags as the CLI names them)."""
    config = load_config(None, {k.replace("_", "-"): v for k, v in flags.items()}, user_config=False)
    return export(config, str(target), log=_quiet, progress=False)


def _audio_span(path: Path) -> Fraction | None:
    """Seconds from the first audio packet's start to the last one's end; None without audio."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        first = last = None
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            start = packet.pts * stream.time_base
            end = (packet.pts + packet.duration) * stream.time_base
            first = start if first is None else min(first, start)
            last = end if last is None else max(last, end)
        return None if first is None else last - first


def _pngs(folder: Path) -> list[np.ndarray]:
    return [read_image(p) for p in sorted(folder.glob("*.png"))]


def downscaled_copy(path: Path, *, source: str, width: int, height: int, first: int = 0,
                    count: int | None = None, crf: int | None = None) -> Path:
    """``source`` scaled to width x height (H.264, same rate and pts), its audio packets copied."""
    with av.open(source) as src, av.open(str(path), "w") as dst:
        vin = src.streams.video[0]
        rate = vin.average_rate
        vout = dst.add_stream("libx264", rate=rate, options={"crf": str(crf)} if crf is not None else {})
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        audio = src.streams.audio[0] if src.streams.audio and first == 0 and count is None else None
        aout = dst.add_stream_from_template(audio) if audio is not None else None
        written = 0
        for index, frame in enumerate(src.decode(vin)):
            if index < first:
                continue
            rgb = frame.to_ndarray(width=width, height=height, format="rgb24")
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
            out.pts, out.time_base = written, 1 / rate
            for packet in vout.encode(out):
                dst.mux(packet)
            written += 1
            if written == count:
                break
        for packet in vout.encode(None):
            dst.mux(packet)
        if audio is not None:
            src.seek(0)
            for packet in src.demux(audio):
                if packet.dts is None:
                    continue
                packet.stream = aout
                dst.mux(packet)
    return path


@pytest.fixture(scope="module")
def small_clip(media_cache) -> Path:
    return media_cache.get("bbb_small.mp4", media.make_clip, width=SMALL[0], height=SMALL[1], frames=6, start=60)


@pytest.fixture(scope="module")
def engine() -> Interpolator:
    return Interpolator(log=_quiet)


# -- the timeline ---------------------------------------------------------------------------------


def test_full_resolution_window_of_the_real_clip_at_60fps(bbb_path, tmp_path) -> None:
    out = tmp_path / "window.mkv"
    start, end = FULL_WINDOW
    result = _export(bbb_path, path=out, target_fps="60", start=f"{float(start):g}", end=f"{float(end):g}")

    frames, pts = media.frames_and_pts(out)
    expected = expected_output_count(media.BBB_FRAMES, media.BBB_FPS, 60, start=start, end=end)
    assert expected == 18 and result.frames == expected and len(frames) == expected
    assert frames[0].shape == (720, 1280, 3)
    assert [round(p * 60) for p in pts] == list(range(expected))  # .mkv keeps milliseconds
    audio = _audio_span(out)
    assert audio is not None and abs(audio - Fraction(expected, 60)) <= Fraction(1, 60)
    assert result.stats["interpolate"]["kinds"]["interp"] > 0


@pytest.fixture(scope="module")
def timeline_export(bbb_path, media_cache, tmp_path_factory) -> tuple[Path, Path, ExportResult]:
    """The whole clip (132 frames + AAC) downscaled, exported at 60 fps to .mp4 (exact pts) with stats."""
    clip = media_cache.get("bbb_timeline.mp4", downscaled_copy, source=str(bbb_path),
                           width=TIMELINE_SIZE[0], height=TIMELINE_SIZE[1])
    folder = tmp_path_factory.mktemp("timeline")
    out, stats = folder / "out.mp4", folder / "stats.json"
    return out, stats, _export(clip, path=out, target_fps="60", stats_json=stats)


def test_whole_clip_at_60fps_has_exactly_the_timing_modules_frames(timeline_export) -> None:
    out, _stats, result = timeline_export
    frames, pts = media.frames_and_pts(out)
    expected = [output_pts(k, 0, 60) for k in range(expected_output_count(media.BBB_FRAMES, media.BBB_FPS, 60))]
    assert len(expected) == 317 and expected[-1] == Fraction(316, 60)
    assert result.frames == 317 and len(frames) == 317
    assert pts == expected  # .mp4 keeps them exact: k / 60 seconds
    assert frames[0].shape == (TIMELINE_SIZE[1], TIMELINE_SIZE[0], 3)
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 60
    audio = _audio_span(out)
    assert audio is not None, "the source's audio track is missing from the export"
    assert abs(audio - Fraction(317, 60)) <= Fraction(1, 60)
    assert abs(audio - BBB_SECONDS) <= Fraction(1, 60)


def test_stats_json_is_written_and_consistent(timeline_export) -> None:
    _out, path, result = timeline_export
    stats = json.loads(path.read_text())
    assert stats["frames"] == 317 and stats["rate"] == "60" and stats["interrupted"] is False
    assert stats["input"].endswith(".mp4") and stats["output"].endswith("out.mp4")
    assert stats["elapsed_s"] > 0 and stats["fps"] > 0
    interp = stats["interpolate"]
    assert interp["source_frames"] == media.BBB_FRAMES and interp["pairs"] == media.BBB_FRAMES - 1
    assert interp["outputs"] == 317 and sum(interp["kinds"].values()) == 317
    # 60/25: every pair holds 2 or 3 outputs, at most one of them at t = 0 (source frames at k/60 = i/25)
    assert interp["kinds"]["source"] == 27 + 2  # i multiple of 5 (27 of them) + the last frame's tail
    assert 0 < interp["network_passes"] <= interp["pairs"]
    assert interp["network_ms_per_pass"] > 0
    assert stats["decode"]["frames"] == media.BBB_FRAMES
    assert stats == json.loads(json.dumps(result.stats, default=str))


# -- rate options, PNG and montage ----------------------------------------------------------------


@pytest.mark.parametrize("flags, factor", [({"exp": "2"}, 4), ({"multi": "3"}, 3)])
def test_exp_and_multi_multiply_the_frame_count(small_clip, tmp_path, flags, factor) -> None:
    out = tmp_path / "out.mkv"
    result = _export(small_clip, path=out, **flags)
    frames, pts = media.frames_and_pts(out)
    assert result.rate == factor * 25
    assert len(frames) == result.frames == factor * 6
    assert [round(p * result.rate) for p in pts] == list(range(factor * 6))


def test_png_folder_gets_one_file_per_output_frame(small_clip, tmp_path) -> None:
    result = _export(small_clip, png_dir=tmp_path / "frames", target_fps="60")
    files = sorted((tmp_path / "frames").glob("*.png"))
    assert len(files) == result.frames == expected_output_count(6, 25, 60) == 15
    assert read_image(files[0]).shape == (SMALL[1], SMALL[0], 3)


def test_montage_is_twice_as_wide_with_the_source_on_the_left(small_clip, tmp_path) -> None:
    _export(small_clip, png_dir=tmp_path / "plain")
    _export(small_clip, png_dir=tmp_path / "montage", montage="yes")
    plain, montage = _pngs(tmp_path / "plain"), _pngs(tmp_path / "montage")
    width = SMALL[0]
    assert len(plain) == len(montage) == 12
    for k, (single, both) in enumerate(zip(plain, montage)):
        assert both.shape == (SMALL[1], 2 * width, 3)
        np.testing.assert_array_equal(both[:, width:], media.labelled(single, "interpolated"))  # right: the output
        np.testing.assert_array_equal(both[:, :width], media.labelled(plain[k - k % 2], "source"))  # left: the pair's source
    decoded = list(media.iter_rgb(small_clip))  # PyAV's own decode of the clip: the left halves exactly
    assert len(decoded) == 6
    for i, source in enumerate(decoded):
        np.testing.assert_array_equal(montage[2 * i][:, :width], media.labelled(source, "source"))


def test_montage_to_a_video_file(small_clip, tmp_path) -> None:
    out = tmp_path / "montage.mkv"
    _export(small_clip, path=out, montage="yes")
    frames, _ = media.frames_and_pts(out)
    assert len(frames) == 12 and frames[0].shape == (SMALL[1], 2 * SMALL[0], 3)


def test_no_output_is_a_dry_run_through_the_null_sink_with_a_given_engine(small_clip, tmp_path, engine,
                                                                         monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {"multi": "2"}, user_config=False)
    result = export(config, str(small_clip), log=_quiet, progress=False, engine=engine)
    assert result.frames == 12 and result.stats["output"] == "null"
    assert result.stats["interpolate"]["network_passes"] == 5
    assert list(tmp_path.iterdir()) == []  # nothing written


# -- frames are the engine's, untouched -----------------------------------------------------------


def test_every_middle_frame_is_exactly_the_engines_output(small_clip, tmp_path, engine) -> None:
    result = _export(small_clip, png_dir=tmp_path / "frames", exp="1")
    frames = _pngs(tmp_path / "frames")
    assert len(frames) == 12 and result.stats["interpolate"]["kinds"]["interp"] == 5
    for i in range(5):
        source0, middle, source1 = frames[2 * i], frames[2 * i + 1], frames[2 * i + 2]
        np.testing.assert_array_equal(middle, engine.interpolate(source0, source1), err_msg=f"pair {i}")
    np.testing.assert_array_equal(frames[11], frames[10])  # the last frame's tail is a copy of it


def test_drop_every_other_frame_network_beats_the_blend(bbb_path, tmp_path) -> None:
    """Real footage at half rate, doubled by the pipeline: the frames it makes are closer to the
    dropped real frames than a 50/50 blend of their neighbours."""
    size, start, pairs = (224, 128), 40, 12
    truth = media.bbb_frames(*size, 2 * pairs + 1, start=start)
    clip = media.write_frames(tmp_path / "half.mkv", truth[::2], fps=Fraction(25, 2), options={"crf": "8"})
    result = _export(clip, png_dir=tmp_path / "frames", multi="2")
    frames = _pngs(tmp_path / "frames")
    assert result.stats["interpolate"]["kinds"]["interp"] == pairs  # no pair taken for a cut or static
    network, blend = [], []
    for i in range(pairs):
        before, made, after = frames[2 * i], frames[2 * i + 1], frames[2 * i + 2]
        mixed = ((before.astype(np.uint16) + after + 1) // 2).astype(np.uint8)
        network.append(media.psnr(made, truth[2 * i + 1]))
        blend.append(media.psnr(mixed, truth[2 * i + 1]))
    assert np.mean(network) > np.mean(blend) + PSNR_MARGIN_DB, (network, blend)


def test_no_output_frame_mixes_two_shots(tmp_path) -> None:
    """bikes around a real cut, at 60 fps: the outputs between the last frame of shot A and the
    first of shot B are the last frame of shot A, exactly."""
    first, count = BIKES_CUT - 8, 16
    clip = downscaled_copy(tmp_path / "bikes.mp4", source=str(BIKES), width=160, height=68, first=first,
                           count=count)
    sources = tmp_path / "sources"
    _export(clip, png_dir=sources, multi="1")  # the decoded source frames themselves (t = 0 only)
    source = _pngs(sources)
    result = _export(clip, png_dir=tmp_path / "frames", target_fps="60")
    frames = _pngs(tmp_path / "frames")
    assert len(source) == count and len(frames) == result.frames == expected_output_count(count, 25, 60)
    last_a = BIKES_CUT - first - 1
    pts = [Fraction(k, 60) for k in range(len(frames))]
    between = [k for k, p in enumerate(pts) if Fraction(last_a, 25) <= p < Fraction(last_a + 1, 25)]
    assert between == [17, 18, 19]
    for k in between:
        np.testing.assert_array_equal(frames[k], source[last_a], err_msg=f"output {k} mixes the shots")
    kinds = result.stats["interpolate"]["kinds"]
    assert kinds["cut"] == len(between) and kinds["interp"] > 0
    # Within a shot the outputs are interpolated, not repeats.
    inside = next(k for k, p in enumerate(pts) if Fraction(2, 25) < p < Fraction(3, 25))
    assert not np.array_equal(frames[inside], source[2]) and not np.array_equal(frames[inside], source[3])


# -- colour: HDR and 10-bit sources keep their meaning (DESIGN.md §11) -------------------------------

DEEP = (64, 48)
TAGS_HDR10 = (9, 9, 16, 1)  # matrix bt2020nc, primaries bt2020, transfer smpte2084, limited range
STATIC_FRAMES = 3


def stream_facts(path: Path) -> tuple[str, str, tuple[int, int, int, int], ColorInfo]:
    """The codec, pixel format, tags (matrix, primaries, transfer, range) and the colour description
    (with HDR10 side data) of a file's first video frame, read back with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        tags = (frame.colorspace, frame.color_primaries, frame.color_trc, frame.color_range)
        matrix = pick_colorspace(frame.colorspace, frame.height)
        return stream.codec_context.codec.name, frame.format.name, tags, describe_color(frame, matrix)


def first_rgb48(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        out = np.empty((frame.height, frame.width, 3), np.uint16)
        convert_frame(frame, out, colorspace=pick_colorspace(frame.colorspace, frame.height), rotation=0)
        return out


def read_png16(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb48le")


def psnr16(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((color.code_values(a) - color.code_values(b)) ** 2))
    return float("inf") if mse == 0 else -10 * np.log10(mse)


@pytest.fixture(scope="module")
def hdr10_clip(media_cache) -> Path:
    return media_cache.get("hdr10.mkv", media.make_hdr10_clip, width=DEEP[0], height=DEEP[1], frames=3)


def test_hdr10_export_keeps_tags_bit_depth_and_side_data(hdr10_clip, tmp_path) -> None:
    out = tmp_path / "out.mkv"
    _export(hdr10_clip, path=out)
    codec, pix_fmt, tags, got = stream_facts(out)
    *_, source = stream_facts(hdr10_clip)
    assert (codec, pix_fmt, tags) == ("hevc", "yuv420p10le", TAGS_HDR10)
    assert source.mastering is not None and source.light == ContentLight(*media.HDR10_MAX_CLL)
    assert got.mastering == source.mastering and got.light == source.light  # the exact HDR10 numbers
    assert got == source  # primaries, transfer, matrix, range, bit depth and side data
    assert psnr16(first_rgb48(out), first_rgb48(hdr10_clip)) > 30  # the same picture (x265 at 64x48), not a misread


@pytest.mark.parametrize("maker, tags", [(media.make_hlg_clip, (9, 9, 18, 1)),
                                         (media.make_10bit_sdr_clip, (1, 1, 1, 1))], ids=["hlg", "sdr10"])
def test_hlg_and_10bit_sdr_exports_keep_their_tags(media_cache, tmp_path, maker, tags) -> None:
    clip = media_cache.get(f"{maker.__name__}.mkv", maker, width=DEEP[0], height=DEEP[1], frames=3)
    out = tmp_path / "out.mp4"
    _export(clip, path=out)
    codec, pix_fmt, got_tags, got = stream_facts(out)
    assert (codec, pix_fmt, got_tags) == ("hevc", "yuv420p10le", tags)
    assert got == stream_facts(clip)[3]


def test_webm_of_an_hdr_source_is_10bit_av1_with_its_side_data(hdr10_clip, tmp_path) -> None:
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libsvtav1")
    out = tmp_path / "out.webm"
    _export(hdr10_clip, path=out)
    codec, pix_fmt, tags, got = stream_facts(out)
    assert pix_fmt == "yuv420p10le" and tags == TAGS_HDR10 and codec in ("libdav1d", "av1", "libaom-av1")
    source = stream_facts(hdr10_clip)[3]
    assert got.light == source.light and got.mastering is not None
    assert got.mastering.max_luminance == source.mastering.max_luminance  # SVT-AV1 rounds the chromaticities


def test_a_static_pair_keeps_the_10bit_values_exactly(media_cache, tmp_path) -> None:
    """A 10-bit 4:4:4 lossless clip of one picture: its pairs are copied (no network), and a
    lossless export of them has the source's 10-bit values, plane for plane."""
    clip = media_cache.get("static10.mkv", media.make_10bit_sdr_clip, width=DEEP[0], height=DEEP[1],
                           frames=STATIC_FRAMES, source="pattern", static=True, codec="ffv1", pix_fmt="yuv444p10le")
    assert np.any(first_rgb48(clip) % WIDEN_8_TO_16)  # more than 8 bits: an 8-bit round trip would change it
    out = tmp_path / "out.mkv"
    result = _export(clip, path=out, vcodec="ffv1", pix_fmt="yuv444p10le")
    assert result.stats["interpolate"]["network_passes"] == 0 and result.stats["interpolate"]["kinds"]["copy"] > 0
    with av.open(str(clip)) as src:
        want = [np.frombuffer(p, np.uint16).copy() for p in next(src.decode(video=0)).planes]
    with av.open(str(out)) as made:
        frames = [[np.frombuffer(p, np.uint16).copy() for p in f.planes] for f in made.decode(video=0)]
    assert len(frames) == 2 * STATIC_FRAMES
    for planes in frames:
        for got, plane in zip(planes, want):
            np.testing.assert_array_equal(got, plane)
    pngs = tmp_path / "png16"
    _export(clip, png_dir=pngs, bit_depth="16")
    for path in sorted(pngs.glob("*.png")):  # 16-bit PNGs: the source's RGB values, bit for bit
        np.testing.assert_array_equal(read_png16(path), first_rgb48(clip))


def test_forced_8bit_export_of_hdr_is_tone_mapped_not_relabelled(media_cache, tmp_path) -> None:
    clip = media_cache.get("hdr10_static.mkv", media.make_hdr10_clip, width=128, height=96, frames=STATIC_FRAMES,
                           static=True)
    out = tmp_path / "sdr.mkv"
    _export(clip, path=out, pix_fmt="yuv420p")
    codec, pix_fmt, tags, _ = stream_facts(out)
    assert (codec, pix_fmt, tags) == ("h264", "yuv420p", (1, 1, 1, 1))
    source = first_rgb48(clip)
    hdr = stream_facts(clip)[3]

    def mean_luma(rgb8: np.ndarray) -> float:  # BT.709 limited-range Y' of 8-bit RGB, as the encoder makes it
        return float(16 + 219 * np.mean(color.code_values(rgb8) @ color.luminance_weights("bt709")))

    tone_mapped = mean_luma(color.to_sdr_uint8(source, hdr))
    relabelled = mean_luma(color.narrow_to_uint8(source))  # the PQ code values called BT.709: what was written before
    with av.open(str(out)) as made:
        measured = [float(np.mean(f.to_ndarray()[:f.height])) for f in made.decode(video=0)]  # the Y plane
    assert tone_mapped - relabelled > 15  # SDR white sits at 58 % in PQ: the relabelled picture is far too dark
    for luma in measured:
        assert abs(luma - tone_mapped) < 1.5 and abs((luma - relabelled) - (tone_mapped - relabelled)) < 1.5


def test_png_of_hdr_is_tone_mapped_at_8_bits_and_kept_at_16(media_cache, tmp_path) -> None:
    clip = media_cache.get("hdr10_static.mkv", media.make_hdr10_clip, width=128, height=96, frames=STATIC_FRAMES,
                           static=True)
    source, hdr = first_rgb48(clip), stream_facts(clip)[3]
    _export(clip, png_dir=tmp_path / "eight")
    _export(clip, png_dir=tmp_path / "sixteen", bit_depth="16")
    for image in _pngs(tmp_path / "eight"):
        np.testing.assert_array_equal(image, color.to_sdr_uint8(source, hdr))
    for path in sorted((tmp_path / "sixteen").glob("*.png")):
        np.testing.assert_array_equal(read_png16(path), source)
        assert b"cICP" in path.read_bytes()  # the PNG says BT.2020 / PQ
