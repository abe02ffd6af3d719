"""Shared test-media generators: small real clips written with PyAV (there is no ffmpeg binary).

Every function writes into the path or folder it is given and returns the path it wrote. Clips are
tiny (a few frames, small sizes) so tests stay fast. ``source="bbb"`` takes real footage: frames of
``bigbuckbunny.mp4`` scaled to the requested size; ``source="pattern"`` draws a moving synthetic
pattern (a bright square sliding over a gradient) whose frame index is readable from the pixels.

Facts about PyAV 18 these helpers rely on (checked when they were written):
- ``VideoStream.set_display_rotation(deg)`` writes a display matrix; decoded frames report it back as
  ``VideoFrame.rotation == deg`` (counter-clockwise degrees, e.g. 90 for a phone held upright).
- libx264 refuses odd sizes in 4:2:0; odd-size clips use yuv444p (or mpeg4/ffv1, which accept them).
- An mp4 with an empty video track loses the track; a zero-frame clip is a Matroska file with a video
  stream header and audio packets only.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from rife_live.colorinfo import MasteringDisplay

BBB_PATH = Path(__file__).resolve().parent / "data" / "bigbuckbunny.mp4"  # a copy of the shared clip
BBB_FRAMES = 132  # frames in bigbuckbunny.mp4 (25 fps, 1280x720)
BIKES_PATH = Path(__file__).resolve().parent / "data" / "bikes.mp4"  # street footage, 640x272, 250 frames
BBB_FPS = Fraction(25)
SCENE_B_START = 100  # a bbb frame far enough from frame 0 to read as another shot (mean diff ~40)

AUDIO_RATE = 48000
AUDIO_TONE_HZ = 440.0
AUDIO_FRAME_SAMPLES = 1024
AUDIO_AMPLITUDE = 0.25

TIME_BASE_MS = Fraction(1, 1000)
DEFAULT_VFR_PTS_MS = (0, 40, 80, 100, 180, 200, 260, 400)  # irregular frame times, milliseconds

PATTERN_SQUARE = 8  # side of the moving square in pattern clips, pixels
PATTERN_STEP = 4  # pixels the square moves per frame


# --- frame sources ------------------------------------------------------------------------------


def bbb_frames(width: int, height: int, count: int, start: int = 0) -> list[np.ndarray]:
    """``count`` RGB24 frames of bigbuckbunny from index ``start``, scaled to width x height."""
    if start + count > BBB_FRAMES:
        raise ValueError(f"bbb has {BBB_FRAMES} frames; asked for {start}..{start + count}")
    return clip_frames(BBB_PATH, width, height, count, start)


def clip_frames(path: Path, width: int, height: int, count: int, start: int = 0, *, rgb_format: str = "rgb24",
                **scaling: str) -> list[np.ndarray]:
    """Up to ``count`` RGB frames (``rgb_format``) of the clip at ``path`` from index ``start``,
    scaled to width x height by swscale (``scaling``: ``to_ndarray``'s options)."""
    out: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index < start:
                continue
            out.append(frame.to_ndarray(width=width, height=height, format=rgb_format, **scaling))
            if len(out) == count:
                break
    return out


def pattern_frame(width: int, height: int, index: int) -> np.ndarray:
    """A gradient background with a white square at a position that moves with ``index``."""
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (xs * np.ones_like(ys)).astype(np.uint8)
    img[..., 1] = (ys * np.ones_like(xs)).astype(np.uint8)
    img[..., 2] = 96
    side = min(PATTERN_SQUARE, width, height)
    x0 = (index * PATTERN_STEP) % max(1, width - side + 1)
    y0 = (index * PATTERN_STEP // 2) % max(1, height - side + 1)
    img[y0 : y0 + side, x0 : x0 + side] = 255
    return img


def labelled(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of ``image`` with a montage label in its corner, as the pipeline stamps it."""
    from rife_live.font import scale_for_height, stamp_label

    out = image.copy()
    stamp_label(out, text, scale_for_height(out.shape[0]))
    return out


def source_frames(source: str, width: int, height: int, count: int, start: int = 0) -> list[np.ndarray]:
    """Frames from ``"bbb"`` (real footage) or ``"pattern"`` (synthetic)."""
    if source == "bbb":
        return bbb_frames(width, height, count, start)
    if source == "pattern":
        return [pattern_frame(width, height, start + i) for i in range(count)]
    raise ValueError(f"unknown source {source!r}: use 'bbb' or 'pattern'")


def tone(samples: int, channels: int, rate: int = AUDIO_RATE, offset: int = 0) -> np.ndarray:
    """A planar float32 sine (channels, samples); channel k is detuned by k Hz so channels differ."""
    t = (np.arange(samples, dtype=np.float64) + offset) / rate
    rows = [AUDIO_AMPLITUDE * np.sin(2 * np.pi * (AUDIO_TONE_HZ + k) * t) for k in range(channels)]
    return np.stack(rows).astype(np.float32)


# --- writers ------------------------------------------------------------------------------------


def _layout(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}c")


def _add_audio(container: av.container.OutputContainer, rate: int, channels: int, codec: str = "aac"):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = _layout(channels)
    return stream


def _encode_audio(container, stream, seconds: float, rate: int, channels: int) -> None:
    total = int(round(seconds * rate))
    fmt = stream.codec_context.format.name if stream.codec_context.format else "fltp"
    for offset in range(0, total, AUDIO_FRAME_SAMPLES):
        n = min(AUDIO_FRAME_SAMPLES, total - offset)
        if stream.codec_context.frame_size and n < stream.codec_context.frame_size:
            n = stream.codec_context.frame_size  # pad the last frame: fixed-size encoders need it
        planar = tone(n, channels, rate, offset)
        if fmt == "s16":
            data = (planar.T.reshape(1, -1) * 32767).astype(np.int16)
        elif fmt == "flt":
            data = planar.T.reshape(1, -1)
        else:
            fmt = "fltp"
            data = planar
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=_layout(channels))
        frame.sample_rate = rate
        frame.pts = offset
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)


def write_frames(
    path: Path | str,
    frames: Sequence[np.ndarray],
    *,
    fps: Fraction = Fraction(25),
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    audio: bool = False,
    audio_channels: int = 2,
    audio_codec: str = "aac",
    rotation: int = 0,
    color_tag: str | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB24 ``frames`` to ``path``.

    ``pts`` (in ``time_base``, default 1/fps) overrides the regular k/fps timestamps (VFR clips).
    ``rotation`` writes a display matrix (counter-clockwise degrees, as PyAV reads it back).
    ``color_tag`` tags the stream's matrix ("bt709", "bt601" or "bt470bg"); untagged by default.
    ``audio_codec``: the tone's encoder with ``audio=True`` ("aac"; "libopus" for .webm).
    ``container_options``: muxer options (``{"fflags": "+bitexact"}``: no random IDs or dates).
    """
    path = Path(path)
    if not frames:
        raise ValueError("write_frames needs at least one frame (use make_zero_frame_clip)")
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", options=dict(container_options or {})) as container:
        stream = container.add_stream(codec, rate=fps, options=dict(options or {}))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if pts is not None:
            stream.codec_context.time_base = time_base or TIME_BASE_MS
        if rotation:
            stream.set_display_rotation(rotation)
        if color_tag is not None:
            _tag_colorspace(stream.codec_context, color_tag)
        audio_stream = _add_audio(container, AUDIO_RATE, audio_channels, audio_codec) if audio else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            if pix_fmt != "rgb24":
                frame = frame.reformat(format=pix_fmt, dst_colorspace=_swscale_space(color_tag))
            if pts is not None:
                frame.pts = int(pts[index])
                frame.time_base = time_base or TIME_BASE_MS
            else:
                frame.pts = index
                frame.time_base = 1 / fps
            if color_tag is not None:
                _tag_colorspace(frame, color_tag)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
        if audio_stream is not None:
            seconds = len(frames) / fps if pts is None else (pts[-1] + 1) * (time_base or TIME_BASE_MS)
            _encode_audio(container, audio_stream, float(seconds), AUDIO_RATE, audio_channels)
    return path


_COLOR_TAGS = {"bt709": 1, "bt601": 6, "bt470bg": 5, "smpte170m": 6}  # AVColorSpace values


def _tag_colorspace(obj, tag: str) -> None:
    obj.colorspace = _COLOR_TAGS[tag]


def _swscale_space(tag: str | None) -> str | None:
    if tag is None:
        return None
    return "itu709" if tag == "bt709" else "itu601"


def make_clip(
    path: Path | str,
    *,
    width: int = 64,
    height: int = 48,
    fps: Fraction = Fraction(25),
    frames: int = 6,
    pix_fmt: str = "yuv420p",
    codec: str = "libx264",
    audio: bool = False,
    audio_channels: int = 2,
    rotation: int = 0,
    source: str = "bbb",
    start: int = 0,
    color_tag: str | None = None,
    codec_options: dict[str, str] | None = None,
) -> Path:
    """A clip of ``frames`` frames at ``fps`` (pts k/fps) from bbb footage or a synthetic pattern.

    With ``rotation`` the stored picture is width x height and the display matrix says to turn it;
    the upright picture is then height x width for 90/270.
    """
    images = source_frames(source, width, height, frames, start)
    return write_frames(
        path,
        images,
        fps=fps,
        pix_fmt=pix_fmt,
        codec=codec,
        audio=audio,
        audio_channels=audio_channels,
        rotation=rotation,
        color_tag=color_tag,
        options=codec_options,
    )


def make_odd_size_clip(path: Path | str, *, width: int = 321, height: int = 241, frames: int = 4,
                       source: str = "bbb") -> Path:
    """An odd-sized clip (default 321x241); yuv444p H.264 because 4:2:0 H.264 needs even sizes."""
    return make_clip(path, width=width, height=height, frames=frames, pix_fmt="yuv444p", source=source)


def make_10bit_clip(path: Path | str, *, width: int = 64, height: int = 48, frames: int = 4,
                    codec: str = "libx265", source: str = "bbb") -> Path:
    """A 10-bit 4:2:0 clip (yuv420p10le), HEVC Main10 by default (``codec="libx264"`` for High10)."""
    options = {"x265-params": "log-level=error"} if codec == "libx265" else {}
    images = source_frames(source, width, height, frames)
    return write_frames(path, images, pix_fmt="yuv420p10le", codec=codec, options=options)


# --- deep (10-bit) and HDR clips -----------------------------------------------------------------
# HDR10 as it is usually mastered: a P3-D65 display of 1000 nits (x265's units: 0.00002 and 0.0001 nits).
HDR10_MASTER_DISPLAY = "G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)"
HDR10_MAX_CLL = (1000, 400)
HDR_PEAK_NITS = 1000.0  # the known mapping's peak: SDR white goes to 203 nits, highlights up to this


HDR10_MASTERING = MasteringDisplay(  # HDR10_MASTER_DISPLAY as a record
    red=(Fraction(34000, 50000), Fraction(16000, 50000)), green=(Fraction(13250, 50000), Fraction(34500, 50000)),
    blue=(Fraction(7500, 50000), Fraction(3000, 50000)), white=(Fraction(15635, 50000), Fraction(16450, 50000)),
    min_luminance=Fraction(1, 10000), max_luminance=Fraction(1000))


def mastering_side_data(display: MasteringDisplay, has_primaries: int = 1, has_luminance: int = 1) -> bytes:
    """libavutil's AVMasteringDisplayMetadata bytes for ``display``, in the units decoders use."""
    values = []
    for x, y in (display.red, display.green, display.blue, display.white):
        values += [round(x * 50000), 50000, round(y * 50000), 50000]
    values += [round(display.min_luminance * 10000), 10000, round(display.max_luminance * 10000), 10000]
    return struct.pack("=22i", *values, has_primaries, has_luminance)


def deep_bbb_frames(width: int, height: int, count: int, start: int = 0) -> list[np.ndarray]:
    """``count`` RGB frames of bigbuckbunny scaled to width x height by swscale straight to 16 bits
    (rgb48): scaling down averages 8-bit pixels, so the frames carry real precision beyond 8 bits."""
    return clip_frames(BBB_PATH, width, height, count, start, rgb_format="rgb48le", interpolation="AREA")


def deep_pattern_frame(width: int, height: int, index: int) -> np.ndarray:
    """``pattern_frame`` drawn at 16 bits: smooth gradients (every 10-bit step present) and a square."""
    ys = np.linspace(0.05, 0.95, height)[:, None]
    xs = np.linspace(0.05, 0.95, width)[None, :]
    img = np.empty((height, width, 3), np.float64)
    img[..., 0] = xs * np.ones_like(ys)
    img[..., 1] = ys * np.ones_like(xs)
    img[..., 2] = 0.4
    side = min(PATTERN_SQUARE, width, height)
    x0 = (index * PATTERN_STEP) % max(1, width - side + 1)
    y0 = (index * PATTERN_STEP // 2) % max(1, height - side + 1)
    img[y0 : y0 + side, x0 : x0 + side] = 0.9
    return np.rint(img * 65535).astype(np.uint16)


def sdr_to_hdr(frames: Sequence[np.ndarray], transfer: str) -> list[np.ndarray]:
    """The known SDR -> HDR mapping of the HDR test clips: BT.709 code values (uint8 or uint16) are
    linearized with BT.1886, converted to BT.2020 primaries, placed at 203 nits for SDR white with
    the highlights expanded toward ``HDR_PEAK_NITS`` (nits = 203 Y (1 + Y^2 (1000/203 - 1))), then
    coded as PQ (``"smpte2084"``) or HLG (``"arib-std-b67"``, through the inverse BT.2100 OOTF of a
    1000-nit display). Returns uint16 RGB code values."""
    from rife_live import color

    out = []
    to_2020 = color.gamut_matrix("bt709", "bt2020")
    weights = color.luminance_weights("bt2020")
    white = 203.0
    for frame in frames:
        linear = np.clip(color.sdr_eotf(color.code_values(frame)) @ to_2020.T, 0.0, 1.0)
        nits = white * linear * (1 + linear**2 * (HDR_PEAK_NITS / white - 1))
        if transfer == "smpte2084":
            code = color.pq_inverse_eotf(nits)
        elif transfer == "arib-std-b67":
            code = color.hlg_oetf(color.hlg_inverse_ootf(nits, weights, HDR_PEAK_NITS))
        else:
            raise ValueError(f"unknown HDR transfer {transfer!r}")
        out.append(np.rint(np.clip(code, 0.0, 1.0) * 65535).astype(np.uint16))
    return out


_PRIMARY_TAGS = {"bt709": 1, "bt2020": 9}
_TRANSFER_TAGS = {"bt709": 1, "smpte2084": 16, "arib-std-b67": 18}
_MATRIX_TAGS = {"bt709": (1, "itu709"), "bt2020": (9, "bt2020")}


def write_deep_frames(path: Path | str, frames: Sequence[np.ndarray], *, primaries: str = "bt709",
                      transfer: str = "bt709", matrix: str = "bt709", fps: Fraction = Fraction(25),
                      codec: str = "libx265", pix_fmt: str = "yuv420p10le", x265_params: str = "",
                      options: dict[str, str] | None = None) -> Path:
    """Encode uint16 RGB ``frames`` (code values of the given primaries/transfer) at 10 bits,
    limited range, tagged with ``primaries``, ``transfer`` and ``matrix`` on the stream and every
    frame. ``x265_params`` are added to libx265's (e.g. HDR10's master-display and max-cll)."""
    path = Path(path)
    matrix_tag, sws_matrix = _MATRIX_TAGS[matrix]
    opts = dict(options or {})
    if codec == "libx265":
        opts["x265-params"] = ":".join(p for p in ("log-level=error", x265_params) if p)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps, options=opts)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        ctx = stream.codec_context
        ctx.color_primaries, ctx.color_trc = _PRIMARY_TAGS[primaries], _TRANSFER_TAGS[transfer]
        ctx.colorspace, ctx.color_range = matrix_tag, 1
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb48le")
            frame = frame.reformat(format=pix_fmt, dst_colorspace=sws_matrix, dst_color_range=1)
            frame.color_primaries, frame.color_trc = _PRIMARY_TAGS[primaries], _TRANSFER_TAGS[transfer]
            frame.colorspace, frame.color_range = matrix_tag, 1
            frame.pts, frame.time_base = index, 1 / fps
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def deep_source_frames(source: str, width: int, height: int, count: int, start: int = 0,
                       static: bool = False) -> list[np.ndarray]:
    """16-bit frames from ``"bbb"`` (``deep_bbb_frames``) or ``"pattern"`` (``deep_pattern_frame``);
    ``static``: the first frame ``count`` times (every pair is static: copied, never interpolated)."""
    if source == "bbb":
        frames = deep_bbb_frames(width, height, 1 if static else count, start)
    elif source == "pattern":
        frames = [deep_pattern_frame(width, height, start + i) for i in range(1 if static else count)]
    else:
        raise ValueError(f"unknown source {source!r}: use 'bbb' or 'pattern'")
    return frames * count if static else frames


def make_hdr10_clip(path: Path | str, *, width: int = 64, height: int = 48, frames: int = 4, source: str = "bbb",
                    start: int = 0, static: bool = False, codec: str = "libx265", crf: int = 12) -> Path:
    """HDR10: HEVC Main10, BT.2020 primaries and matrix, PQ, with mastering-display and
    content-light SEI (``HDR10_MASTER_DISPLAY``, ``HDR10_MAX_CLL``); the picture is the footage
    through ``sdr_to_hdr``."""
    images = sdr_to_hdr(deep_source_frames(source, width, height, frames, start, static), "smpte2084")
    cll = ",".join(str(v) for v in HDR10_MAX_CLL)
    return write_deep_frames(path, images, primaries="bt2020", transfer="smpte2084", matrix="bt2020",
                             codec=codec, x265_params=f"crf={crf}:master-display={HDR10_MASTER_DISPLAY}:max-cll={cll}")


def make_hlg_clip(path: Path | str, *, width: int = 64, height: int = 48, frames: int = 4,
                  source: str = "bbb") -> Path:
    """HLG: HEVC Main10, BT.2020, ARIB STD-B67 (no static metadata, as broadcast HLG)."""
    images = sdr_to_hdr(deep_source_frames(source, width, height, frames), "arib-std-b67")
    return write_deep_frames(path, images, primaries="bt2020", transfer="arib-std-b67", matrix="bt2020")


def make_10bit_sdr_clip(path: Path | str, *, width: int = 64, height: int = 48, frames: int = 4,
                        source: str = "bbb", start: int = 0, static: bool = False, codec: str = "libx265",
                        pix_fmt: str = "yuv420p10le") -> Path:
    """10-bit SDR tagged BT.709 (camera or anime style): the footage at 16-bit precision
    (``deep_source_frames``). ``codec="ffv1"`` with ``pix_fmt="yuv444p10le"`` is lossless."""
    images = deep_source_frames(source, width, height, frames, start, static)
    return write_deep_frames(path, images, codec=codec, pix_fmt=pix_fmt)


def make_rotated_clip(path: Path | str, *, rotation: int = 90, width: int = 64, height: int = 48,
                      frames: int = 4, source: str = "bbb") -> Path:
    """A phone-style clip: stored width x height landscape, display matrix turning it by ``rotation``."""
    return make_clip(path, width=width, height=height, frames=frames, rotation=rotation, source=source)


def make_vfr_clip(path: Path | str, *, pts_ms: Sequence[int] = DEFAULT_VFR_PTS_MS, width: int = 64,
                  height: int = 48, source: str = "bbb") -> Path:
    """A variable-frame-rate clip: frame k has pts ``pts_ms[k]`` milliseconds (mkv keeps them exact)."""
    images = source_frames(source, width, height, len(pts_ms))
    return write_frames(path, images, fps=Fraction(25), pts=list(pts_ms), time_base=TIME_BASE_MS,
                        options={"bf": "0"})


def make_scene_cut_clip(path: Path | str, *, width: int = 64, height: int = 48, before: int = 4,
                        after: int = 4) -> Path:
    """Two shots of bbb joined: frames 0.. then frames from ``SCENE_B_START``; the cut is at ``before``."""
    images = bbb_frames(width, height, before) + bbb_frames(width, height, after, SCENE_B_START)
    return write_frames(path, images)


def make_one_frame_clip(path: Path | str, *, width: int = 64, height: int = 48) -> Path:
    """A clip with a single video frame."""
    return make_clip(path, width=width, height=height, frames=1)


def make_zero_frame_clip(path: Path | str, *, width: int = 64, height: int = 48) -> Path:
    """A Matroska file with an H.264 video stream that holds no frames (and a short audio track).

    Name it ``.mkv``: mp4 drops an empty track, so the file would have no video stream at all.
    """
    path = Path(path)
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        audio = _add_audio(container, AUDIO_RATE, 1)
        container.start_encoding()
        _encode_audio(container, audio, 0.1, AUDIO_RATE, 1)
    return path


def make_audio_only(path: Path | str, *, seconds: float = 0.5, channels: int = 2,
                    rate: int = AUDIO_RATE) -> Path:
    """An audio-only file (AAC in .m4a/.mp4/.mkv, or PCM in .wav)."""
    path = Path(path)
    codec = "pcm_s16le" if path.suffix.lower() == ".wav" else "aac"
    with av.open(str(path), "w") as container:
        stream = _add_audio(container, rate, channels, codec)
        _encode_audio(container, stream, seconds, rate, channels)
    return path


def make_random_bytes(path: Path | str, *, size: int = 4096, seed: int = 1234) -> Path:
    """A file of random bytes (not a media file), deterministic for a given seed."""
    path = Path(path)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


def make_truncated(src: Path | str, dst: Path | str, *, fraction: float = 0.5) -> Path:
    """A copy of ``src`` cut to the first ``fraction`` of its bytes (a download cut in half).

    An mp4 with its index at the end then has no index (unopenable); a Matroska or MPEG-TS file
    opens and decodes until the data stops.
    """
    data = Path(src).read_bytes()
    dst = Path(dst)
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


TS_PACKET = 188  # MPEG-TS packet size


def make_mid_stream_join(src: Path | str, dst: Path | str, *, fraction: float = 0.5) -> Path:
    """The tail of an MPEG-TS file from ``fraction`` of its bytes (on a TS packet boundary): what a
    receiver sees when it joins a live stream mid-way. The first video packets reference headers
    it never got and fail to decode until the next keyframe (give ``src`` a short GOP)."""
    data = Path(src).read_bytes()
    cut = int(len(data) * fraction) // TS_PACKET * TS_PACKET
    dst = Path(dst)
    dst.write_bytes(data[cut:])
    return dst


def make_image_folder(folder: Path | str, *, count: int = 12, width: int = 64, height: int = 48,
                      ext: str = "png", pad: int = 0, source: str = "bbb") -> Path:
    """A folder of numbered images ``0.png, 1.png, ... 11.png`` (unpadded by default, so a plain
    string sort would put 10 before 2; ``pad`` zero-pads the numbers). ``ext`` is png or jpg."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for index, rgb in enumerate(source_frames(source, width, height, count)):
        av.VideoFrame.from_ndarray(rgb, format="rgb24").save(str(folder / f"{index:0{pad}d}.{ext}"))
    return folder


def iter_rgb(path: Path | str) -> Iterator[np.ndarray]:
    """Decode a clip back to RGB24 frames (a reference reader for tests; no rotation applied)."""
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def frames_and_pts(path: Path | str) -> tuple[list[np.ndarray], list[Fraction]]:
    """Decode a video file (it must be playable): RGB24 frames and their exact pts in seconds."""
    frames, pts = [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24"))
            pts.append(frame.pts * frame.time_base)
    return frames, pts


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of one shape (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def make_unsupported_codec_clip(path: Path | str, *, frames: int = 3) -> Path:
    """A Matroska clip whose video codec ID is unknown to FFmpeg (``V_MPEG4/ISO/AVC`` renamed to
    ``V_MPEG4/ISO/XYZ`` in the header): the stream exists but no decoder is found for it."""
    path = Path(path)
    make_clip(path, frames=frames)
    data = path.read_bytes()
    if data.count(b"V_MPEG4/ISO/AVC") != 1:
        raise RuntimeError("expected one Matroska H.264 codec ID to rename")
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_MPEG4/ISO/XYZ"))
    return path
