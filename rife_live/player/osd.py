"""The on-screen display: short messages from commands, and the statistics overlay (``i``).

``Osd.lines(now)`` is what goes over the video: the messages not yet expired, then, when the
overlay is on, ``stats_lines`` of a snapshot the session computes at most every
``STATS_REFRESH_S`` (rates are over that window). The session sends the lines to the video output
when they change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

OSD_MESSAGE_S = 2.0  # how long a command's OSD message stays
STATS_REFRESH_S = 0.5  # the stats overlay's update period (and its rate window)

Snapshot = dict[str, object]


def stats_lines(snap: Snapshot) -> list[str]:
    """The stats overlay: rates, interpolated share, misses, scale, ring fill, ms per stage, the
    source's colour."""
    def num(key: str, fmt: str = "{:.1f}") -> str:
        value = snap.get(key)
        return "-" if value is None else fmt.format(value)

    return [
        f"Input {num('input_fps')} fps  Output {num('output_fps')} fps (target {num('target_fps', '{:g}')})",
        f"Interpolated {num('interpolated_pct', '{:.0f}')}% of shown  misses {snap.get('misses', 0)}"
        f"  dropped {snap.get('dropped', 0)}  late {snap.get('late', 0)}",
        f"Scale {num('scale', '{:g}')} ({snap.get('scale_mode', '')})  stride {snap.get('stride', '1')}"
        f"  changes {snap.get('scale_changes', 0)}",
        f"Ring A {snap.get('ring_a', '-')}  Ring B {snap.get('ring_b', '-')}",
        f"Network {num('network_ms')} ms/pass  Synth {num('synth_ms')} ms/frame  Present {num('present_ms')} ms",
        f"Colour {snap.get('color', '-')}",
        f"A/V drift {num('drift_ms', '{:+.0f}')} ms" if snap.get("audio") else "A/V: no audio",
    ]


class Osd:
    """Messages with an expiry time, and the overlay switch (main thread only)."""

    def __init__(self) -> None:
        self.show_stats = False
        self._messages: deque[tuple[float, str]] = deque()
        self._snapshot: Snapshot = {}
        self._snapshot_at: float | None = None

    def message(self, text: str, now: float) -> None:
        """Show ``text`` for ``OSD_MESSAGE_S``."""
        self._messages.append((now + OSD_MESSAGE_S, text))

    def lines(self, now: float, snapshot: Callable[[], Snapshot]) -> tuple[str, ...]:
        """What the OSD shows at ``now``. ``snapshot()`` measures the stats overlay's numbers (rates
        since its previous call); it is called every ``STATS_REFRESH_S`` while the overlay is on."""
        while self._messages and self._messages[0][0] <= now:
            self._messages.popleft()
        lines = [text for _, text in self._messages]
        if self.show_stats:
            if self._snapshot_at is None or now - self._snapshot_at >= STATS_REFRESH_S:
                self._snapshot = snapshot()
                self._snapshot_at = now
            lines += stats_lines(self._snapshot)
        return tuple(lines)
