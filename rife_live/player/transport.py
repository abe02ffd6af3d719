"""The transport of the live player as one explicit state machine: play, pause, frame-step, seek,
loop and the hold at each transition, with no loose flags.

A state is a phase and the user's intent:

- **phase** ``HOLDING`` (the clocks wait for the first frame of ``epoch``: at the start, after a
  seek, a loop or a restart), ``RUNNING``, ``ENDED`` (the input is over and not looping) or
  ``QUIT``;
- **intent** ``PLAY``, ``PAUSE`` or ``STEP`` (show the next frame, then pause: mpv's frame-step).

The clocks run exactly when ``clock_runs``: running and not paused. The session compares that
before and after each transition and starts or stops the video clock and the audio with it. States
are immutable; every transition is a pure function of the state (``tests/test_transport.py``
walks them all).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from fractions import Fraction


class Phase(Enum):
    HOLDING = "holding"
    RUNNING = "running"
    ENDED = "ended"
    QUIT = "quit"


class Intent(Enum):
    PLAY = "play"
    PAUSE = "pause"
    STEP = "step"


@dataclass(frozen=True)
class Transport:
    """Where playback is (see the module text). ``seek_to``: the target of the seek being held for
    (None when the hold is a start, a loop or a restart)."""

    phase: Phase = Phase.HOLDING
    intent: Intent = Intent.PLAY
    epoch: int = 0
    seek_to: Fraction | None = None

    # -- what it means -----------------------------------------------------------------------------
    @property
    def clock_runs(self) -> bool:
        return self.phase is Phase.RUNNING and self.intent is not Intent.PAUSE

    @property
    def holding(self) -> bool:
        return self.phase is Phase.HOLDING

    @property
    def paused(self) -> bool:
        return self.intent is Intent.PAUSE

    @property
    def done(self) -> bool:
        return self.phase in (Phase.ENDED, Phase.QUIT)

    # -- transitions -------------------------------------------------------------------------------
    def hold(self, epoch: int, seek_to: Fraction | None = None) -> Transport:
        """Wait for the first frame of ``epoch`` (a start, seek, loop or restart)."""
        if self.done:
            return self
        if epoch < self.epoch:
            raise ValueError(f"epoch {epoch} is older than {self.epoch}")
        return replace(self, phase=Phase.HOLDING, epoch=epoch, seek_to=seek_to)

    def ready(self) -> Transport:
        """The first frame of the awaited epoch is on screen: run (unless paused)."""
        if self.phase is not Phase.HOLDING:
            return self
        return replace(self, phase=Phase.RUNNING, seek_to=None)

    def set_pause(self, on: bool) -> Transport:
        if self.done:
            return self
        return replace(self, intent=Intent.PAUSE if on else Intent.PLAY)

    def step(self) -> Transport:
        """Show the next frame, then pause."""
        if self.done:
            return self
        return replace(self, intent=Intent.STEP)

    def shown(self) -> Transport:
        """A frame went on screen: a frame-step is complete."""
        if self.intent is Intent.STEP and self.phase is Phase.RUNNING:
            return replace(self, intent=Intent.PAUSE)
        return self

    def end(self) -> Transport:
        """The input is over (and playback does not loop)."""
        return self if self.phase is Phase.QUIT else replace(self, phase=Phase.ENDED, seek_to=None)

    def quit(self) -> Transport:
        return replace(self, phase=Phase.QUIT, seek_to=None)
