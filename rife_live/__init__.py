"""rife-live: real-time RIFE frame interpolation (live player and export filter)."""

__version__ = "0.1.0"
