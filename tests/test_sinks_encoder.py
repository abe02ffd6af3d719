"""sinks/encoder.py: containers, exact timestamps, audio copy/re-encode/trim, odd sizes, finalization.

Every check reads the written file back with PyAV. Frames are small (160x90) so encodes are quick.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from rife_live.errors import InputError, OutputError
from rife_live.frames import FrameMeta
from rife_live.sinks import SinkSpec, open_sink
from rife_live.sinks.encoder import CONTAINERS
from tests import fuzz_media, media

W, H = 160, 90
RATES = (Fraction(60), Fraction(60000, 1001), Fraction(75))
MATROSKA = {".mkv", ".webm"}  # Matroska stores timestamps in milliseconds
REPO = Path(__file__).resolve().parents[1]
BBB_AUDIO_RATE = 48000
BBB_AUDIO_END = Fraction(254976, BBB_AUDIO_RATE)  # 249 AAC packets of 1024 samples
SIGINT_READY_FRAMES = 40
SIGINT_WAIT_S = 60


def gray(k: int) -> np.ndarray:
    """A flat frame whose level tells its index (steps of 8 survive lossy coding; 32 levels)."""
    return np.full((H, W, 3), (k * 8) % 256, np.uint8)


def encode(path: Path, frames: int, rate: Fraction, origin: Fraction = Fraction(0), **spec_kw) -> Path:
    spec = SinkSpec("encoder", path, rate=rate, **spec_kw)
    with open_sink(spec) as sink:
        for k in range(frames):
            sink.write(gray(k), FrameMeta(pts=origin + k / rate))
        assert sink.frames_written == frames
    return path


def video_times(path: Path) -> list[Fraction]:
    with av.open(str(path)) as c:
        return [f.pts * f.time_base for f in c.decode(video=0)]


def audio_span(path: Path) -> tuple[str, Fraction, Fraction]:
    """(codec, first sample time, end of last sample) of the first audio stream, decoded."""
    with av.open(str(path)) as c:
        codec = c.streams.audio[0].codec_context.name
        frames = list(c.decode(audio=0))
    first, last = frames[0], frames[-1]
    end = last.pts * last.time_base + Fraction(last.samples, last.sample_rate)
    return codec, first.pts * first.time_base, end


def ms_round(t: Fraction) -> Fraction:
    """Nearest millisecond, halves away from zero (FFmpeg's av_rescale_q)."""
    return Fraction(math.floor(t * 1000 + Fraction(1, 2)), 1000)


@pytest.mark.parametrize("rate", RATES, ids=str)
@pytest.mark.parametrize("ext", sorted(CONTAINERS))
def test_frame_count_and_exact_pts(tmp_path: Path, ext: str, rate: Fraction) -> None:
    frames = 31
    path = encode(tmp_path / f"out{ext}", frames, rate, origin=Fraction(3, 2))
    times = video_times(path)
    want = [k / rate for k in range(frames)]
    if ext in MATROSKA:
        assert times == [ms_round(t) for t in want]
        assert [round(t * rate) for t in times] == list(range(frames))
    else:
        assert times == want
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == ("vp9" if ext == ".webm" else "h264")
        assert stream.codec_context.format.name == "yuv420p"
        levels = [float(f.to_ndarray(format="rgb24").mean()) for f in c.decode(stream)]
    assert [round(v / 8) for v in levels] == list(range(frames)), "frames out of order or lost"


def test_codec_and_crf_options(tmp_path: Path) -> None:
    frames = media.bbb_frames(W, H, 12)

    def size(crf: int) -> int:
        path = tmp_path / f"crf{crf}.mp4"
        with open_sink(SinkSpec("encoder", path, rate=Fraction(25), crf=crf, preset="ultrafast")) as sink:
            for k, img in enumerate(frames):
                sink.write(img, FrameMeta(pts=Fraction(k, 25)))
        return path.stat().st_size

    assert size(12) > 2 * size(40)
    hevc = encode(tmp_path / "hevc.mkv", 6, Fraction(30), vcodec="libx265")
    with av.open(str(hevc)) as c:
        assert c.streams.video[0].codec_context.name == "hevc"
        assert sum(1 for _ in c.decode(video=0)) == 6


def test_quality_on_real_footage(tmp_path: Path) -> None:
    frames = media.bbb_frames(320, 180, 10, start=40)
    path = tmp_path / "bbb.mp4"
    with open_sink(SinkSpec("encoder", path, rate=Fraction(25))) as sink:
        for k, img in enumerate(frames):
            sink.write(img, FrameMeta(pts=Fraction(k, 25)))
    decoded = list(media.iter_rgb(path))
    assert len(decoded) == len(frames)
    # crf 18, BT.709 limited range both ways; 4:2:0 chroma costs most of the loss on this footage.
    assert min(media.psnr(a, b) for a, b in zip(frames, decoded)) > 33.0


def test_bad_container_and_codec(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"\.avi.*\.mkv, \.mp4, \.mov, \.webm"):
        open_sink(SinkSpec("encoder", tmp_path / "a.avi"))
    with pytest.raises(OutputError, match="webm container cannot hold h264.*libvpx-vp9"):
        open_sink(SinkSpec("encoder", tmp_path / "a.webm", vcodec="libx264"))
    with pytest.raises(OutputError, match="unknown video encoder"):
        open_sink(SinkSpec("encoder", tmp_path / "a.mp4", vcodec="no-such-codec"))
    with pytest.raises(OutputError, match="audio encoder, not a video"):
        open_sink(SinkSpec("encoder", tmp_path / "a.mp4", vcodec="aac"))
    with pytest.raises(OutputError, match="pix_fmt"):
        open_sink(SinkSpec("encoder", tmp_path / "a.mp4", pix_fmt="pal8"))
    with pytest.raises(OutputError, match="libx264 refuses its options.*preset=sluggish"):
        open_sink(SinkSpec("encoder", tmp_path / "a.mp4", preset="sluggish"))
    assert not list(tmp_path.iterdir()), "a refused output must leave no file behind"


def test_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        open_sink(SinkSpec("encoder", tmp_path / "missing" / "a.mp4"))
    folder = tmp_path / "dir.mp4"
    folder.mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        open_sink(SinkSpec("encoder", folder))
    with pytest.raises(OutputError, match="cannot write"):  # refused even to root
        open_sink(SinkSpec("encoder", Path("/proc/rife_live_out.mp4")))
    if os.geteuid() != 0:  # root ignores permission bits
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="ermission"):
            open_sink(SinkSpec("encoder", locked / "a.mp4"))


def test_odd_size_is_edge_padded(tmp_path: Path) -> None:
    src = media.bbb_frames(321, 241, 3)
    path = tmp_path / "odd.mp4"
    with open_sink(SinkSpec("encoder", path, rate=Fraction(30))) as sink:
        for k, img in enumerate(src):
            sink.write(img, FrameMeta(pts=Fraction(k, 30)))
    decoded = list(media.iter_rgb(path))
    assert len(decoded) == 3
    assert decoded[0].shape == (242, 322, 3)
    for a, b in zip(src, decoded):
        assert media.psnr(a, b[:241, :321]) > 30.0
        # the padding repeats the edge: no dark line
        assert np.abs(b[:241, 321].astype(int) - a[:, 320].astype(int)).mean() < 8
        assert np.abs(b[241, :321].astype(int) - a[240, :].astype(int)).mean() < 8


def test_zero_frames_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    sink = open_sink(SinkSpec("encoder", path))
    sink.close()
    assert not list(tmp_path.iterdir())


def test_written_beside_the_target_and_renamed_when_complete(tmp_path: Path) -> None:
    path = tmp_path / "out.mkv"
    path.write_bytes(b"the user's old file")
    sink = open_sink(SinkSpec("encoder", path, rate=Fraction(30)))
    for k in range(4):
        sink.write(gray(k), FrameMeta(pts=Fraction(k, 30)))
    partial = [p for p in tmp_path.iterdir() if p != path]
    assert len(partial) == 1 and partial[0].name.startswith(".out.partial-") and partial[0].suffix == ".mkv"
    assert path.read_bytes() == b"the user's old file"  # untouched until the new file is complete
    sink.close()
    assert list(tmp_path.iterdir()) == [path]
    assert len(list(media.iter_rgb(path))) == 4


def test_abort_keeps_the_old_file_and_no_new_one(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    path.write_bytes(b"the user's old file")
    with pytest.raises(RuntimeError):
        with open_sink(SinkSpec("encoder", path, rate=Fraction(30))) as sink:
            for k in range(4):
                sink.write(gray(k), FrameMeta(pts=Fraction(k, 30)))
            raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == [path]
    assert path.read_bytes() == b"the user's old file"


def test_close_after_error_keeps_frames(tmp_path: Path) -> None:
    path = tmp_path / "err.mkv"
    sink = open_sink(SinkSpec("encoder", path, rate=Fraction(30)))
    with pytest.raises(ValueError):
        for k in range(10):
            sink.write(gray(k) if k < 6 else np.zeros((H, W), np.uint8), FrameMeta(pts=Fraction(k, 30)))
    sink.close()
    sink.close()  # idempotent
    assert len(video_times(path)) == 6
    with pytest.raises(ValueError, match="closed"):
        sink.write(gray(0), FrameMeta(pts=Fraction(0)))


# --- audio --------------------------------------------------------------------------------------


def bbb_packets_from(origin_samples: int) -> list[bytes]:
    with av.open(str(media.BBB_PATH)) as c:
        return [bytes(p) for p in c.demux(audio=0) if p.pts is not None and p.pts >= origin_samples]


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".mov"])
def test_audio_copied_and_trimmed(tmp_path: Path, bbb_path: Path, ext: str) -> None:
    rate = Fraction(60)
    frames = 90  # 1.5 s of the source from 1.0 s on
    path = encode(tmp_path / f"a{ext}", frames, rate, origin=Fraction(1), audio_from=str(bbb_path))
    codec, start, end = audio_span(path)
    assert codec == "aac"
    video_end = frames / rate
    assert 0 <= start < Fraction(1024, BBB_AUDIO_RATE)  # first whole packet at or after 1.0 s
    assert abs(end - video_end) <= 1 / rate
    with av.open(str(path)) as c:
        copied = [bytes(p) for p in c.demux(audio=0) if p.size]
    source = bbb_packets_from(BBB_AUDIO_RATE)
    assert copied == source[: len(copied)], "stream copy must keep the packets bit for bit"


@pytest.mark.parametrize("rate", [Fraction(75), Fraction(60000, 1001)], ids=str)
def test_audio_reencoded_for_webm(tmp_path: Path, bbb_path: Path, rate: Fraction) -> None:
    frames = 100
    origin = Fraction(1)
    path = encode(tmp_path / "a.webm", frames, rate, origin=origin, audio_from=str(bbb_path))
    codec, start, end = audio_span(path)
    assert codec == "opus"
    assert start == 0
    assert abs(end - frames / rate) <= 1 / rate
    # The content is the source's [1.0 s, ...) shifted to 0: compare the front channel's waveform.
    with av.open(str(path)) as c:
        out = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]
    with av.open(str(bbb_path)) as c:
        src = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)[0]
    n = min(len(out), BBB_AUDIO_RATE // 2)
    ref = src[BBB_AUDIO_RATE : BBB_AUDIO_RATE + n]
    corr = float(np.dot(out[:n], ref) / (np.linalg.norm(out[:n]) * np.linalg.norm(ref)))
    assert corr > 0.95


def test_stereo_aac_source_into_every_container(tmp_path: Path, media_cache) -> None:
    clip = media_cache.get("tone.mp4", media.make_clip, frames=25, audio=True, width=64, height=48)
    rate = Fraction(50)
    frames = 40  # 0.8 s of the 1.0 s source
    for ext, want in ((".mp4", "aac"), (".mkv", "aac"), (".mov", "aac"), (".webm", "opus")):
        path = encode(tmp_path / f"s{ext}", frames, rate, audio_from=str(clip))
        codec, start, end = audio_span(path)
        assert codec == want, ext
        assert 0 <= start < 1 / rate, ext
        assert abs(end - frames / rate) <= 1 / rate, ext


def make_mp3_source(path: Path, seconds: int = 1) -> Path:
    """An audio-only Matroska file with MP3 (decoder name "mp3float", codec "mp3")."""
    with av.open(str(path), "w") as c:
        stream = c.add_stream("libmp3lame", rate=BBB_AUDIO_RATE, layout="stereo")
        stream.codec_context.format = "fltp"
        c.start_encoding()
        step = stream.codec_context.frame_size
        for offset in range(0, seconds * BBB_AUDIO_RATE, step):
            frame = av.AudioFrame.from_ndarray(media.tone(step, 2, offset=offset), format="fltp", layout="stereo")
            frame.sample_rate = BBB_AUDIO_RATE
            frame.pts = offset
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    return path


def test_mp3_source_copied_or_reencoded(tmp_path: Path) -> None:
    src = make_mp3_source(tmp_path / "mp3.mkv")
    rate = Fraction(30)
    for ext, want in ((".mp4", "mp3"), (".webm", "opus")):
        path = encode(tmp_path / f"m{ext}", 24, rate, audio_from=src)
        codec, start, end = audio_span(path)
        assert codec.startswith(want), ext  # the mp3 decoder is called "mp3float"
        assert 0 <= start < 1 / rate and abs(end - Fraction(24, 30)) <= 1 / rate, ext


def test_audio_ends_with_short_source(tmp_path: Path, media_cache) -> None:
    clip = media_cache.get("short.wav", media.make_audio_only, seconds=0.25)
    path = encode(tmp_path / "long.mkv", 30, Fraction(60), audio_from=str(clip))  # 0.5 s of video
    codec, start, end = audio_span(path)
    assert codec == "pcm_s16le"
    assert start == 0 and abs(end - Fraction(1, 4)) <= Fraction(1, 1000)
    assert len(video_times(path)) == 30


def test_slowmo_drops_audio_with_notice(tmp_path: Path, bbb_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        path = encode(tmp_path / "slow.mp4", 10, Fraction(60), audio_from=str(bbb_path), slowmo=True)
    with av.open(str(path)) as c:
        assert not c.streams.audio
    notices = [r.getMessage() for r in caplog.records if "audio" in r.getMessage()]
    assert len(notices) == 1 and "\n" not in notices[0] and "slow" in notices[0]


def test_audio_from_a_source_with_a_damaged_tag(tmp_path: Path, media_cache) -> None:
    """Fuzz case 132 of seed 7: an audio tag that is not UTF-8 (see test_source_av). The sink opens
    the input a second time for its audio; that opening raised UnicodeDecodeError too."""
    clip = media_cache.get("fuzz-7-132", fuzz_media.write_case, seed=7, index=132) / "in" / "clip.mkv"
    path = encode(tmp_path / "out.mp4", 10, Fraction(50), audio_from=str(clip))
    codec, start, end = audio_span(path)
    assert codec == "aac" and 0 <= start < Fraction(1, 50) and abs(end - Fraction(10, 50)) <= Fraction(1, 50)


def test_opus_audio_into_mov_is_reencoded(tmp_path: Path, media_cache) -> None:
    """Fuzz case 3 of seed 7 (a .webm with 15 flipped bits, exported to .mov) showed it, but the
    clean clip fails the same way: the mov muxer lists Opus among its codecs and then refuses it at
    the header, so every Opus-audio input exported to .mov ended in "cannot start encoding". The
    audio is re-encoded (AAC) when the container would refuse the copy."""
    folder = media_cache.get("fuzz-7-3", fuzz_media.write_case, seed=7, index=3)
    for clip in (folder / "in" / "clip.webm", folder / "bases" / "clip.webm"):
        with av.open(str(clip)) as c:
            assert c.streams.audio[0].codec_context.name == "opus"
        path = encode(tmp_path / f"{clip.parent.name}.mov", 10, Fraction(50), audio_from=str(clip))
        codec, start, end = audio_span(path)
        assert codec == "aac" and 0 <= start < Fraction(1, 50) and abs(end - Fraction(10, 50)) <= Fraction(1, 50)
    for ext in (".mp4", ".mkv", ".webm"):  # these take Opus as it is
        codec, _, _ = audio_span(encode(tmp_path / f"copy{ext}", 10, Fraction(50), audio_from=str(clip)))
        assert codec == "opus", ext


def test_missing_audio_source_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="audio"):
        open_sink(SinkSpec("encoder", tmp_path / "a.mp4", audio_from=str(tmp_path / "nope.mp4")))
    assert not (tmp_path / "a.mp4").exists()


def test_live_input_audio_left_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        path = encode(tmp_path / "live.mkv", 5, Fraction(30), audio_from="udp://127.0.0.1:5999")
    with av.open(str(path)) as c:
        assert not c.streams.audio
    assert "live" in caplog.text


# --- Ctrl+C -------------------------------------------------------------------------------------

WRITER = """
import sys
from fractions import Fraction
from pathlib import Path
import numpy as np
from rife_live.frames import FrameMeta
from rife_live.sinks import SinkSpec, open_sink

rate = Fraction(30)
sink = open_sink(SinkSpec("encoder", Path(sys.argv[1]), rate=rate, audio_from=sys.argv[2] or None))
k = 0
try:
    while True:
        sink.write(np.full((90, 160, 3), (k * 9) % 256, np.uint8), FrameMeta(pts=k / rate))
        k += 1
        if k == int(sys.argv[3]):
            print("ready", flush=True)
finally:
    sink.close()
    print("written", sink.frames_written, flush=True)
"""


@pytest.mark.parametrize("ext,audio", [(".mp4", True), (".mkv", False)])
def test_sigint_leaves_playable_file(tmp_path: Path, ext: str, audio: bool) -> None:
    path = tmp_path / f"interrupted{ext}"
    audio_from = str(media.BBB_PATH) if audio else ""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), audio_from, str(SIGINT_READY_FRAMES)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=SIGINT_WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "KeyboardInterrupt" in err
    written = int(out.split("written")[1])
    assert written >= SIGINT_READY_FRAMES
    times = video_times(path)
    assert len(times) == written
    assert [round(t * 30) for t in times] == list(range(written))
    if audio:  # the audio stops with the video, or where the source's audio stops (5.312 s)
        _, start, end = audio_span(path)
        assert start == 0
        assert abs(end - min(Fraction(written, 30), BBB_AUDIO_END)) <= Fraction(1, 30)
