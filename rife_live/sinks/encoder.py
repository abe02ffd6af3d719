"""The encoder sink: output frames into a video file with PyAV, the source's audio beside them.

Container from the file extension (``CONTAINERS``). Video: libx264 yuv420p by default (VP9 for
.webm), tagged and converted as BT.709 limited range. Output frame k is stamped k / rate in a time
base of 1 / rate; mp4 and mov keep that exactly (their timescale is a multiple of that time base's
denominator), Matroska (.mkv, .webm) stores milliseconds, so a reader gets k / rate
rounded to the nearest millisecond there (``round(pts * rate)`` still gives k back).

Odd frame sizes: a chroma-subsampled pix_fmt (yuv420p) needs even sizes, so the frame is padded on
the right/bottom by repeating its last column/row (321x241 is stored as 322x242); no pixel is lost
and the padding looks like the edge, never a black line.

Audio: the sink opens ``spec.audio_from`` a second time, demuxes only its audio and muxes it as the
video advances (no queue between threads; libavformat interleaves the two streams). The audio is
the source range [first frame's pts, + video duration), shifted to start at 0 like the video:
stream-copied when the container accepts the codec (the first packet starting at or after the
first frame's pts; the last one whose middle lies before the video's end), otherwise decoded,
trimmed to the sample and re-encoded (Opus for .webm, AAC for mp4/mov). A copied track ends within
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
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from rife_live import signals
from rife_live.errors import InputError, OutputError
from rife_live.frames import FrameMeta
from rife_live.outputs import PartialFile, check_writable_folder
from rife_live.sinks.base import SinkBase, SinkSpec

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
PREFERRED_SAMPLE_FORMATS = ("fltp", "flt", "s16p", "s16")
FALLBACK_SAMPLE_RATE = 48000
FALLBACK_AUDIO_FRAME = 1024  # samples per encoded frame when the encoder takes any size
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


def _encoder(name: str, kind: str) -> av.Codec:
    try:
        codec = av.Codec(name, "w")
    except (av.codec.codec.UnknownCodecError, ValueError) as e:
        raise OutputError(f"unknown {kind} encoder {name!r} in this FFmpeg build") from e
    if codec.type != kind:
        raise OutputError(f"{name!r} is a {codec.type} encoder, not a {kind} one")
    return codec


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


def resolve_video(spec: SinkSpec, container: av.container.OutputContainer, fmt: str) -> VideoSettings:
    """Pick and validate encoder, pixel format and options; OutputError names what would work."""
    name = spec.vcodec or DEFAULT_VCODEC.get(fmt, DEFAULT_VCODEC_OTHER)
    codec = _encoder(name, "video")
    if codec.canonical_name not in container.supported_codecs:
        usable = ", ".join(_supported_encoders(container)) or "none known"
        raise OutputError(
            f"the {fmt} container cannot hold {codec.canonical_name} video ({name}); use one of: {usable}"
        )
    pix_fmts = [f.name for f in (codec.video_formats or [])]
    if pix_fmts and spec.pix_fmt not in pix_fmts:
        raise OutputError(f"{name} cannot encode pix_fmt {spec.pix_fmt} (it takes {', '.join(pix_fmts)})")
    options = dict(EXTRA_VIDEO_OPTIONS.get(name, {}))
    crf = spec.crf if spec.crf is not None else DEFAULT_CRF.get(name)
    if crf is not None:
        options["crf"] = str(crf)
    if spec.preset is not None:
        options["preset"] = spec.preset
    settings = VideoSettings(name, spec.pix_fmt, options)
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


class _AudioCopy:
    """Stream-copies the source's audio packets for the output range, in step with the video."""

    def __init__(
        self,
        source: av.container.InputContainer,
        in_stream: av.AudioStream,
        output: av.container.OutputContainer,
        origin: Fraction,
    ) -> None:
        self._output = output
        self._out = output.add_stream_from_template(in_stream)
        self._tb = in_stream.time_base
        self._origin = round(origin / self._tb)  # in source ticks
        self._packets: Iterator[av.Packet] = source.demux(in_stream)
        self._held: av.Packet | None = None
        self._done = False

    def _peek(self) -> av.Packet | None:
        while self._held is None and not self._done:
            packet = next(self._packets, None)
            if packet is None:
                self._done = True
            elif packet.pts is not None and packet.pts >= self._origin:
                self._held = packet
        return self._held

    def _mux_held(self) -> None:
        packet = self._held
        self._held = None
        assert packet is not None
        packet.pts -= self._origin
        if packet.dts is not None:
            packet.dts -= self._origin
        packet.stream = self._out
        self._output.mux(packet)

    def advance(self, until: Fraction) -> None:
        """Mux every packet that ends by output time ``until`` (seconds)."""
        limit = self._origin + until / self._tb
        while (p := self._peek()) is not None and p.pts + (p.duration or 0) <= limit:
            self._mux_held()

    def finish(self, video_end: Fraction) -> None:
        """Mux up to the packet boundary nearest the video's end."""
        limit = self._origin + video_end / self._tb
        while (p := self._peek()) is not None and p.pts + Fraction(p.duration or 0, 2) < limit:
            self._mux_held()


class _AudioTranscode:
    """Decodes the source audio, trims it to the sample and re-encodes it for the container."""

    def __init__(
        self,
        source: av.container.InputContainer,
        in_stream: av.AudioStream,
        output: av.container.OutputContainer,
        codec_name: str,
        origin: Fraction,
    ) -> None:
        codec = _encoder(codec_name, "audio")
        in_ctx = in_stream.codec_context
        rates = list(codec.audio_rates or [])
        if not rates or in_ctx.sample_rate in rates:
            rate = in_ctx.sample_rate
        else:
            rate = FALLBACK_SAMPLE_RATE if FALLBACK_SAMPLE_RATE in rates else max(rates)
        formats = [f.name for f in (codec.audio_formats or [])]
        sample_fmt = next((f for f in PREFERRED_SAMPLE_FORMATS if f in formats), formats[0] if formats else "fltp")
        layout = in_ctx.layout.name
        self._output = output
        self._out = output.add_stream(codec_name, rate=rate, layout=layout)
        self._out.codec_context.format = sample_fmt
        self._rate = rate
        self._layout = layout
        self._origin = origin
        self._frames: Iterator[av.AudioFrame] = source.decode(in_stream)
        self._to_planar = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        self._to_encoder = av.AudioResampler(format=sample_fmt, layout=layout, rate=rate)
        self._chunks: list[np.ndarray] = []  # planar float32 (channels, n), in output order
        self._next_index: int | None = None  # output sample index of the first buffered sample
        self._shift: int | None = None  # resampled sample index that is output sample 0
        self._resampled = 0  # samples produced by the resampler so far
        self._exhausted = False
        self._frame_size = FALLBACK_AUDIO_FRAME

    def started(self) -> None:
        """Call once the container has opened the encoder (its frame size is then known)."""
        self._frame_size = self._out.codec_context.frame_size or FALLBACK_AUDIO_FRAME

    def _buffered_end(self) -> int | None:
        if self._next_index is None:
            return None
        return self._next_index + sum(c.shape[1] for c in self._chunks)

    def _pull(self) -> bool:
        """Decode one more source frame into the buffer; False when the source has no more."""
        if self._exhausted:
            return False
        try:
            frame = next(self._frames, None)
        except av.FFmpegError as e:
            log.warning("audio: source audio unreadable after %d samples (%s); the rest is silent", self._resampled, e)
            frame = None
        if frame is None:
            self._exhausted = True
            self._take(self._to_planar.resample(None))
            return False
        if self._shift is None and frame.pts is not None:
            start = frame.pts * frame.time_base
            self._shift = round((self._origin - start) * self._rate)
        self._take(self._to_planar.resample(frame))
        return True

    def _take(self, frames: list[av.AudioFrame]) -> None:
        for f in frames:
            data = f.to_ndarray()
            first = self._resampled
            self._resampled += data.shape[1]
            if self._shift is None:
                continue  # no timestamp to place it by: cannot be aligned, drop it
            out_start = first - self._shift  # output index of data[:, 0]
            if out_start + data.shape[1] <= 0:
                continue
            if out_start < 0:
                data = data[:, -out_start:]
                out_start = 0
            if self._next_index is None:
                self._next_index = out_start
            self._chunks.append(np.ascontiguousarray(data))

    def _emit(self, limit: int, final: bool) -> None:
        """Encode buffered samples below output index ``limit`` in encoder-sized frames."""
        if self._next_index is None:
            return
        if not self._chunks:
            return
        data = np.concatenate(self._chunks, axis=1) if len(self._chunks) > 1 else self._chunks[0]
        usable = max(0, min(data.shape[1], limit - self._next_index))
        step = self._frame_size
        pos = 0
        while usable - pos >= step or (final and usable - pos > 0):
            n = min(step, usable - pos)
            self._encode(np.ascontiguousarray(data[:, pos : pos + n]), self._next_index + pos)
            pos += n
        rest = data[:, pos:] if not final else data[:, :0]
        self._chunks = [rest] if rest.shape[1] else []
        self._next_index += pos

    def _encode(self, planar: np.ndarray, index: int) -> None:
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout=self._layout)
        frame.sample_rate = self._rate
        for converted in self._to_encoder.resample(frame):
            converted.pts = index
            converted.time_base = Fraction(1, self._rate)
            self._output.mux(self._out.encode(converted))

    def advance(self, until: Fraction) -> None:
        limit = round(until * self._rate)
        while (end := self._buffered_end()) is None or end < limit:
            if not self._pull():
                break
        self._emit(limit, final=False)

    def finish(self, video_end: Fraction) -> None:
        limit = round(video_end * self._rate)
        while (end := self._buffered_end()) is None or end < limit:
            if not self._pull():
                break
        self._emit(limit, final=True)
        self._output.mux(self._out.encode(None))


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
        self._audio: _AudioCopy | _AudioTranscode | None = None
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
            source = av.open(name)
        except (av.FFmpegError, OSError) as e:
            raise InputError(f"cannot open {name} for its audio: {e}") from e
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
            self._start_error = OutputError(f"cannot start encoding {self.path.name}: {e}")
            raise self._start_error from e
        self._video = stream
        if isinstance(self._audio, _AudioTranscode):
            self._audio.started()

    def _make_audio(self, source: av.container.InputContainer, origin: Fraction) -> _AudioCopy | _AudioTranscode:
        in_stream = source.streams.audio[0]
        start = in_stream.start_time * in_stream.time_base if in_stream.start_time is not None else Fraction(0)
        if origin > start:
            try:
                source.seek(round(origin / in_stream.time_base), stream=in_stream)
            except av.FFmpegError as e:
                log.warning("audio: cannot seek the source audio (%s); reading it from the start", e)
        source_codec = in_stream.codec_context.codec.canonical_name  # "mp3", not the decoder's "mp3float"
        if source_codec in self._container.supported_codecs:
            return _AudioCopy(source, in_stream, self._container, origin)
        codec = AUDIO_TRANSCODE_CODEC[self._format]
        log.info("audio: re-encoding %s as %s for %s", source_codec, codec, self._format)
        return _AudioTranscode(source, in_stream, self._container, codec, origin)

    def write(self, image: np.ndarray, meta: FrameMeta) -> None:
        if self._closed:
            raise ValueError("write on a closed sink")
        image = self._check_image(image)
        if self._start_error is not None:
            raise self._start_error
        if self._video is None:
            self._start(image.shape[1], image.shape[0], meta.pts)
        assert self._video is not None
        frame = av.VideoFrame.from_ndarray(pad_edges(image, *self._pad), format="rgb24")
        frame = frame.reformat(
            format=self._video.pix_fmt, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG
        )
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
