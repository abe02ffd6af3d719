"""The encoder sink: output frames into a video file with PyAV, the source's audio beside them.

Container from the file extension (``CONTAINERS``). Video: libx264 yuv420p by default (VP9 for
.webm), tagged and converted as BT.709 limited range. Sources deeper than 8 bits or HDR keep their
colour instead (``sinks/colorout.py``: 10-bit HEVC or AV1, the source's tags and HDR10 metadata;
an 8-bit pixel format from an HDR source is tone-mapped to SDR). Output frame k is stamped k / rate
in a time base of 1 / rate; mp4 and mov keep that exactly (their timescale is a multiple of that time base's
denominator), Matroska (.mkv, .webm) stores milliseconds, so a reader gets k / rate
rounded to the nearest millisecond there (``round(pts * rate)`` still gives k back).

Odd frame sizes: a chroma-subsampled pix_fmt (yuv420p) needs even sizes, so the frame is padded on
the right/bottom by repeating its last column/row (321x241 is stored as 322x242); no pixel is lost
and the padding looks like the edge, never a black line.

Audio (``sinks/audio.py``): the sink opens ``spec.audio_from`` a second time and muxes its audio as
the video advances. The audio is the source range [first frame's pts, + video duration), shifted
to start at 0 like the video: stream-copied when the container accepts the codec, otherwise
decoded, trimmed to the sample and re-encoded (Opus for .webm, AAC for mp4/mov). A copied track ends within
half an audio packet of the video (10.7 ms for AAC at 48 kHz: inside one frame up to ~90 fps); a
re-encoded one ends on the video's last sample. The source audio is taken as continuous (gaps
inside it are not re-timed). A slow-motion export (``spec.slowmo``) and a live (URL) input get no
audio, with a one-line notice (logger ``rife_live.sinks.encoder``).

The file is written under a temporary name beside the target (``outputs.PartialFile``).
``close()`` flushes the encoders, writes the trailer and renames the file over the target: after a
normal end or a stop signal (Ctrl+C, SIGTERM, SIGHUP) the target then holds every frame written so
far, playable. ``abort()`` (the run failed) removes the temporary file: an old file at the target
stays as it was. A stop signal is held back while a frame is between the encoder and the muxer and
while the file is finished (``signals.held``), so the count and the file agree; a second signal,
which quits at once, removes the temporary file first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from rife_live import signals
from rife_live.avinput import open_input, reason
from rife_live.errors import InputError, OutputError
from rife_live.frames import FrameMeta
from rife_live.outputs import PartialFile, check_writable_folder
from rife_live.sinks import colorout
from rife_live.sinks.audio import AudioCopy, AudioTranscode, copy_accepted
from rife_live.sinks.base import SinkBase, SinkSpec, find_encoder

log = logging.getLogger(__name__)

CONTAINERS = {".mkv": "matroska", ".mp4": "mp4", ".mov": "mov", ".webm": "webm"}
DEFAULT_VCODEC = {"webm": "libvpx-vp9"}  # every other container: DEFAULT_VCODEC_OTHER
DEFAULT_VCODEC_OTHER = "libx264"
# Constant-quality defaults (a visually lossless export, not an archive).
DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libvpx-vp9": 31, "libaom-av1": 30, "libsvtav1": 30}
# VP9 is in constant-quality mode only with a zero bit rate; row-mt and cpu-used keep it usable.
EXTRA_VIDEO_OPTIONS = {
    "libvpx-vp9": {"b": "0", "row-mt": "1", "cpu-used": "4"},
    "libx265": {"x265-params": "log-level=error"},  # x265 prints its settings by default
}
PROBE_SIZE = 64  # encoder options are checked at open time on a tiny throwaway encoder
# Video encoders offered in error messages, when this FFmpeg has them and the container holds them.
KNOWN_VIDEO_ENCODERS = ("libx264", "libx265", "libvpx-vp9", "libaom-av1", "libsvtav1", "mpeg4", "ffv1")
AUDIO_TRANSCODE_CODEC = {"webm": "libopus", "matroska": "libopus", "mp4": "aac", "mov": "aac"}
URL_MARK = "://"
VIDEO_FRAME_DURATION = 1  # in the video time base 1 / rate
COLOR_TAG_BT709 = 1  # AVCOL_SPC/PRI/TRC_BT709
COLOR_RANGE_LIMITED = 1  # AVCOL_RANGE_MPEG


def container_format(path: Path) -> str:
    """FFmpeg muxer name for an output file, from its extension; OutputError for others."""
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        names = ", ".join(CONTAINERS)
        raise OutputError(f"cannot write {path.name}: unsupported container {path.suffix or '(none)'!r} (use {names})")
    return fmt


def _supported_encoders(container: av.container.OutputContainer) -> list[str]:
    found = []
    for name in KNOWN_VIDEO_ENCODERS:
        try:
            codec = av.Codec(name, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        if codec.canonical_name in container.supported_codecs:
            found.append(name)
    return found


@dataclass(frozen=True)
class VideoSettings:
    """The resolved video encoder settings for one export."""

    codec: str
    pix_fmt: str
    options: dict[str, str]
    color: colorout.OutputColor | None = None  # None: 8-bit frames, BT.709 as always


def resolve_video(spec: SinkSpec, container: av.container.OutputContainer, fmt: str) -> VideoSettings:
    """Pick and validate encoder, pixel format and options; OutputError names what would work."""
    name = spec.vcodec or colorout.default_codec(fmt, spec.color, container,
                                                 DEFAULT_VCODEC.get(fmt, DEFAULT_VCODEC_OTHER), spec.pix_fmt)
    codec = find_encoder(name, "video")
    if codec.canonical_name not in container.supported_codecs:
        usable = ", ".join(_supported_encoders(container)) or "none known"
        raise OutputError(
            f"the {fmt} container cannot hold {codec.canonical_name} video ({name}); use one of: {usable}"
        )
    pix_fmt = spec.pix_fmt or colorout.default_pix_fmt(codec, spec.color)
    pix_fmts = [f.name for f in (codec.video_formats or [])]
    if pix_fmts and pix_fmt not in pix_fmts:
        raise OutputError(f"{name} cannot encode pix_fmt {pix_fmt} (it takes {', '.join(pix_fmts)})")
    options = dict(EXTRA_VIDEO_OPTIONS.get(name, {}))
    crf = spec.crf if spec.crf is not None else DEFAULT_CRF.get(name)
    if crf is not None:
        options["crf"] = str(crf)
    if spec.preset is not None:
        options["preset"] = spec.preset
    color = colorout.plan(spec.color, pix_fmt, spec.tone_mapping)
    if color is not None:
        options = colorout.hdr_options(name, color.tags, options)
    settings = VideoSettings(name, pix_fmt, options, color)
    _probe_encoder(settings, Fraction(spec.rate))
    return settings


def _probe_encoder(settings: VideoSettings, rate: Fraction) -> None:
    """Open the encoder once with these options so a bad preset or option fails at open time."""
    ctx = av.CodecContext.create(settings.codec, "w")
    ctx.width = ctx.height = PROBE_SIZE
    ctx.pix_fmt = settings.pix_fmt
    ctx.time_base = 1 / rate
    ctx.framerate = rate
    ctx.options = dict(settings.options)
    try:
        ctx.open()
    except av.FFmpegError as e:
        shown = " ".join(f"{k}={v}" for k, v in settings.options.items())
        raise OutputError(f"{settings.codec} refuses its options ({shown}): {e.strerror or e}") from e


def even_padding(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """Columns and rows to add (right, bottom) so the chroma planes of ``pix_fmt`` cover whole pixels."""
    fmt = av.VideoFormat(pix_fmt)
    sub_w = 2 if fmt.chroma_width(2) == 1 else 1
    sub_h = 2 if fmt.chroma_height(2) == 1 else 1
    return (-width) % sub_w, (-height) % sub_h


def pad_edges(image: np.ndarray, right: int, bottom: int) -> np.ndarray:
    """Repeat the last column/row of ``image`` (HxWxC) ``right``/``bottom`` times."""
    if right == 0 and bottom == 0:
        return image
    return np.pad(image, ((0, bottom), (0, right), (0, 0)), mode="edge")


class EncoderSink(SinkBase):
    """Encodes frames into a video file (see the module text for the rules it follows)."""

    def __init__(self, spec: SinkSpec) -> None:
        super().__init__()
        assert spec.path is not None
        self.path = Path(spec.path)
        self.rate = Fraction(spec.rate)
        self._spec = spec
        self._format = container_format(self.path)
        if self.path.is_dir():
            raise OutputError(f"cannot write {self.path}: it is a folder")
        check_writable_folder(self.path.parent, str(self.path))  # PyAV opens the file only at the first frame
        self._partial = PartialFile.beside(self.path)
        try:
            self._container = av.open(str(self._partial.path), "w", format=self._format)
        except (av.FFmpegError, OSError) as e:
            self._partial.discard()
            raise OutputError(f"cannot write {self.path}: {getattr(e, 'strerror', None) or e}") from e
        self._forget_abandon = signals.on_abandon(self._partial.discard)
        self._closed = False
        try:
            self._video_settings = resolve_video(spec, self._container, self._format)
            self._audio_source = self._open_audio_source(spec)
        except BaseException:
            self._container.close()
            self._partial.discard()
            self._forget_abandon()
            raise
        self._video: av.VideoStream | None = None
        self._audio: AudioCopy | AudioTranscode | None = None
        self._pad = (0, 0)
        self._pending: list[av.Packet] = []  # encoded, not yet muxed (survives an interrupt)
        self._start_error: OutputError | None = None

    @staticmethod
    def _open_audio_source(spec: SinkSpec) -> av.container.InputContainer | None:
        if spec.audio_from is None:
            return None
        if spec.slowmo:
            log.warning("audio: not exported: a slow-motion export (--fps) changes the timing")
            return None
        name = str(spec.audio_from)
        if URL_MARK in name:
            log.warning("audio: not exported: audio from live inputs is not supported yet")
            return None
        try:
            source = open_input(name)  # lenient metadata, as the source was opened
        except (av.FFmpegError, OSError) as e:
            raise InputError(f"cannot open {name} for its audio: {reason(e)}") from e
        if not source.streams.audio:
            source.close()
            return None
        return source

    def _start(self, width: int, height: int, origin: Fraction) -> None:
        """Add the streams once the first frame tells the size and the time origin."""
        settings = self._video_settings
        self._pad = even_padding(width, height, settings.pix_fmt)
        stream = self._container.add_stream(settings.codec, rate=self.rate, options=settings.options)
        stream.width = width + self._pad[0]
        stream.height = height + self._pad[1]
        stream.pix_fmt = settings.pix_fmt
        stream.time_base = 1 / self.rate
        stream.codec_context.time_base = 1 / self.rate
        ctx = stream.codec_context
        if settings.color is not None:
            settings.color.tag_context(ctx)
        else:
            ctx.colorspace = COLOR_TAG_BT709
            ctx.color_primaries = COLOR_TAG_BT709
            ctx.color_trc = COLOR_TAG_BT709
            ctx.color_range = COLOR_RANGE_LIMITED
        try:
            if self._audio_source is not None:
                self._audio = self._make_audio(self._audio_source, origin)
            self._container.start_encoding()
        except av.FFmpegError as e:
            self._audio = None  # close() then finds nothing started and removes the placeholder
            self._start_error = OutputError(f"cannot start encoding {self.path.name}: {reason(e)}")
            raise self._start_error from e
        self._video = stream
        if isinstance(self._audio, AudioTranscode):
            self._audio.started()

    def _make_audio(self, source: av.container.InputContainer, origin: Fraction) -> AudioCopy | AudioTranscode:
        in_stream = source.streams.audio[0]
        start = in_stream.start_time * in_stream.time_base if in_stream.start_time is not None else Fraction(0)
        if origin > start:
            try:
                source.seek(round(origin / in_stream.time_base), stream=in_stream)
            except av.FFmpegError as e:
                log.warning("audio: cannot seek the source audio (%s); reading it from the start", e)
        source_codec = in_stream.codec_context.codec.canonical_name  # "mp3", not the decoder's "mp3float"
        if source_codec in self._container.supported_codecs and copy_accepted(in_stream, self._format):
            return AudioCopy(source, in_stream, self._container, origin)
        codec = AUDIO_TRANSCODE_CODEC[self._format]
        log.info("audio: re-encoding %s as %s for %s", source_codec, codec, self._format)
        return AudioTranscode(source, in_stream, self._container, codec, origin)

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        if self._closed:
            raise ValueError("write on a closed sink")
        color = self._video_settings.color
        image = self._check_image(image, (np.uint8,) if color is None else (np.uint8, np.uint16))
        if self._start_error is not None:
            raise self._start_error
        if self._video is None:
            self._start(image.shape[1], image.shape[0], meta.pts)
        assert self._video is not None
        if color is None:
            frame = av.VideoFrame.from_ndarray(pad_edges(image, *self._pad), format="rgb24")
            frame = frame.reformat(
                format=self._video.pix_fmt, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
            )
        else:
            frame = self._deep_frame(image, color)
        frame.pts = self._count
        frame.time_base = 1 / self.rate
        frame.duration = VIDEO_FRAME_DURATION
        try:
            with signals.held():
                self._pending = self._video.encode(frame)
                self._count += 1
                self._mux_pending()
                if self._audio is not None:
                    self._audio.advance(self._count / self.rate)
        except av.FFmpegError as e:
            raise OutputError(f"cannot write {self.path.name}: {e}") from e

    def _deep_frame(self, image: np.ndarray, color: colorout.OutputColor) -> av.VideoFrame:
        """A frame of a deep or HDR source, converted as ``color`` says, tagged like the stream."""
        assert self._video is not None
        pixels, rgb_format = color.frame(image)
        frame = av.VideoFrame.from_ndarray(pad_edges(pixels, *self._pad), format=rgb_format)
        frame = frame.reformat(format=self._video.pix_fmt, dst_colorspace=color.sws_matrix,
                               dst_color_range=ColorRange.JPEG if color.tags.full_range else ColorRange.MPEG)
        color.tag_context(frame)
        return frame

    def _mux_pending(self) -> None:
        while self._pending:
            self._container.mux(self._pending[0])
            self._pending.pop(0)

    def close(self) -> None:
        """Flush the encoders, write the trailer and put the file at its target; a file with no
        frame is not kept. A stop signal during close is held back until the file is complete."""
        if self._closed:
            return
        self._closed = True
        with signals.held():
            failure = self._finalize()
            if failure is None and self._video is not None:
                self._partial.commit()
            else:
                self._partial.discard()
        self._forget_abandon()
        if failure is not None:
            raise OutputError(f"cannot finish {self.path.name}: {failure}") from failure

    def abort(self) -> None:
        """Close the container and remove the temporary file: nothing new is kept."""
        if self._closed:
            return
        self._closed = True
        with signals.held():
            self._finalize()
            self._partial.discard()
        self._forget_abandon()

    def _finalize(self) -> av.FFmpegError | None:
        failure: av.FFmpegError | None = None
        try:
            if self._video is not None:
                self._mux_pending()
                self._pending = self._video.encode(None)
                self._mux_pending()
                if self._audio is not None:
                    self._audio.finish(self._count / self.rate)
        except av.FFmpegError as e:
            failure = e
        finally:
            try:
                self._container.close()
            except av.FFmpegError as e:
                failure = failure or e
            if self._audio_source is not None:
                self._audio_source.close()
        return failure
