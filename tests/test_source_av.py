"""pipeline/source_av.py: opening files, URLs, webcams and lavfi graphs; the facts they report, seek,
and the one-line errors for bad inputs. Media are real files written by ``tests/media.py``; network
errors use real sockets on 127.0.0.1 (a closed port, and a listener that never answers).
"""

from __future__ import annotations

import dataclasses
import socket
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from rife_live.colorinfo import ContentLight
from rife_live.errors import InputError
from rife_live.pipeline.drivers import open_source
from rife_live.pipeline.source import HWDEC_DEVICE, InputKind, SourceOptions, hardware_options
from tests import fuzz_media, media
from tests.live_servers import free_port

SHORT_TIMEOUT = SourceOptions(network_timeout=1.0)


def test_bbb_facts(bbb_path: Path) -> None:
    with open_source(bbb_path) as src:
        assert src.kind == InputKind.FILE and not src.is_live
        v = src.video
        assert (v.width, v.height, v.fps, v.codec, v.pix_fmt) == (1280, 720, Fraction(25), "h264", "yuv420p")
        assert v.duration == Fraction(132, 25) and v.frame_count == 132
        assert v.rotation == 0 and v.colorspace == "bt709"  # untagged HD
        assert src.audio is not None and (src.audio.sample_rate, src.audio.channels) == (48000, 6)
        assert src.origin == 0
        video = [f for f in src.items() if isinstance(f, av.VideoFrame)]
        assert [src.relative_time(f) for f in video] == [Fraction(k, 25) for k in range(132)]


def test_small_clip_sd_is_bt601_and_tag_wins(media_cache) -> None:
    untagged = media_cache.get("sd.mp4", media.make_clip, frames=2)
    tagged = media_cache.get("hd601.mp4", media.make_clip, width=1280, height=720, frames=2, color_tag="bt601")
    tagged709 = media_cache.get("sd709.mp4", media.make_clip, frames=2, color_tag="bt709")
    with open_source(untagged) as src:
        assert src.video.colorspace == "bt601"
    with open_source(tagged) as src:
        assert src.video.colorspace == "bt601"
    with open_source(tagged709) as src:
        assert src.video.colorspace == "bt709"


def test_rotated_clip_reports_upright_size(media_cache) -> None:
    path = media_cache.get("rot.mp4", media.make_rotated_clip, rotation=90, width=64, height=48)
    with open_source(path) as src:
        assert (src.video.width, src.video.height) == (48, 64)
        assert src.video.rotation == 270  # written as 90 counter-clockwise


@pytest.mark.parametrize(
    ("maker", "kwargs", "size", "pix_fmt"),
    [
        (media.make_odd_size_clip, {}, (321, 241), "yuv444p"),
        (media.make_10bit_clip, {}, (64, 48), "yuv420p10le"),
        (media.make_10bit_clip, {"codec": "libx264"}, (64, 48), "yuv420p10le"),
        (media.make_one_frame_clip, {}, (64, 48), "yuv420p"),
    ],
)
def test_clip_variants_open(media_cache, maker, kwargs, size, pix_fmt) -> None:
    path = media_cache.get("v.mkv" if maker is media.make_10bit_clip else "v.mp4", maker, **kwargs)
    with open_source(path) as src:
        assert (src.video.width, src.video.height) == size
        assert src.video.pix_fmt == pix_fmt


def test_vfr_clip_keeps_real_pts(media_cache) -> None:
    path = media_cache.get("vfr.mkv", media.make_vfr_clip)
    with open_source(path) as src:
        pts = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert pts == [Fraction(ms, 1000) for ms in media.DEFAULT_VFR_PTS_MS]


def test_mpegts_start_offset_becomes_origin(media_cache) -> None:
    path = media_cache.get("clip.ts", media.make_clip, frames=4)
    with open_source(path) as src:
        assert src.origin > 0  # MPEG-TS timestamps start after a muxing delay
        pts = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert pts == [Fraction(k, 25) for k in range(4)]


def test_lavfi_is_live() -> None:
    with open_source("lavfi:testsrc2=size=96x64:rate=30") as src:
        assert src.is_live and src.kind == InputKind.LAVFI
        assert (src.video.width, src.video.height, src.video.duration) == (96, 64, None)
        first = next(iter(src.items()))
        assert isinstance(first, av.VideoFrame)
        with pytest.raises(InputError, match="cannot seek in a live source"):
            src.seek(1.0)


@pytest.mark.parametrize(
    ("position", "first"),
    [(2.0, Fraction(2)), (2.01, Fraction(2)), (1.99, Fraction(49, 25)), (0, Fraction(0)), (Fraction(131, 25), Fraction(131, 25))],
)
def test_seek_lands_on_the_frame_on_screen(bbb_path: Path, position, first) -> None:
    with open_source(bbb_path) as src:
        src.seek(position)
        video = [src.relative_time(f) for f in src.items() if isinstance(f, av.VideoFrame)]
    assert video[0] == first
    assert video == [first + Fraction(k, 25) for k in range(len(video))]
    assert video[-1] == Fraction(131, 25)


def test_seek_skips_audio_before_target(bbb_path: Path) -> None:
    with open_source(bbb_path) as src:
        src.seek(3)
        audio = [f for f in src.items() if isinstance(f, av.AudioFrame)]
        ends = [src.relative_time(f) + Fraction(f.samples, f.sample_rate) for f in audio]
    assert audio and min(ends) > 3


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and text
    return text


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:
        open_source(tmp_path / "nope.mp4")
    assert _one_line(exc) == f"input not found: {tmp_path / 'nope.mp4'}"


@pytest.mark.parametrize(
    ("name", "make", "expected"),
    [
        ("random.mp4", lambda p: media.make_random_bytes(p), "not a media file"),
        ("empty.mp4", lambda p: (p.write_bytes(b""), p)[1], "input is empty"),
        ("half.mp4", lambda p: media.make_truncated(media.make_clip(p.with_name("full.mp4"), frames=6), p),
         "not a media file"),
        ("audio.m4a", lambda p: media.make_audio_only(p), "no video stream"),
        ("audio.wav", lambda p: media.make_audio_only(p), "no video stream"),
        ("zero.mkv", lambda p: media.make_zero_frame_clip(p), "no video frames"),
        ("unsupported.mkv", lambda p: media.make_unsupported_codec_clip(p), "unsupported video codec"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, make, expected: str) -> None:
    path = make(tmp_path / name)
    with pytest.raises(InputError) as exc:
        open_source(path)
    text = _one_line(exc)
    assert expected in text and str(path) in text


@pytest.mark.parametrize("target", ["/dev/video0", "v4l2:/dev/video7"])
def test_missing_webcam(target: str) -> None:
    device = target.removeprefix("v4l2:")
    if Path(device).exists():
        pytest.skip(f"{device} exists on this machine")
    with pytest.raises(InputError) as exc:
        open_source(target)
    assert _one_line(exc) == f"no webcam at {device} (device does not exist)"


@pytest.mark.net
@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_refused_url(scheme: str) -> None:
    url = f"{scheme}://127.0.0.1:{free_port()}/stream"
    with pytest.raises(InputError) as exc:
        open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc).startswith(f"cannot reach {url}")


@pytest.mark.net
@pytest.mark.parametrize("scheme", ["rtsp", "http"])
def test_silent_server_times_out(scheme: str) -> None:
    """A server that accepts the connection and never answers: the open gives up at the timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        url = f"{scheme}://127.0.0.1:{server.getsockname()[1]}/stream"
        with pytest.raises(InputError) as exc:
            open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc).startswith(f"cannot reach {url}")


@pytest.mark.net
def test_udp_without_sender_times_out() -> None:
    url = f"udp://127.0.0.1:{free_port()}"
    with pytest.raises(InputError) as exc:
        open_source(url, SHORT_TIMEOUT)
    assert _one_line(exc) == f"cannot reach {url}: no answer within 1 s"


def test_damaged_metadata_tag(media_cache) -> None:
    """Fuzz case 132 of seed 7: three flipped bits make the audio track's DURATION tag invalid
    UTF-8, and ``av.open`` raised UnicodeDecodeError while opening (an internal error). Inputs are
    opened with lenient tags (``rife_live.avinput``): the clip plays whole."""
    clip = media_cache.get("fuzz-7-132", fuzz_media.write_case, seed=7, index=132) / "in" / "clip.mkv"
    with pytest.raises(UnicodeDecodeError):
        av.open(str(clip))
    with open_source(clip) as src:
        assert src.audio_stream is not None and any("\ufffd" in key for key in src.audio_stream.metadata)
        video = [f for f in src.items() if isinstance(f, av.VideoFrame)]
    assert len(video) == fuzz_media.BASE_FRAMES


def test_hardware_decoding_that_cannot_open_falls_back_with_one_line(bbb_path: Path) -> None:
    """``--hwdec auto`` on a machine whose FFmpeg knows CUDA but that has no NVIDIA device (this
    one): the file opens in software, with the reason, and decodes the same frames."""
    asked = dataclasses.replace(SourceOptions(), hw_device=HWDEC_DEVICE)
    with open_source(bbb_path, asked) as hard, open_source(bbb_path) as soft:
        if hard.decoder != "software":
            pytest.skip("this machine decodes on its GPU (see the cuda-marked test)")
        assert hard.hwdec_note is not None and hard.hwdec_note.startswith("hardware decoding off (cuda")
        assert "\n" not in hard.hwdec_note and soft.hwdec_note is None and soft.decoder == "software"
        for a, b in zip(hard.items(), soft.items()):
            assert type(a) is type(b) and a.pts == b.pts
    assert hardware_options(SourceOptions(), "cuda").hw_device == HWDEC_DEVICE
    assert hardware_options(SourceOptions(), "cpu").hw_device is None
    assert hardware_options(SourceOptions(hwdec="no"), "cuda").hw_device is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_nvdec_decodes_the_same_pictures(bbb_path: Path) -> None:
    """On an NVIDIA machine whose FFmpeg has NVDEC, H.264 decodes on the GPU to the same pictures."""
    asked = dataclasses.replace(SourceOptions(), hw_device=HWDEC_DEVICE)
    with open_source(bbb_path, asked) as hard, open_source(bbb_path) as soft:
        assert hard.decoder == HWDEC_DEVICE, hard.hwdec_note
        pairs = [(a, b) for a, b in zip(hard.items(), soft.items()) if isinstance(a, av.VideoFrame)][:10]
        for a, b in pairs:
            assert np.array_equal(a.to_ndarray(format="rgb24"), b.to_ndarray(format="rgb24"))


@pytest.mark.parametrize(
    ("maker", "primaries", "transfer", "matrix", "depth", "hdr10"),
    [
        (media.make_hdr10_clip, "bt2020", "smpte2084", "bt2020", 10, True),
        (media.make_hlg_clip, "bt2020", "arib-std-b67", "bt2020", 10, False),
        (media.make_10bit_sdr_clip, "bt709", "bt709", "bt709", 10, False),
        (media.make_clip, "bt709", "bt709", "bt601", 8, False),  # untagged 64x48 H.264: SD guesses
    ],
)
def test_colour_description(media_cache, maker, primaries, transfer, matrix, depth, hdr10) -> None:
    path = media_cache.get(f"{maker.__name__}.mkv", maker, frames=2)
    with open_source(path) as src:
        got = src.video.color
    assert (got.primaries, got.transfer, got.matrix, got.bit_depth, got.full_range) == \
        (primaries, transfer, matrix, depth, False)
    assert got.matrix == src.video.colorspace
    if hdr10:
        assert got.mastering == media.HDR10_MASTERING and got.light == ContentLight(*media.HDR10_MAX_CLL)
    else:
        assert got.mastering is None and got.light is None
