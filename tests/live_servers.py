"""Live test servers on 127.0.0.1: an RTSP server (GStreamer) and a UDP MPEG-TS sender (PyAV).

Each runs in its own process so a test can kill it mid-stream (SIGKILL, as a crash or a cable
pull would) and start it again on the same port:

- ``RtspServer``: GStreamer's gst-rtsp-server run by the system ``/usr/bin/python3`` (python3-gi is
  a Debian package, not in the venv), serving ``rtsp://127.0.0.1:PORT/test``: a live
  ``videotestsrc`` encoded with x264 (zerolatency, a keyframe every second), RTP/H.264, over TCP
  or UDP as the client asks.
- ``UdpTsSender``: the venv's Python with PyAV, encoding libx264 zerolatency frames in real time
  and sending them as MPEG-TS to ``udp://127.0.0.1:PORT?pkt_size=1316``. The pts of each frame is
  the wall clock (``time.time()``) at which it was made, in 1/90000 s modulo ``PTS_WRAP_S``, so a
  receiver can measure send-to-decode latency (``wall_pts_latency``).

Both are context managers (``with RtspServer() as server: ... server.kill(); server.start()``);
``start`` waits (bounded) until the server is ready, ``kill`` ends it at once, ``stop`` ends it
politely. This file is also the servers' entry point: ``python live_servers.py rtsp PORT W H FPS``
(system Python) or ``python live_servers.py udp PORT W H FPS`` (venv Python). It imports neither
PyAV nor GStreamer at module level, so both interpreters can run it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import os
import signal
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
HOST = "127.0.0.1"
READY_LINE = "ready"
READY_TIMEOUT_S = 20.0  # GStreamer's first start scans its plugins (seconds on a cold cache)
STOP_TIMEOUT_S = 5.0
RTSP_PATH = "test"
DEFAULT_WIDTH = 320
DEFAULT_HEIGHT = 240
DEFAULT_FPS = 25
TS_PACKET_SIZE = 1316  # 7 MPEG-TS packets: one UDP datagram under a 1500-byte MTU
PTS_CLOCK = 90000  # MPEG-TS time base
PTS_WRAP_S = 86400  # pts = wall clock modulo one day (MPEG-TS pts wrap after ~26.5 h)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that nothing listens on right now (TCP or UDP)."""
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def rtsp_server_available() -> str | None:
    """None when the RTSP server can run here, else why not (for ``pytest.skip``)."""
    if not os.path.exists(SYSTEM_PYTHON):
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0');"
         "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
         "assert Gst.ElementFactory.find('x264enc') and Gst.ElementFactory.find('rtph264pay')"],
        capture_output=True, timeout=READY_TIMEOUT_S, check=False)
    if probe.returncode != 0:
        return "GStreamer RTSP server or its plugins are not installed (see .ci/apt-packages.txt)"
    return None


def wall_pts_latency(raw_pts_s: Fraction | float, now: float | None = None) -> float:
    """Seconds from sending to ``now`` for a frame whose raw pts (seconds) is ``UdpTsSender``'s
    wall-clock stamp. ``raw_pts_s`` is the frame's pts in the stream's own time (not relative to
    the first frame)."""
    now = time.time() if now is None else now
    return (now - float(raw_pts_s)) % PTS_WRAP_S


class _ServerProcess(ABC):
    """A server subprocess that prints READY_LINE once it serves; killable and restartable."""

    def __init__(self, port: int, width: int, height: int, fps: int) -> None:
        self.port = port
        self.width = width
        self.height = height
        self.fps = fps
        self.starts = 0
        self._process: subprocess.Popen[str] | None = None

    @abstractmethod
    def _command(self) -> list[str]:
        """The server's command line."""

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (again, on the same port) and wait until it serves; RuntimeError if it does not."""
        if self.running:
            raise RuntimeError("server already running")
        process = subprocess.Popen(self._command(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._process = process
        assert process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        line = ""
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline().strip()  # the child prints READY_LINE or exits
            if line == READY_LINE:
                self.starts += 1
                return
        self.kill()
        error = process.stderr.read() if process.stderr is not None else ""
        raise RuntimeError(f"{type(self).__name__} did not start: {line!r} {error.strip()[-400:]}")

    def kill(self) -> None:
        """End the server at once (SIGKILL): clients see the connection or the stream vanish."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    def stop(self) -> None:
        """End the server politely (SIGTERM), killing it if it lingers."""
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()  # it lingers: end it for sure (kill() below reaps it)
        self.kill()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RtspServer(_ServerProcess):
    """gst-rtsp-server on ``rtsp://127.0.0.1:port/test`` (a free port unless given)."""

    def __init__(self, port: int | None = None, *, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                 fps: int = DEFAULT_FPS) -> None:
        super().__init__(port or free_port(), width, height, fps)

    @property
    def url(self) -> str:
        return f"rtsp://{HOST}:{self.port}/{RTSP_PATH}"

    def _command(self) -> list[str]:
        return [SYSTEM_PYTHON, str(Path(__file__).resolve()), "rtsp", str(self.port), str(self.width),
                str(self.height), str(self.fps)]


class UdpTsSender(_ServerProcess):
    """Real-time H.264 in MPEG-TS to ``udp://127.0.0.1:port`` (a free UDP port unless given)."""

    def __init__(self, port: int | None = None, *, width: int = DEFAULT_WIDTH, height: int = DEFAULT_HEIGHT,
                 fps: int = DEFAULT_FPS) -> None:
        super().__init__(port or free_port(socket.SOCK_DGRAM), width, height, fps)

    @property
    def url(self) -> str:
        return f"udp://{HOST}:{self.port}"

    def _command(self) -> list[str]:
        return [sys.executable, str(Path(__file__).resolve()), "udp", str(self.port), str(self.width),
                str(self.height), str(self.fps)]


# --- the server processes -----------------------------------------------------------------------


def _serve_rtsp(port: int, width: int, height: int, fps: int) -> None:
    """Run gst-rtsp-server until killed (system Python with python3-gi)."""
    import gi  # noqa: PLC0415 - only the system Python has it

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer  # noqa: PLC0415

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(HOST)
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={width},height={height},"
        f"framerate={fps}/1 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={fps} "
        f"! rtph264pay name=pay0 pt=96 config-interval=1 )")
    factory.set_shared(True)
    server.get_mount_points().add_factory(f"/{RTSP_PATH}", factory)
    if server.attach(None) == 0:
        raise SystemExit(f"cannot serve RTSP on {HOST}:{port}")
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(READY_LINE, flush=True)
    loop.run()


def _send_udp(port: int, width: int, height: int, fps: int) -> None:
    """Encode and send frames in real time until killed (venv Python with PyAV)."""
    import av  # noqa: PLC0415 - only the venv has it
    import numpy as np  # noqa: PLC0415

    url = f"udp://{HOST}:{port}?pkt_size={TS_PACKET_SIZE}"
    out = av.open(url, "w", format="mpegts", options={"flush_packets": "1"})  # no frame held in the AVIO buffer
    stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "tune": "zerolatency"})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.gop_size = fps  # a keyframe every second: a mid-stream join waits <= 1 s
    stream.time_base = Fraction(1, PTS_CLOCK)
    stream.codec_context.time_base = Fraction(1, PTS_CLOCK)  # wall-clock pts must survive the encoder
    ramp = np.linspace(0, 255, width, dtype=np.uint8)
    picture = np.empty((height, width, 3), np.uint8)
    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    print(READY_LINE, flush=True)
    start = time.monotonic()
    index = 0
    last_pts = -1
    while not stopping[0]:
        due = start + index / fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # real-time pacing: one frame per 1/fps
        picture[:] = np.roll(ramp, index * 4)[None, :, None]
        side = height // 4
        top = (index * 3) % (height - side)
        picture[top:top + side, :side] = 255
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        pts = int((time.time() % PTS_WRAP_S) * PTS_CLOCK)
        frame.pts = max(pts, last_pts + 1)
        last_pts = frame.pts
        frame.time_base = stream.time_base
        for packet in stream.encode(frame):
            out.mux(packet)
        index += 1
    out.close()


def main(argv: list[str]) -> None:
    role, port, width, height, fps = argv[0], *(int(value) for value in argv[1:5])
    if role == "rtsp":
        _serve_rtsp(port, width, height, fps)
    elif role == "udp":
        _send_udp(port, width, height, fps)
    else:
        raise SystemExit(f"unknown server role {role!r} (rtsp or udp)")


if __name__ == "__main__":
    main(sys.argv[1:])
