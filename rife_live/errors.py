"""User-facing errors: each carries a one-line message that the CLI prints without a traceback."""

from __future__ import annotations


class RifeError(Exception):
    """Base of every error the user should see as one line (``rife-play: error: ...``)."""

    exit_code = 1


class ConfigError(RifeError):
    """A bad flag value, option combination or config-file entry."""

    exit_code = 2


class InputError(RifeError):
    """An input that cannot be opened or decoded: missing, corrupt, unsupported, unreachable."""


class OutputError(RifeError):
    """An output that cannot be written: unwritable path, unsupported container or codec."""


class ModelError(RifeError):
    """Model weights that cannot be fetched, fail their checksum, or do not fit the network."""
