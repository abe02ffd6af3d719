"""rife_live.audio: the audio output (device or null) whose played position is the master clock."""

from __future__ import annotations

from rife_live.audio.output import AudioFifo, AudioOutput, apply_gain, volume_gain

__all__ = ["AudioFifo", "AudioOutput", "apply_gain", "volume_gain"]
