"""The encoder sink's audio: the source's audio track beside the video, stream-copied or re-encoded.

The encoder sink (``sinks/encoder.py``) opens the source a second time, demuxes only its audio and
hands it to one of these as the video advances (no queue between threads; libavformat interleaves
the two streams): ``AudioCopy`` muxes the source's packets for the output range (the first packet
starting at or after the first frame's pts, the last one whose middle lies before the video's
end); ``AudioTranscode`` decodes, trims to the sample and re-encodes where the container cannot
hold the source codec. Both shift the audio to start at the output's 0.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from rife_live.sinks.base import find_encoder

log = logging.getLogger(__name__)

PREFERRED_SAMPLE_FORMATS = ("fltp", "flt", "s16p", "s16")
FALLBACK_SAMPLE_RATE = 48000
FALLBACK_AUDIO_FRAME = 1024  # samples per encoded frame when the encoder takes any size


def copy_accepted(in_stream: av.AudioStream, fmt: str) -> bool:
    """Whether the ``fmt`` muxer takes ``in_stream``'s packets as they are. Its codec list is not
    enough: FFmpeg's mov muxer lists Opus but refuses it at the header outside MP4 ("Invalid
    argument": every Opus-audio input exported to .mov failed), so a throwaway in-memory file is
    started with the stream first; a refusal means the audio is re-encoded instead."""
    probe = av.open(io.BytesIO(), "w", format=fmt)
    try:
        probe.add_stream_from_template(in_stream)
        probe.start_encoding()
        return True
    except (av.FFmpegError, ValueError):
        return False
    finally:
        try:
            probe.close()
        except av.FFmpegError:
            pass


class AudioCopy:
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


class AudioTranscode:
    """Decodes the source audio, trims it to the sample and re-encodes it for the container."""

    def __init__(
        self,
        source: av.container.InputContainer,
        in_stream: av.AudioStream,
        output: av.container.OutputContainer,
        codec_name: str,
        origin: Fraction,
    ) -> None:
        codec = find_encoder(codec_name, "audio")
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

    def _pull_until(self, time: Fraction) -> int:
        """Decode source audio until it reaches ``time`` (or ends); returns ``time`` in samples."""
        limit = round(time * self._rate)
        while (end := self._buffered_end()) is None or end < limit:
            if not self._pull():
                break
        return limit

    def advance(self, until: Fraction) -> None:
        self._emit(self._pull_until(until), final=False)

    def finish(self, video_end: Fraction) -> None:
        self._emit(self._pull_until(video_end), final=True)
        self._output.mux(self._out.encode(None))
