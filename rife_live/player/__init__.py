"""The live player: ``rife-play INPUT`` in a window, interpolated live (``LiveSession``)."""

from rife_live.player.session import LiveResult, LiveSession, demo_clip

__all__ = ["LiveSession", "LiveResult", "demo_clip"]
